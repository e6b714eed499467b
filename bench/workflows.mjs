// The same workloads as bench/canopy.mjs, on Cloudflare Workflows (bench/workflows, run by `wrangler dev`).
// "Done" is the same on both sides: the client polls (every 20 ms; for many instances, 8 requests in flight, see
// waitAll in lib.mjs) until the instance's status is terminal. For the single long runs (linear, fan-out) the
// polling starts when the run reports its end to the client (see notify() in workflows/src/index.ts): a request
// left waiting on a busy workerd for ~5 s makes wrangler 4.124's dev server exit.
import { createServer } from "node:http";
import { client, pollLatencies, round, sleep, waitAll } from "./lib.mjs";

const TERMINAL = ["complete", "errored", "terminated"];

/**
 * The client, and a small HTTP server on 127.0.0.1 to which a run reports its end (notify() in
 * workflows/src/index.ts). Call close() when done.
 */
export async function workflowsClient(peer) {
  const api = client(peer.baseUrl, "unused");
  const waiting = new Map();
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      waiting.get(req.url)?.();
      waiting.delete(req.url);
      res.end("ok");
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  let next = 0;
  return {
    api,
    close: () => new Promise((r) => server.close(r)),
    /** A URL to hand to a run, and a promise that resolves when the run has called it. */
    notification() {
      const path = `/done/${++next}`;
      const done = new Promise((r) => waiting.set(path, r));
      return { url: `http://127.0.0.1:${server.address().port}${path}`, done };
    },
    /** The instance's status if it is terminal, else null. */
    async finishedInstance(wf, id) {
      const s = await api.get(`/status?wf=${wf}&id=${encodeURIComponent(id)}`);
      return TERMINAL.includes(s.status) ? s : null;
    },
    async waitInstance(wf, id, timeoutMs = 600_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const s = await this.finishedInstance(wf, id);
        if (s) return s;
        await sleep(20);
      }
      throw new Error(`${wf} instance ${id} did not finish`);
    },
  };
}

/** A LinearWorkflow of `steps` sequential no-op step.do calls: wall time from create to complete. */
export async function linear(w, steps = 1000) {
  const note = w.notification();
  const t0 = performance.now();
  const { id } = await w.api.post("/linear", { steps, notifyUrl: note.url });
  await note.done;
  const s = await w.waitInstance("linear", id);
  const wallMs = performance.now() - t0;
  if (s.status !== "complete") throw new Error(`linear instance ${s.status}: ${JSON.stringify(s.error)}`);
  const engineMs = s.output.finishedAt - s.output.createdAt;
  return { steps, wallMs: round(wallMs, 1), perStepMs: round(wallMs / steps), engineMs, enginePerStepMs: round(engineMs / steps) };
}

/** A ParentWorkflow starting `children` ChildWorkflows (createBatch) and collecting one sendEvent from each. */
export async function fanOut(w, children = 300) {
  const note = w.notification();
  const t0 = performance.now();
  const { id } = await w.api.post("/fanout", { children, notifyUrl: note.url });
  await note.done;
  const s = await w.waitInstance("parent", id);
  const wallMs = performance.now() - t0;
  if (s.status !== "complete") throw new Error(`fan-out instance ${s.status}: ${JSON.stringify(s.error)}`);
  if (s.output.collected !== children) throw new Error(`collected ${s.output.collected} of ${children}`);
  const engineMs = s.output.finishedAt - s.output.createdAt;
  return { children, wallMs: round(wallMs, 1), perChildMs: round(wallMs / children), engineMs };
}

/** `n` concurrent creates of a one-step LinearWorkflow: accepted per second, and time until all are complete. */
export async function submissions(w, n = 200) {
  const t0 = performance.now();
  const ids = await Promise.all(Array.from({ length: n }, () => w.api.post("/linear", { steps: 1 }).then((r) => r.id)));
  const acceptMs = performance.now() - t0;
  const done = await waitAll(ids, (id) => w.finishedInstance("linear", id));
  const allDoneMs = performance.now() - t0;
  const failed = done.filter((s) => s.status !== "complete").length;
  if (failed) throw new Error(`${failed} of ${n} instances did not complete`);
  return { submissions: n, acceptMs: round(acceptMs, 1), acceptedPerSecond: round((n / acceptMs) * 1000, 1), allDoneMs: round(allDoneMs, 1) };
}

/** `n` instances through createBatch (100 per call, the platform's limit), in one request to the Worker. */
export async function batch(w, n = 1000) {
  const t0 = performance.now();
  const { ids } = await w.api.post("/linear/batch", { count: n, steps: 1 });
  const acceptMs = performance.now() - t0;
  const done = await waitAll(ids, (id) => w.finishedInstance("linear", id));
  const allDoneMs = performance.now() - t0;
  const failed = done.filter((s) => s.status !== "complete").length;
  if (failed) throw new Error(`${failed} of ${n} instances did not complete`);
  return { jobs: n, acceptMs: round(acceptMs, 1), acceptedPerSecond: round((n / acceptMs) * 1000, 1), allDoneMs: round(allDoneMs, 1) };
}

/** `pollers` clients each reading one finished instance's status over and over for `durationMs`. */
export async function pollers(w, pollers = 200, durationMs = 5000) {
  const ids = await Promise.all(Array.from({ length: pollers }, () => w.api.post("/linear", { steps: 1 }).then((r) => r.id)));
  await waitAll(ids, (id) => w.finishedInstance("linear", id));
  return pollLatencies((i) => w.api.get(`/status?wf=linear&id=${encodeURIComponent(ids[i])}`), pollers, durationMs);
}
