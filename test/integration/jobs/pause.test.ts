import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { tenantWith, type TestClient } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import type { JobObject } from "../../../src/job/job-object";

const noop = "/justworkflowit/noop";
const delay = "/canopy/delay";
const run = "/justworkflowit/runChildJob";
const waitEvents = "/justworkflowit/waitForEventIds";

const stub = (jobId: string): DurableObjectStub<JobObject> => env.JOBS.get(env.JOBS.idFromName(jobId));

/** Waits for the event `go`, then ends. */
const leaf = workflow("leaf", [step("hold", waitEvents, { config: { eventIds: ["go"] } }, "done"), step("done", noop)]);
/** Three `leaf` children, two at a time; one may fail. */
const parent = workflow("parent", [
  step("spawn", run, {
    config: {
      children: [{ workflowName: "leaf", workflowVersion: { tag: "$LIVE" }, forEach: { arrayPath: "workflowInput.items" } }],
      maxConcurrency: 2,
      toleratedFailureCount: 1,
    },
  }),
]);
/** A one-second delay, then a step. */
const nap = workflow("nap", [step("sleep", delay, { config: { seconds: 1 } }, "after"), step("after", noop)]);

async function until(condition: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("the condition was not met within 20 s");
}

async function childIds(client: TestClient, orgId: string, jobId: string, count: number): Promise<string[]> {
  for (let i = 0; i < 400; i++) {
    const { childJobs = [] } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}`));
    if (childJobs.length >= count) return childJobs.map((c: { jobId: string }) => c.jobId);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`job ${jobId} did not reach ${count} children`);
}

/** Runs the job's alarm now, as a duplicated or early alarm would (one set in the future is not run by the runtime first). */
async function forceAlarm(jobId: string): Promise<void> {
  await runInDurableObject(stub(jobId), (_o: JobObject, ctx) => ctx.storage.setAlarm(Date.now() + 60_000));
  expect(await runDurableObjectAlarm(stub(jobId))).toBe(true);
}

/** The job's alarm is not set to fire soon (a paused job owes nothing now; a metrics flush may wait minutes). */
async function expectNoAlarmSoon(jobId: string): Promise<void> {
  const alarm = await runInDurableObject(stub(jobId), (_o: JobObject, ctx) => ctx.storage.getAlarm());
  if (alarm !== null) expect(alarm).toBeGreaterThan(Date.now() + 60_000);
}

const job = async (client: TestClient, orgId: string, jobId: string) => (await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}`))).job;

/** ListJobs' rows (at most 100) for a query string. */
const listed = async (client: TestClient, orgId: string, q: string): Promise<{ jobId: string; paused?: true }[]> =>
  (await client.expect(200, client.get(`/organizations/${orgId}/jobs?pageSize=100&${q}`))).jobs;

describe("PauseJob and UnpauseJob", () => {
  it("pauses a parent's children (ListJobs shows them paused), starts none of the rest when one ends, and everything finishes after unpause", async () => {
    const { client, orgId, ids } = await tenantWith(admin, leaf, parent);
    const jobId = await submit(client, orgId, { workflowId: ids.parent, workflowVersion: { tag: "$LIVE" }, inputJson: { items: [{ i: 1 }, { i: 2 }, { i: 3 }] } });
    const [a, b] = await childIds(client, orgId, jobId, 2);
    await waitForJob(client, orgId, a!, (j) => j.currentStepName === "hold");
    await waitForJob(client, orgId, b!, (j) => j.currentStepName === "hold");

    expect(await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/pause`))).toEqual({ jobId, paused: true });
    expect(await job(client, orgId, jobId)).toMatchObject({ status: "RUNNING", paused: true });
    // The word reaches the children from the parent's alarm.
    await waitForJob(client, orgId, a!, (j) => j.paused === true);
    await waitForJob(client, orgId, b!, (j) => j.paused === true);
    // The job index shows it too: the parent's row, and its children's.
    await until(async () => (await listed(client, orgId, "")).find((j) => j.jobId === jobId)?.paused === true);
    await until(async () => (await listed(client, orgId, `parentJobId=${jobId}`)).every((j) => j.paused === true));

    // An event reaches a paused child: kept, and its wait does not complete.
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${b}/events`, { eventId: "go" }));
    expect(await job(client, orgId, b!)).toMatchObject({ status: "RUNNING", currentStepName: "hold", paused: true });
    // Unpausing the child itself does not lift its parent's pause.
    expect(await client.expect(200, client.post(`/organizations/${orgId}/jobs/${b}/unpause`))).toEqual({ jobId: b, paused: true });
    // A child ends while the parent is paused (CancelJob works on a paused job): the parent records
    // it, and however often its alarm runs, starts no third child in its place.
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${a}/cancel`));
    await until(async () => {
      const { childJobs } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}`));
      return childJobs.find((c: { jobId: string }) => c.jobId === a)?.status === "CANCELLED";
    });
    await forceAlarm(jobId);
    await forceAlarm(jobId);
    expect((await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}`))).childJobs).toHaveLength(2);

    expect(await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/unpause`))).toEqual({ jobId, paused: false });
    const bEnded = await waitForJob(client, orgId, b!);
    expect(bEnded.job.status).toBe("SUCCEEDED");
    expect(bEnded.job.paused).toBeUndefined();
    await until(async () => (await listed(client, orgId, "")).find((j) => j.jobId === jobId)?.paused === undefined);
    const [, , c] = await childIds(client, orgId, jobId, 3);
    await waitForJob(client, orgId, c!, (j) => j.currentStepName === "hold");
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${c}/events`, { eventId: "go" }));
    const done = await waitForJob(client, orgId, jobId, (j) => j.status === "SUCCEEDED" && j.billableTransactionUnits === 6);
    // The parent's one attempt; the cancelled child's one; two each for the others.
    expect(done.job.paused).toBeUndefined();
  });

  it("starts no step however often its alarm fires while paused, across an eviction, and finishes after unpause", async () => {
    const { client, orgId, ids } = await tenantWith(admin, nap);
    const jobId = await submit(client, orgId, { workflowId: ids.nap, workflowVersion: { tag: "$LIVE" }, inputJson: { n: 1 } });
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/pause`));
    // The delay falls due while the job is paused; the alarm fires twice anyway.
    const due = Date.parse((await job(client, orgId, jobId)).startedAt) + 1000;
    while (Date.now() <= due) await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 2; i++) {
      await forceAlarm(jobId);
    }
    await evictDurableObject(stub(jobId));
    expect(await job(client, orgId, jobId)).toMatchObject({ status: "RUNNING", currentStepName: "sleep", paused: true, billableTransactionUnits: 1 });
    const { state } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state`));
    expect(state.executionHistory).toEqual([]);
    // Nothing is due while paused: no alarm, or only the metrics flush minutes away.
    await expectNoAlarmSoon(jobId);

    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/unpause`));
    const { job: ended } = await waitForJob(client, orgId, jobId);
    expect(ended).toMatchObject({ status: "SUCCEEDED", output: { n: 1 }, billableTransactionUnits: 2 });
  });

  it("answers 409 for an ended job, 404 for another tenant's, and lets CancelJob end a paused one", async () => {
    const { client, orgId, ids } = await tenantWith(admin, leaf);
    const other = await tenantWith(admin, leaf);
    const jobId = await submit(client, orgId, { workflowId: ids.leaf, workflowVersion: { tag: "$LIVE" } });
    expect((await other.client.post(`/organizations/${other.orgId}/jobs/${jobId}/pause`)).status).toBe(404);
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/pause`));
    expect(await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/pause`))).toEqual({ jobId, paused: true });
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/cancel`));
    const { job: ended } = await waitForJob(client, orgId, jobId);
    expect(ended.status).toBe("CANCELLED");
    expect(ended.paused).toBeUndefined();
    const refused = await client.post(`/organizations/${orgId}/jobs/${jobId}/pause`);
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe("ConflictError");
    expect(await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/unpause`))).toEqual({ jobId, paused: false });
  });
});

describe("PauseJob: child starts under way", () => {
  it("holds a child start owed when the pause came, never arms an alarm for it, and starts it at unpause", async () => {
    const one = workflow("one-at-a-time", [
      step("spawn", run, { config: { children: [{ workflowName: "leaf", workflowVersion: { tag: "$LIVE" }, forEach: { arrayPath: "workflowInput.items" } }], maxConcurrency: 1 } }),
    ]);
    const { client, orgId, ids } = await tenantWith(admin, leaf, one);
    const jobId = await submit(client, orgId, { workflowId: ids["one-at-a-time"], workflowVersion: { tag: "$LIVE" }, inputJson: { items: [{ i: 1 }, { i: 2 }] } });
    const [first] = await childIds(client, orgId, jobId, 1);
    await waitForJob(client, orgId, first!, (j) => j.currentStepName === "hold");
    // In one instant (no await between, so no alarm runs): the first child's end makes the parent owe
    // the second child's start, and then the parent is paused.
    const owed = await runInDurableObject(stub(jobId), (o: JobObject, ctx) => {
      o.apply({ type: "childReports", reports: [{ childJobId: first!, workflowName: "leaf", status: "SUCCEEDED", units: 2, output: {} }], at: Date.now() });
      o.apply({ type: "pause", at: Date.now() });
      return ctx.storage.sql.exec<{ due_at: number }>(`SELECT due_at FROM work WHERE kind = 'startChild'`).toArray();
    });
    expect(owed).toEqual([{ due_at: Number.MAX_SAFE_INTEGER }]);
    await forceAlarm(jobId);
    expect((await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}`))).childJobs).toHaveLength(1);
    await expectNoAlarmSoon(jobId);

    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/unpause`));
    const [, second] = await childIds(client, orgId, jobId, 2);
    await waitForJob(client, orgId, second!, (j) => j.currentStepName === "hold");
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${second}/events`, { eventId: "go" }));
    expect((await waitForJob(client, orgId, jobId)).job.status).toBe("SUCCEEDED");
  });
});
