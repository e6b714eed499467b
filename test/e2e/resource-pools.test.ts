// A resource pool across a crash: 15 jobs in a pool of 3, the engine killed with -9 while some
// run and others wait, restarted: every job succeeds, each step once, and at no moment did more
// than 3 run (read from the jobs' own startedAt and finishedAt).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deployWorkflow, newTenant } from "../helpers/client";
import { step, submit, workflow } from "../helpers/jobs";
import { countJobs, getJobs, printServerLogsOnFailure, waitForCount } from "./jobs";
import { EngineServer, sleep, waitFor } from "./server";

const slot = workflow("slot", [
  step("before", "/justworkflowit/noop", {}, "work"),
  step("work", "/canopy/delay", { config: { seconds: 1 } }, "after"),
  step("after", "/justworkflowit/noop"),
]);

const JOBS = 15;
const LIMIT = 3;

/** The most intervals [start, finish) that overlap at any instant (a finish at t comes before a start at t). */
function maxOverlap(intervals: [number, number][]): number {
  const points = intervals.flatMap(([s, f]) => [[s, 1] as const, [f, -1] as const]).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let now = 0;
  let most = 0;
  for (const [, d] of points) most = Math.max(most, (now += d));
  return most;
}

describe("a resource pool across a crash", () => {
  const server = new EngineServer();
  beforeAll(() => server.start());
  afterAll(() => server.dispose());
  printServerLogsOnFailure(server);

  it("loses no slot and grants none twice when the engine is killed while jobs run and wait", async () => {
    const { orgId, client } = await newTenant(server.admin);
    const { workflowId } = await deployWorkflow(client, orgId, slot);
    const { poolId } = await client.expect(200, client.post(`/organizations/${orgId}/resource-pools`, { name: "three", workerLimit: LIMIT, targetsAllWorkflows: true }));
    const began = Date.now();
    const jobIds: string[] = [];
    for (let i = 0; i < JOBS; i++) jobIds.push(await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: { i } }));

    await waitFor(async () => (await countJobs(client, orgId, { status: "SUCCEEDED" })) >= 4, 120_000, 200);
    const pendingAtKill = await countJobs(client, orgId, { status: "PENDING" });
    await server.kill();
    await sleep(2_000);
    await server.start();

    await waitForCount(client, orgId, { status: "SUCCEEDED" }, JOBS, 180_000);
    const jobs = await getJobs(client, orgId, jobIds);
    for (const { job } of jobs) expect(job).toMatchObject({ status: "SUCCEEDED", billableTransactionUnits: 3, output: { i: expect.any(Number) } });
    const overlap = maxOverlap(jobs.map(({ job }) => [Date.parse(job.startedAt), Date.parse(job.finishedAt)]));
    expect(overlap).toBeLessThanOrEqual(LIMIT);
    // The pool was used to the full: more than one job at a time ran.
    expect(overlap).toBeGreaterThan(1);
    const { resourcePool } = await client.expect(200, client.get(`/organizations/${orgId}/resource-pools/${poolId}`));
    await expect.poll(async () => (await client.get(`/organizations/${orgId}/resource-pools/${poolId}`)).body.resourcePool.runningJobs, { timeout: 30_000 }).toBe(0);
    expect(resourcePool.queuedJobs).toBe(0);
    console.log(JSON.stringify({ jobs: JOBS, workerLimit: LIMIT, pendingAtKill, maxRunningAtOnce: overlap, wallSeconds: (Date.now() - began) / 1000 }));
  });
});
