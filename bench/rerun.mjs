#!/usr/bin/env node
// Time travel on a real `npm start` (Canopy only; not part of `npm run bench`):
//   node bench/rerun.mjs [jobs]          (default 1000)
// Makes `jobs` jobs of a three-step workflow fail at their last step (one batch), registers a fixed
// version, and measures: RerunJob of one job (20 in a row: median and slowest answer), RerunJobs of all
// the failed jobs onto the fixed version (time to answer, and until every rerun SUCCEEDED), and the
// same RerunJobs asked again (which makes nothing). Prints one JSON object.
import { round, startEngine, step, tenant, waitAll } from "./lib.mjs";

const JOBS = Number(process.argv[2] ?? 1000);
const SINGLES = 20;

const definitions = { workflowInput: { type: "object" }, any: {}, shipped: { type: "object", required: ["shipped"] } };
const order = (ship) => ({
  workflowName: "bench-order",
  steps: [
    step("reserve", "/canopy/transform", { config: { output: { sku: { var: "workflowInput.sku" } } } }, "charge"),
    step("charge", "/canopy/transform", { config: { output: { charged: 42, sku: { var: "reserveOutput.sku" } } } }, "ship"),
    ship,
  ],
  definitions,
});
// v1's ship produces an output its schema refuses: every job fails there. v2 fixes it.
const broken = step("ship", "/canopy/transform", { output: "shipped", config: { output: { oops: true } } });
const fixed = step("ship", "/canopy/transform", { output: "shipped", config: { output: { shipped: { var: "chargeOutput.sku" } } } });

const engine = await startEngine();
try {
  const t = await tenant(engine);
  const workflowId = await t.deploy(order(broken));
  const jobs = Array.from({ length: JOBS }, (_, i) => ({ workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: { sku: `S-${i}` } }));
  const { results } = await t.api.post(`${t.orgPath}/jobs/batch`, { jobs });
  const sources = results.map((r) => r.jobId);
  await waitAll(sources, (id) => t.finishedJob(id));
  await t.deploy(order(fixed));

  const single = [];
  for (const id of sources.slice(0, SINGLES)) {
    const t0 = performance.now();
    await t.api.post(`${t.orgPath}/jobs/${id}/rerun`, { workflowVersion: { tag: "$LIVE" } });
    single.push(performance.now() - t0);
  }
  single.sort((a, b) => a - b);

  const body = { filter: { workflowId, status: "FAILED" }, workflowVersion: { tag: "$LIVE" }, maxJobs: JOBS };
  const t0 = performance.now();
  const bulk = await t.api.post(`${t.orgPath}/jobs/rerun`, body);
  const answeredMs = performance.now() - t0;
  const reruns = bulk.results.map((r) => r.jobId);
  const errors = bulk.results.filter((r) => r.error).length;
  const done = await waitAll(reruns.filter(Boolean), (id) => t.finishedJob(id));
  const allDoneMs = performance.now() - t0;
  const t1 = performance.now();
  const again = await t.api.post(`${t.orgPath}/jobs/rerun`, body);
  const againMs = performance.now() - t1;
  const same = again.results.every((r, i) => r.jobId === bulk.results[i].jobId);

  console.log(
    JSON.stringify(
      {
        jobs: JOBS,
        rerunJob: { p50Ms: round(single[Math.floor(SINGLES / 2)], 1), maxMs: round(single[SINGLES - 1], 1) },
        rerunJobs: {
          results: bulk.results.length,
          errors,
          succeeded: done.filter((j) => j.status === "SUCCEEDED").length,
          answeredMs: round(answeredMs, 0),
          allSucceededMs: round(allDoneMs, 0),
        },
        rerunJobsAgain: { answeredMs: round(againMs, 0), sameJobs: same, jobsListed: await t.countJobs({}) },
      },
      null,
      2,
    ),
  );
} finally {
  await engine.stop();
}
