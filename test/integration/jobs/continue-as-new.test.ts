import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { deployWorkflow, tenantWith } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import countdown from "../../fixtures/countdown.json";
import type { JobObject } from "../../../src/job/job-object";
import { runObjectName } from "../../../src/job/naming";

const transform = "/canopy/transform";
const again = "/canopy/continueAsNew";
const waitEvents = "/justworkflowit/waitForEventIds";
const run = "/justworkflowit/runChildJob";

// The integration pool runs with HISTORY_ROLLOVER_THRESHOLD=100 (vitest.config.ts).
const THRESHOLD = 100;

const runStub = (jobId: string, runNumber = 1): DurableObjectStub<JobObject> => env.JOBS.get(env.JOBS.idFromName(runObjectName(jobId, runNumber)));

/** Counts up by one per run, continuing as new until `i` reaches 3. */
const looper = workflow("looper", [
  step("work", transform, { config: { output: { i: { "+": [{ var: "workflowInput.i" }, 1] } } } }, { if: [{ "<": [{ var: "work.output.i" }, 3] }, "again", null] }),
  step("again", again, { config: { nextStep: "work" } }),
]);

describe("continueAsNew", () => {
  it("rolls a loop into fresh runs automatically, each under the history bound, as one job", async () => {
    const { client, orgId, ids } = await tenantWith(admin, countdown);
    const jobId = await submit(client, orgId, { workflowId: ids.countdown, workflowVersion: { tag: "$LIVE" }, inputJson: { n: 250 } });
    const { job } = await waitForJob(client, orgId, jobId, undefined, 30_000);
    expect(job).toMatchObject({ jobId, status: "SUCCEEDED", output: { n: 0 }, runNumber: 3, billableTransactionUnits: 251 });
    for (const runNumber of [1, 2, 3]) {
      const meta = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state/metadata?runNumber=${runNumber}`));
      expect(meta.runNumber).toBe(runNumber);
      expect(meta.historyItems).toBeLessThanOrEqual(THRESHOLD);
    }
    const first = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state?runNumber=1`));
    expect(first.state.executionHistory).toHaveLength(THRESHOLD);
    const last = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state`));
    expect(last.state.executionHistory).toHaveLength(251 - 2 * THRESHOLD);
    expect(last.state.executionData.tickOutput).toEqual({ n: 0 });
    expect((await client.get(`/organizations/${orgId}/jobs/${jobId}/state?runNumber=9`)).status).toBe(404);
    const list = await client.expect(200, client.get(`/organizations/${orgId}/jobs`));
    expect(list.totalCount).toBe(1);
    await waitFor(async () => (await client.get(`/organizations/${orgId}/jobs`)).body.jobs[0]?.runNumber === 3);
  });

  it("continues explicitly with the step's input as the new workflowInput", async () => {
    const { client, orgId, ids } = await tenantWith(admin, looper);
    const jobId = await submit(client, orgId, { workflowId: ids.looper, workflowVersion: { tag: "$LIVE" }, inputJson: { i: 0 } });
    const { job } = await waitForJob(client, orgId, jobId);
    // run 1: work, again; run 2: work, again; run 3: work.
    expect(job).toMatchObject({ status: "SUCCEEDED", output: { i: 3 }, runNumber: 3, billableTransactionUnits: 5 });
    const second = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state?runNumber=2`));
    expect(second.state.executionData.workflowInput).toEqual({ i: 1 });
    expect(second.state.executionHistory.map((h: any) => h.stepName)).toEqual(["work", "again"]);
  });

  it("moves onto the tag's current version at the rollover when asked to", async () => {
    const v1 = workflow("upgrade", [
      step("hold", waitEvents, { config: { eventIds: ["go"] } }, "roll"),
      step("roll", again, { config: { nextStep: "mark", version: { tag: "$LIVE" } } }),
      step("mark", transform, { config: { output: { version: 1 } } }),
    ]);
    const v2 = workflow("upgrade", [step("mark", transform, { config: { output: { version: 2 } } })]);
    const { client, orgId, ids } = await tenantWith(admin, v1);
    const jobId = await submit(client, orgId, { workflowId: ids.upgrade, workflowVersion: { tag: "$LIVE" } });
    await deployWorkflow(client, orgId, v2);
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/events`, { eventId: "go" }));
    const { job } = await waitForJob(client, orgId, jobId);
    expect(job).toMatchObject({ status: "SUCCEEDED", runNumber: 2, output: { version: 2 }, workflowVersion: { versionNumber: 2 } });
  });

  it("fails the job in its next run when the rollover's tag no longer resolves", async () => {
    const def = workflow("lost-tag", [
      step("hold", waitEvents, { config: { eventIds: ["go"] } }, "roll"),
      step("roll", again, { config: { nextStep: "hold", version: { tag: "$CANARY" } } }),
    ]);
    const { client, orgId, ids } = await tenantWith(admin, def);
    const jobId = await submit(client, orgId, { workflowId: ids["lost-tag"], workflowVersion: { tag: "$LIVE" } });
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/events`, { eventId: "go" }));
    const { job } = await waitForJob(client, orgId, jobId);
    expect(job).toMatchObject({ status: "FAILED", runNumber: 2, error: { code: "NotFoundError" } });
    expect(job.error.message).toContain("$CANARY");
  });

  it("keeps the version with version \"same\"", async () => {
    const v1 = workflow("stay", [
      step("hold", waitEvents, { config: { eventIds: ["go"] } }, "roll"),
      step("roll", again, { config: { nextStep: "mark" } }),
      step("mark", transform, { config: { output: { version: 1 } } }),
    ]);
    const { client, orgId, ids } = await tenantWith(admin, v1);
    const jobId = await submit(client, orgId, { workflowId: ids.stay, workflowVersion: { tag: "$LIVE" } });
    await deployWorkflow(client, orgId, { ...v1, steps: [step("mark", transform, { config: { output: { version: 2 } } })] });
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/events`, { eventId: "go" }));
    const { job } = await waitForJob(client, orgId, jobId);
    expect(job).toMatchObject({ status: "SUCCEEDED", runNumber: 2, output: { version: 1 }, workflowVersion: { versionNumber: 1 } });
  });

  it("gives a parent the final result of a child that rolls over twice", async () => {
    const parent = workflow("parent", [step("spawn", run, { config: { children: [{ workflowName: "looper", workflowVersion: { tag: "$LIVE" } }] } })]);
    const { client, orgId, ids } = await tenantWith(admin, looper, parent);
    const jobId = await submit(client, orgId, { workflowId: ids.parent, workflowVersion: { tag: "$LIVE" }, inputJson: { i: 0 } });
    const { job } = await waitForJob(client, orgId, jobId);
    expect(job.status).toBe("SUCCEEDED");
    expect(job.output.results).toEqual([{ id: "0", jobId: expect.any(String), workflowName: "looper", status: "SUCCEEDED", output: { i: 3 } }]);
    expect(job.billableTransactionUnits).toBe(1 + 5);
    const child = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${job.output.results[0].jobId}`));
    expect(child.job).toMatchObject({ runNumber: 3, parentJobId: jobId, status: "SUCCEEDED" });
  });

  it("cancels a child in its live run when the parent is cancelled after the child rolled over", async () => {
    const looping = workflow("rolling", [
      step("roll", again, { config: { nextStep: "hold" } }),
      step("hold", waitEvents, { config: { eventIds: ["never"] } }),
    ]);
    const parent = workflow("holder", [step("spawn", run, { config: { children: [{ workflowName: "rolling", workflowVersion: { tag: "$LIVE" } }] } })]);
    const { client, orgId, ids } = await tenantWith(admin, looping, parent);
    const jobId = await submit(client, orgId, { workflowId: ids.holder, workflowVersion: { tag: "$LIVE" } });
    const childId = await waitForChild(jobId);
    await waitForJob(client, orgId, childId, (j) => j.runNumber === 2 && j.currentStepName === "hold");
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/cancel`));
    const child = await waitForJob(client, orgId, childId);
    expect(child.job).toMatchObject({ status: "CANCELLED", runNumber: 2, error: { code: "PARENT_CANCELLED" } });
  });

  it("drops an old run's storage after its retention, and the job stays readable", async () => {
    const { client, orgId, ids } = await tenantWith(admin, looper);
    const jobId = await submit(client, orgId, { workflowId: ids.looper, workflowVersion: { tag: "$LIVE" }, inputJson: { i: 0 } });
    await waitForJob(client, orgId, jobId);
    // The last run has told the head its retention deadline (the head's alarm is then set for it).
    await waitFor(async () => (await runInDurableObject(runStub(jobId, 1), (o: JobObject) => o.store.retire.retention())) !== null);
    // Seven days pass for runs 1 and 2: their purge work falls due.
    for (const runNumber of [1, 2]) {
      await runInDurableObject(runStub(jobId, runNumber), async (o: JobObject, ctx) => {
        ctx.storage.sql.exec(`UPDATE work SET due_at = ? WHERE id = 'purge'`, Date.now());
      });
      expect(await runDurableObjectAlarm(runStub(jobId, runNumber))).toBe(true);
    }
    expect(await runInDurableObject(runStub(jobId, 2), (o: JobObject) => o.state)).toBeNull();
    expect(await runInDurableObject(runStub(jobId, 2), async (_o: JobObject, ctx) => ctx.storage.getAlarm())).toBeNull();
    // The head keeps one alarm: the job's retention deadline, when its whole tree goes (retention.test.ts).
    const head = await runInDurableObject(runStub(jobId, 1), async (o: JobObject, ctx) => [o.history().length, await ctx.storage.getAlarm(), o.store.retire.retention()?.deleteAt]);
    expect(head[0]).toBe(0);
    expect(head[1]).toBe(head[2]);
    expect((await client.get(`/organizations/${orgId}/jobs/${jobId}/state?runNumber=2`)).status).toBe(404);
    const { job } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}`));
    expect(job).toMatchObject({ status: "SUCCEEDED", runNumber: 3, output: { i: 3 } });
  });

  it("cancels the live run when CancelJob arrives mid-rollover", async () => {
    const def = workflow("midroll", [
      step("hold", waitEvents, { config: { eventIds: ["go"] } }, "roll"),
      step("roll", again, { config: { nextStep: "wait2" } }),
      step("wait2", waitEvents, { config: { eventIds: ["never"] } }),
    ]);
    const { client, orgId, ids } = await tenantWith(admin, def);
    const jobId = await submit(client, orgId, { workflowId: ids.midroll, workflowVersion: { tag: "$LIVE" } });
    // Run 1 hands over but its alarm has not yet created run 2.
    await handOverWithoutAlarm(jobId);
    expect(await runInDurableObject(runStub(jobId, 2), (o: JobObject) => o.state)).toBeNull();
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/cancel`));
    const { job } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}`));
    expect(job).toMatchObject({ status: "CANCELLED", runNumber: 2 });
    // The pending rollover work then finds run 2 already there: still one run 2, still cancelled.
    await runDurableObjectAlarm(runStub(jobId));
    expect(await runInDurableObject(runStub(jobId, 2), (o: JobObject) => o.state!.status)).toBe("CANCELLED");
    expect(await runInDurableObject(runStub(jobId, 3), (o: JobObject) => o.state)).toBeNull();
  });

  it("neither loses the job nor starts two runs when evicted between handing over and the next run's start", async () => {
    const def = workflow("crashy", [
      step("hold", waitEvents, { config: { eventIds: ["go"] } }, "roll"),
      step("roll", again, { config: { nextStep: "done" } }),
      step("done", transform, { config: { output: { finished: true } } }),
    ]);
    const { client, orgId, ids } = await tenantWith(admin, def);
    const jobId = await submit(client, orgId, { workflowId: ids.crashy, workflowVersion: { tag: "$LIVE" } });
    await handOverWithoutAlarm(jobId);
    await evictDurableObject(runStub(jobId));
    // The restarted object finds the owed rollover in SQLite; the alarm (re-armed here, as the runtime would) performs it.
    await runInDurableObject(runStub(jobId), async (_o: JobObject, ctx) => ctx.storage.setAlarm(Date.now()));
    await runDurableObjectAlarm(runStub(jobId));
    await runDurableObjectAlarm(runStub(jobId));
    const { job } = await waitForJob(client, orgId, jobId);
    expect(job).toMatchObject({ status: "SUCCEEDED", runNumber: 2, output: { finished: true }, billableTransactionUnits: 3 });
    const second = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state?runNumber=2`));
    expect(second.state.executionHistory.map((h: any) => h.stepName)).toEqual(["done"]);
    expect(await runInDurableObject(runStub(jobId, 3), (o: JobObject) => o.state)).toBeNull();
  });
});

/** Delivers run 1's event without arming its alarm: the rollover is committed but not carried out. */
async function handOverWithoutAlarm(jobId: string): Promise<void> {
  // First let the run settle: waiting for "go", with no work owed and no alarm pending.
  for (let i = 0; i < 100; i++) {
    const idle = await runInDurableObject(runStub(jobId), async (o: JobObject, ctx) => {
      if (o.state?.current?.name !== "hold" || o.store.queue.nextWorkDue() !== undefined) return false;
      await ctx.storage.deleteAlarm();
      return true;
    });
    if (idle) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  await runInDurableObject(runStub(jobId), async (o: JobObject, ctx) => {
    const arm = o.armAlarm;
    o.armAlarm = () => undefined;
    try {
      o.apply({ type: "eventReceived", eventId: "go", payload: {}, at: Date.now() });
    } finally {
      o.armAlarm = arm;
    }
    expect(o.state!.continuedAs?.toRun).toBe(2);
    await ctx.storage.deleteAlarm();
  });
}

async function waitForChild(parentJobId: string): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const id = await runInDurableObject(runStub(parentJobId), (o: JobObject) => {
      const cur = o.state?.current;
      return cur?.wait?.type === "children" ? o.store.children(cur.name, cur.attempt)[0]?.jobId : undefined;
    });
    if (id) return id;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("no child");
}

async function waitFor(fn: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("condition not met");
}
