// Shared benchmark plumbing: start a real `npm start` on a free port, a tiny API client, timing.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "..");
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** GETs repeated after wrangler dev dropped the connection (see client()); reported with the results. */
export const retried = { gets: 0 };

export async function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

/** Starts the engine with `npm start` and returns {baseUrl, adminToken, stop}. */
export async function startEngine(extraEnv = {}) {
  const port = await freePort();
  const stateDir = mkdtempSync(join(tmpdir(), "canopy-bench-"));
  const adminToken = "bench-" + Math.random().toString(36).slice(2);
  const proc = spawn("npm", ["start"], {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      PORT: String(port),
      STATE_DIR: stateDir,
      ADMIN_TOKEN: adminToken,
      SECRETS_KEY: Buffer.alloc(32, 7).toString("base64"),
      ...extraEnv,
    },
  });
  let logs = "";
  proc.stdout.on("data", (c) => (logs = (logs + c).slice(-5_000_000)));
  proc.stderr.on("data", (c) => (logs = (logs + c).slice(-5_000_000)));
  const baseUrl = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(`${baseUrl}/healthz`)).ok) break;
    } catch {}
    if (proc.exitCode !== null) throw new Error("npm start exited:\n" + logs);
    await sleep(200);
  }
  const stop = async () => {
    try {
      process.kill(-proc.pid, "SIGKILL");
    } catch {}
    await sleep(300);
    rmSync(stateDir, { recursive: true, force: true });
  };
  const alive = () => proc.exitCode === null && proc.signalCode === null;
  return { baseUrl, adminToken, stateDir, stop, alive, logs: () => logs };
}

/**
 * Starts the Cloudflare Workflows peer (bench/workflows) with the project's own `wrangler dev`, offline, in its own
 * process group and on a temporary --persist-to. Returns {baseUrl, stop, alive, logs}.
 */
export async function startWorkflows() {
  const port = await freePort();
  const stateDir = mkdtempSync(join(tmpdir(), "canopy-bench-workflows-"));
  const bin = resolve(ROOT, "node_modules/.bin");
  const proc = spawn(
    resolve(bin, "wrangler"),
    ["dev", "--config", "bench/workflows/wrangler.toml", "--port", String(port), "--ip", "127.0.0.1", "--persist-to", stateDir, "--show-interactive-dev-session=false"],
    {
      cwd: ROOT,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      // node_modules/.bin first: wrangler needs the project's Node 22 even when run.mjs is started by another node.
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, WRANGLER_SEND_METRICS: "false" },
    },
  );
  let logs = "";
  proc.stdout.on("data", (c) => (logs = (logs + c).slice(-1_000_000)));
  proc.stderr.on("data", (c) => (logs = (logs + c).slice(-1_000_000)));
  const baseUrl = `http://127.0.0.1:${port}`;
  let ready = false;
  for (let i = 0; i < 600 && !ready; i++) {
    try {
      ready = (await fetch(`${baseUrl}/healthz`)).ok;
    } catch {}
    if (proc.exitCode !== null) throw new Error("wrangler dev (workflows) exited:\n" + logs);
    if (!ready) await sleep(200);
  }
  if (!ready) throw new Error("wrangler dev (workflows) did not become ready:\n" + logs);
  const stop = async () => {
    try {
      process.kill(-proc.pid, "SIGKILL");
    } catch {}
    await sleep(300);
    rmSync(stateDir, { recursive: true, force: true });
  };
  const alive = () => proc.exitCode === null && proc.signalCode === null;
  return { baseUrl, stop, alive, logs: () => logs };
}

/** A minimal JSON client. */
export function client(baseUrl, token) {
  const call = async (method, path, body, attempt = 0, { timeoutMs } = {}) => {
    const res = await fetch(baseUrl + path, {
      method,
      ...(timeoutMs !== undefined ? { signal: AbortSignal.timeout(timeoutMs) } : {}),
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    // Under many concurrent connections wrangler dev's entry worker sometimes drops one ("Network connection
    // lost", a 500 the Worker never saw). A GET is safe to repeat; anything else is reported as is.
    if (method === "GET" && res.status >= 500 && /Network connection lost/.test(text) && attempt < 5) {
      retried.gets++;
      await sleep(50 * (attempt + 1));
      return call(method, path, body, attempt + 1, { timeoutMs });
    }
    if (!res.ok) throw new Error(`${method} ${path} -> ${res.status} ${text.slice(0, 500)}`);
    return text ? JSON.parse(text) : undefined;
  };
  /** `get(path, {timeoutMs})` gives up after timeoutMs with a TimeoutError (a DOMException). */
  return { get: (p, opts) => call("GET", p, undefined, 0, opts), post: (p, b) => call("POST", p, b ?? {}), put: (p, b) => call("PUT", p, b ?? {}) };
}

/** An organization with a token, and helpers to deploy and run workflows in it. */
export async function tenant(engine) {
  const admin = client(engine.baseUrl, engine.adminToken);
  const key = "bench-" + Math.random().toString(36).slice(2, 10);
  const org = await admin.post("/organizations", { name: key, key, displayName: key });
  const tok = await admin.post(`/organizations/${org.organizationId}/api-auth-tokens`, { name: "bench" });
  const api = client(engine.baseUrl, tok.token);
  const orgPath = `/organizations/${org.organizationId}`;
  return {
    api,
    orgPath,
    /** The engine's STATE_DIR: the storage workload reads its SQLite files. */
    stateDir: engine.stateDir,
    async deploy(definition) {
      const { workflows } = await api.get(`${orgPath}/workflows`);
      const workflowId =
        workflows.find((w) => w.name === definition.workflowName)?.workflowId ??
        (await api.post(`${orgPath}/workflows`, { name: definition.workflowName })).workflowId;
      const v = await api.post(`${orgPath}/workflows/${workflowId}/versions`, { definition: JSON.stringify(definition) });
      await api.put(`${orgPath}/workflows/${workflowId}/tags/$LIVE`, { versionId: v.versionId });
      return workflowId;
    },
    async submit(workflowId, input) {
      return (await api.post(`${orgPath}/jobs`, { workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: input })).jobId;
    },
    /** The job if it has finished, else null. */
    async finishedJob(jobId) {
      const { job } = await api.get(`${orgPath}/jobs/${jobId}`);
      return ["SUCCEEDED", "FAILED", "CANCELLED"].includes(job.status) ? job : null;
    },
    /**
     * Polls every 20 ms until the job is terminal; after `timeoutMs`, throws an error with `timedOut`,
     * `lastStatus` and `slowestGetMs`. A busy Durable Object can hold a status GET for minutes, so each GET
     * is bounded by the time left (and by 240 s, under undici's 300 s headers timeout) and then simply repeated.
     * `stats.slowestGetMs` tells the longest a status GET took.
     */
    async waitJob(jobId, timeoutMs = 600_000, stats = {}) {
      const deadline = Date.now() + timeoutMs;
      let lastStatus = "unknown";
      let slowestGetMs = 0;
      while (Date.now() < deadline) {
        const t0 = Date.now();
        let job;
        try {
          ({ job } = await api.get(`${orgPath}/jobs/${jobId}`, { timeoutMs: Math.max(1, Math.min(deadline - Date.now(), 240_000)) }));
        } catch (e) {
          if (e?.name !== "TimeoutError") throw e;
        }
        slowestGetMs = stats.slowestGetMs = Math.max(slowestGetMs, Date.now() - t0);
        if (job) {
          lastStatus = job.status;
          if (["SUCCEEDED", "FAILED", "CANCELLED"].includes(job.status)) return job;
        }
        await sleep(20);
      }
      const e = new Error(`job ${jobId} did not finish within ${round(timeoutMs / 1000)} s (last status ${lastStatus})`);
      e.timedOut = true;
      e.lastStatus = lastStatus;
      e.slowestGetMs = slowestGetMs;
      throw e;
    },
    /** ListJobs' totalCount for the given filters (the D1 index). */
    async countJobs(query) {
      const qs = new URLSearchParams({ ...query, pageSize: "1" }).toString();
      return (await api.get(`${orgPath}/jobs?${qs}`)).totalCount;
    },
  };
}

export function step(name, type, extra = {}, transitionToStep = null) {
  const { config, input = "any", output = "any", ...rest } = extra;
  return {
    name,
    ...rest,
    integrationDetails: {
      type,
      ...(config !== undefined ? { config } : {}),
      inputDefinition: { $ref: `#/definitions/${input}` },
      outputDefinition: { $ref: `#/definitions/${output}` },
    },
    transitionToStep,
  };
}

export function linearDefinition(name, steps) {
  return {
    workflowName: name,
    steps: Array.from({ length: steps }, (_, i) =>
      step(`s${i}`, "/justworkflowit/noop", {}, i + 1 < steps ? `s${i + 1}` : null),
    ),
    definitions: { workflowInput: { type: "object" }, any: {} },
  };
}

export const round = (x, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

/**
 * Waits until every id is finished, polling with at most `concurrency` requests in flight (the same for both
 * engines), in rounds with a 20 ms pause between them. `finished(id)` returns a result or null.
 * Returns the results in the order of `ids`.
 */
export async function waitAll(ids, finished, { concurrency = 8, timeoutMs = 600_000 } = {}) {
  const results = new Map();
  const deadline = Date.now() + timeoutMs;
  while (results.size < ids.length) {
    if (Date.now() > deadline) throw new Error(`${ids.length - results.size} of ${ids.length} did not finish`);
    const pending = ids.filter((id) => !results.has(id));
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(concurrency, pending.length) }, async () => {
        while (next < pending.length) {
          const id = pending[next++];
          const r = await finished(id);
          if (r !== null) results.set(id, r);
        }
      }),
    );
    if (results.size < ids.length) await sleep(20);
  }
  return ids.map((id) => results.get(id));
}

/**
 * `pollers` concurrent loops, each calling `get(i)` back to back for `durationMs`: every call's latency,
 * summarised as p50, p99 and max, and the reads per second they add up to.
 */
export async function pollLatencies(get, pollers, durationMs) {
  const latencies = [];
  const until = performance.now() + durationMs;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: pollers }, async (_, i) => {
      while (performance.now() < until) {
        const s = performance.now();
        await get(i);
        latencies.push(performance.now() - s);
      }
    }),
  );
  const wallMs = performance.now() - t0;
  latencies.sort((a, b) => a - b);
  const at = (q) => round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))], 1);
  return { pollers, reads: latencies.length, readsPerSecond: round((latencies.length / wallMs) * 1000, 1), p50Ms: at(0.5), p99Ms: at(0.99), maxMs: round(latencies.at(-1), 1) };
}
