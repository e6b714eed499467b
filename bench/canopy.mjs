// Canopy's own workloads, each measured through the real server.
import { readFileSync } from "node:fs";
import { linearDefinition, round, step, waitAll } from "./lib.mjs";

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

/** A parent fanning out to `children` one-step children (runChildJob forEach) and collecting them. */
export async function fanOut(t, children = 1000) {
  await t.deploy({
    workflowName: "bench-child",
    steps: [step("only", "/justworkflowit/noop")],
    definitions: { workflowInput: { type: "object" }, any: {} },
  });
  const parent = await t.deploy({
    workflowName: `bench-parent-${children}`,
    steps: [
      step("fan", "/justworkflowit/runChildJob", {
        config: { children: [{ workflowName: "bench-child", workflowVersion: { tag: "$LIVE" }, forEach: { arrayPath: "workflowInput.items" } }] },
      }),
    ],
    definitions: { workflowInput: { type: "object" }, any: {} },
  });
  const items = Array.from({ length: children }, (_, i) => ({ i }));
  const t0 = performance.now();
  const jobId = await t.submit(parent, { items });
  const job = await t.waitJob(jobId);
  const wallMs = performance.now() - t0;
  if (job.status !== "SUCCEEDED") throw new Error(`fan-out job ${job.status}: ${JSON.stringify(job.error)}`);
  if (job.billableTransactionUnits !== children + 1) throw new Error(`units ${job.billableTransactionUnits}`);
  return { children, wallMs: round(wallMs, 1), perChildMs: round(wallMs / children) };
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
  return { submissions: n, acceptMs: round(acceptMs, 1), acceptedPerSecond: round((n / acceptMs) * 1000, 1), allDoneMs: round(allDoneMs, 1) };
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
