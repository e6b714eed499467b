// Canopy's own workloads, each measured through the real server.
import { readFileSync } from "node:fs";
import { linearDefinition, pollLatencies, round, step, waitAll } from "./lib.mjs";

/** A linear job of `steps` no-op steps: wall time from submission to SUCCEEDED, and per step. */
export async function linear(t, steps = 1000) {
  const wf = await t.deploy(linearDefinition(`linear-${steps}`, steps));
  const t0 = performance.now();
  const jobId = await t.submit(wf, { hello: "world" });
  const job = await t.waitJob(jobId);
  const wallMs = performance.now() - t0;
  if (job.status !== "SUCCEEDED") throw new Error(`linear job ${job.status}`);
  const engineMs = Date.parse(job.finishedAt) - Date.parse(job.startedAt);
  return { steps, wallMs: round(wallMs, 1), perStepMs: round(wallMs / steps), engineMs, enginePerStepMs: round(engineMs / steps) };
}

/**
 * ~`bytes` bytes of deterministic, not-repeating text for item `i` (a pseudo-random letter sequence), so that a big
 * fan-out's items are distinct values of the size asked for.
 */
export function itemData(i, bytes) {
  let x = (i + 1) * 2654435761;
  let s = "";
  while (s.length < bytes) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    s += (x >>> 8).toString(36);
  }
  return s.slice(0, bytes);
}

const succeededChildren = { workflowName: "bench-child", status: "SUCCEEDED", jobHierarchy: "CHILD_JOBS_ONLY" };

/**
 * A parent fanning out to `children` one-step no-op children (runChildJob forEach over `workflowInput.items`) and
 * collecting them. Each item is the child's input: `{ i }`, or `{ i, data }` with `itemBytes` bytes of text when
 * `itemBytes` > 0. Waits at most `timeoutMs`, then fails with a message saying so (and how far it got).
 * Afterwards (not timed) it reads the parent's `GET …/jobs/{id}/state/metadata`.
 */
export async function fanOut(t, children = 1000, { itemBytes = 0, timeoutMs = 600_000 } = {}) {
  await t.deploy({
    workflowName: "bench-child",
    steps: [step("only", "/justworkflowit/noop")],
    // An object input: `{ i }`, or `{ i, data }` with ~3 KB of text in the big fan-out.
    definitions: { workflowInput: { type: "object" }, any: {} },
  });
  const parentName = `bench-parent-${children}${itemBytes ? `-${itemBytes}b` : ""}`;
  const parent = await t.deploy({
    workflowName: parentName,
    steps: [
      step("fan", "/justworkflowit/runChildJob", {
        config: { children: [{ workflowName: "bench-child", workflowVersion: { tag: "$LIVE" }, forEach: { arrayPath: "workflowInput.items" } }] },
      }),
    ],
    definitions: { workflowInput: { type: "object" }, any: {} },
  });
  const items = Array.from({ length: children }, (_, i) => (itemBytes ? { i, data: itemData(i, itemBytes) } : { i }));
  const inputBytes = Buffer.byteLength(JSON.stringify({ items }));
  // Children the jobs list shows as SUCCEEDED already (the warm-up's), to say how far a capped run got.
  const childrenBefore = await t.countJobs(succeededChildren).catch(() => undefined);
  const t0 = performance.now();
  const jobId = await t.submit(parent, { items });
  let job;
  const polls = {};
  try {
    job = await t.waitJob(jobId, timeoutMs, polls);
  } catch (e) {
    if (!e.timedOut) throw e;
    // How far it got, for the report: the children the jobs list (the D1 index) shows as SUCCEEDED by now.
    const after = await t.countJobs(succeededChildren).catch(() => undefined);
    const done = after !== undefined && childrenBefore !== undefined ? after - childrenBefore : undefined;
    const err = new Error(
      `fan-out to ${children} children: the parent was still ${e.lastStatus} after ${round(timeoutMs / 60_000, 1)} minutes (the cap); ` +
        `${done ?? "an unknown number of"} children listed as SUCCEEDED by then; the slowest status GET took ${round(e.slowestGetMs / 1000, 1)} s`,
    );
    err.timedOut = true;
    err.result = { children, itemBytes, inputBytes, capMs: timeoutMs, lastStatus: e.lastStatus, childrenSucceededAtCap: done ?? null, slowestStatusGetMs: e.slowestGetMs };
    throw err;
  }
  const wallMs = performance.now() - t0;
  if (job.status !== "SUCCEEDED") throw new Error(`fan-out job ${job.status}: ${JSON.stringify(job.error)}`);
  if (job.billableTransactionUnits !== children + 1) throw new Error(`units ${job.billableTransactionUnits}`);
  const m0 = performance.now();
  // Not part of the workload's result: if it cannot be read, that is said and the time still counts.
  const meta = await t.api.get(`${t.orgPath}/jobs/${jobId}/state/metadata`, { timeoutMs: 240_000 }).catch((e) => ({ error: String(e?.message ?? e).slice(0, 300) }));
  const metadataMs = performance.now() - m0;
  return {
    children,
    ...(itemBytes ? { itemBytes } : {}),
    inputBytes,
    wallMs: round(wallMs, 1),
    perChildMs: round(wallMs / children),
    slowestStatusGetMs: polls.slowestGetMs,
    parentStateMetadata: {
      ...(meta.error ? { error: meta.error } : {}),
      contentLengthBytes: meta.contentLengthBytes,
      storageBytes: meta.storageBytes,
      historyItems: meta.historyItems,
      runNumber: meta.runNumber,
      requestMs: round(metadataMs, 1),
    },
  };
}

/** `n` concurrent submissions of a one-step job: accepted per second, and time until all have finished. */
export async function submissions(t, n = 200) {
  const wf = await t.deploy({
    workflowName: `bench-submit-${n}`,
    steps: [step("only", "/justworkflowit/noop")],
    definitions: { workflowInput: { type: "object" }, any: {} },
  });
  const t0 = performance.now();
  const ids = await Promise.all(Array.from({ length: n }, (_, i) => t.submit(wf, { i })));
  const acceptMs = performance.now() - t0;
  const jobs = await waitAll(ids, (id) => t.finishedJob(id));
  const allDoneMs = performance.now() - t0;
  const failed = jobs.filter((j) => j.status !== "SUCCEEDED").length;
  if (failed) throw new Error(`${failed} of ${n} jobs did not succeed`);
  return {
    submissions: n,
    acceptMs: round(acceptMs, 1),
    acceptedPerSecond: round((n / acceptMs) * 1000, 1),
    allDoneMs: round(allDoneMs, 1),
    firstStepIdle: await firstStepLatency(t, wf),
  };
}

/**
 * On the idle server (after the concurrent run is done): `n` submissions one at a time, each the
 * time from just before its POST to its first step's start as its history records it (same
 * machine, same clock). The client only watches ListJobs (which starts nothing) until the job is
 * done, so a read of the job cannot start it sooner than the engine would.
 */
async function firstStepLatency(t, wf, n = 50) {
  const ms = [];
  for (let i = 0; i < n; i++) {
    const sentAt = Date.now();
    const jobId = await t.submit(wf, { i });
    for (let tries = 0; ; tries++) {
      const { jobs } = await t.api.get(`${t.orgPath}/jobs?jobIdPrefix=${jobId}&status=SUCCEEDED`);
      if (jobs.length === 1) break;
      if (tries > 2000) throw new Error(`job ${jobId} did not finish`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const { state } = await t.api.get(`${t.orgPath}/jobs/${jobId}/state`);
    ms.push(Date.parse(state.executionHistory[0].startTimestamp) - sentAt);
  }
  ms.sort((a, b) => a - b);
  const at = (q) => ms[Math.min(ms.length - 1, Math.ceil(q * ms.length) - 1)];
  return { submissions: n, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: ms[ms.length - 1] };
}

/** One `POST …/jobs/batch` of `n` one-step jobs: accepted per second, and the time until the index shows all done. */
export async function batch(t, n = 1000) {
  const wf = await t.deploy({
    workflowName: `bench-batch-${n}`,
    steps: [step("only", "/justworkflowit/noop")],
    definitions: { workflowInput: { type: "object" }, any: {} },
  });
  const submissions = Array.from({ length: n }, (_, i) => ({ workflowId: wf, workflowVersion: { tag: "$LIVE" }, inputJson: { i } }));
  const before = await t.countJobs({ workflowName: `bench-batch-${n}`, status: "SUCCEEDED" });
  const t0 = performance.now();
  const { results } = await t.api.post(`${t.orgPath}/jobs/batch`, { jobs: submissions });
  const acceptMs = performance.now() - t0;
  const refused = results.filter((r) => !r.jobId);
  if (refused.length) throw new Error(`${refused.length} of ${n} batch items were refused: ${JSON.stringify(refused[0])}`);
  // Done is judged on the jobs list (one read) rather than by polling a thousand jobs.
  for (;;) {
    const done = (await t.countJobs({ workflowName: `bench-batch-${n}`, status: "SUCCEEDED" })) - before;
    if (done >= n) break;
    if (performance.now() - t0 > 600_000) throw new Error(`only ${done} of ${n} batch jobs finished within 10 min`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const allDoneMs = performance.now() - t0;
  return { jobs: n, acceptMs: round(acceptMs, 1), acceptedPerSecond: round((n / acceptMs) * 1000, 1), allDoneMs: round(allDoneMs, 1) };
}

/** `pollers` clients each reading one finished job with GetJob over and over for `durationMs`. */
export async function pollers(t, pollers = 200, durationMs = 5000) {
  const wf = await t.deploy({
    workflowName: "bench-poll",
    steps: [step("only", "/justworkflowit/noop")],
    definitions: { workflowInput: { type: "object" }, any: {} },
  });
  const ids = await Promise.all(Array.from({ length: pollers }, (_, i) => t.submit(wf, { i })));
  await waitAll(ids, (id) => t.finishedJob(id));
  return pollLatencies((i) => t.api.get(`${t.orgPath}/jobs/${ids[i]}`), pollers, durationMs);
}

/**
 * The countdown example looping `iterations` times: the job continues as new whenever a run's history
 * reaches its bound. Total time, cost per iteration, runs, and the largest storage any one run held.
 */
export async function loop(t, iterations = 25_000) {
  const countdown = JSON.parse(readFileSync(new URL("../examples/countdown.json", import.meta.url), "utf8"));
  const wf = await t.deploy(countdown);
  const t0 = performance.now();
  const jobId = await t.submit(wf, { n: iterations });
  const job = await t.waitJob(jobId);
  const wallMs = performance.now() - t0;
  if (job.status !== "SUCCEEDED") throw new Error(`loop job ${job.status}: ${JSON.stringify(job.error)}`);
  const runs = [];
  for (let run = 1; run <= job.runNumber; run++) {
    runs.push(await t.api.get(`${t.orgPath}/jobs/${jobId}/state/metadata?runNumber=${run}`));
  }
  return {
    iterations,
    wallMs: round(wallMs, 1),
    perIterationMs: round(wallMs / iterations, 4),
    runNumber: job.runNumber,
    maxHistoryItemsPerRun: Math.max(...runs.map((r) => r.historyItems)),
    peakStorageBytesPerRun: Math.max(...runs.map((r) => r.storageBytes)),
    runs: runs.map((r) => ({ runNumber: r.runNumber, historyItems: r.historyItems, storageBytes: r.storageBytes })),
  };
}
