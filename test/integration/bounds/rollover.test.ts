/**
 * A rollover carries references, not copies: the next run receives the execution data as stored,
 * and the child rows its references read, in bounded batches before its first step, so a looping
 * job that holds a fan-out's results over 1 MiB rolls over like any other, and a new run that
 * crashes half-way through receiving goes on from its last batch.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { tenantWith } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import type { JobObject } from "../../../src/job/job-object";
import { JobStore } from "../../../src/job/store";
import { runObjectName } from "../../../src/job/naming";
import { MAX_PAYLOAD_BYTES } from "../../../src/limits";

const run = "/justworkflowit/runChildJob";
const transform = "/canopy/transform";
const noop = "/justworkflowit/noop";
const again = "/canopy/continueAsNew";
const waitEvents = "/justworkflowit/waitForEventIds";

const runStub = (jobId: string, runNumber = 1): DurableObjectStub<JobObject> => env.JOBS.get(env.JOBS.idFromName(runObjectName(jobId, runNumber)));

/** A child that returns 300 KB it holds in its own definition: four make 1.2 MB of results. */
const chunk = workflow("chunk2", [step("make", transform, { config: { output: { pad: "c".repeat(300_000) } } })], { workflowInput: {} });
const four = { children: ["a", "b", "c", "d"].map((id) => ({ id, workflowName: "chunk2", workflowVersion: { tag: "$LIVE" } })) };

/** Every page of the value at `path` (a step's results), concatenated. */
async function readResults(client: any, path: string): Promise<any[]> {
  const results: any[] = [];
  let token: string | undefined;
  do {
    const page = await client.expect(200, client.get(`${path}${token ? `&pageToken=${token}` : ""}`));
    results.push(...page.value.results);
    token = page.nextPageToken;
  } while (token);
  return results;
}

describe("a rollover with a fan-out's results over 1 MiB", () => {
  it("rolls over at the history bound carrying the results by reference, and the next run reads and replaces them", async () => {
    const roller = workflow("roller", [
      step("hold", waitEvents, { config: { eventIds: ["go"] } }, "fan"),
      step("fan", run, { config: four }, "tally"),
      step("tally", transform, { config: { output: { count: { "+": [{ var: ["tallyOutput.count", 0] }, 1] } } } }, { if: [{ "<": [{ var: "tallyOutput.count" }, 2] }, "hold", null] }),
    ]);
    const { client, orgId, ids } = await tenantWith(admin, chunk, roller);
    const jobId = await submit(client, orgId, { workflowId: ids.roller, workflowVersion: { tag: "$LIVE" } });
    await waitForJob(client, orgId, jobId, (j) => j.currentStepName === "hold");
    // This run rolls over after four history items (the event, hold, fan, tally), before hold again.
    await runInDurableObject(runStub(jobId), (o: JobObject) => {
      const self = o as unknown as { env: Record<string, unknown> };
      self.env = { ...self.env, HISTORY_ROLLOVER_THRESHOLD: "4" };
    });
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/events`, { eventId: "go" }));
    const waiting = await waitForJob(client, orgId, jobId, (j) => j.runNumber === 2 && j.currentStepName === "hold", 60_000);
    expect(waiting.job.status).toBe("RUNNING");

    // Run 2 holds run 1's results by reference: the same 1.2 MB, read page by page.
    const { state } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state`));
    expect(state.executionData.tallyOutput).toEqual({ count: 1 });
    const marker = state.executionData.fanOutput.canopyOmitted;
    expect(marker.bytes).toBeGreaterThan(MAX_PAYLOAD_BYTES);
    expect(marker.read).toContain("runNumber=2");
    const first = await readResults(client, marker.read);
    expect(first.map((r) => [r.id, r.status, r.output.pad.length])).toEqual(["a", "b", "c", "d"].map((id) => [id, "SUCCEEDED", 300_000]));

    // Run 2 goes on: its own fan-out replaces the results, and nothing of run 1's is mixed in.
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/events`, { eventId: "go" }));
    const { job } = await waitForJob(client, orgId, jobId, undefined, 60_000);
    expect(job).toMatchObject({ status: "SUCCEEDED", runNumber: 2, output: { count: 2 } });
    const second = await readResults(client, `/organizations/${orgId}/jobs/${jobId}/state/data/fanOutput?runNumber=2`);
    expect(second.map((r) => r.id)).toEqual(["a", "b", "c", "d"]);
    expect(second.map((r) => r.jobId).filter((id) => first.some((f) => f.jobId === id))).toEqual([]);
  }, 120_000);

  it("continues explicitly with results over 1 MiB as the next run's workflowInput, and survives a crash half-way through receiving them", async () => {
    const hand = workflow("hand", [step("fan", run, { config: four }, "roll"), step("roll", again, { config: { nextStep: "last" } }), step("last", noop)]);
    const { client, orgId, ids } = await tenantWith(admin, chunk, hand);
    const jobId = await submit(client, orgId, { workflowId: ids.hand, workflowVersion: { tag: "$LIVE" } });
    // Run 1 answers the first batch, then fails until released: run 2 is left half-way.
    await runInDurableObject(runStub(jobId), (instance: object) => {
      const proto = Object.getPrototypeOf(instance) as { inheritanceBatch: (this: unknown, cursor: unknown) => Promise<unknown> };
      const real = proto.inheritanceBatch;
      let calls = 0;
      proto.inheritanceBatch = async function (this: unknown, cursor: unknown) {
        if (this === instance && ++calls >= 2) throw new Error("run 1 is busy");
        return real.call(this, cursor);
      };
      (instance as { release?: () => void }).release = () => {
        proto.inheritanceBatch = real;
      };
    });
    let pending: any;
    for (let i = 0; i < 400; i++) {
      pending = await runInDurableObject(runStub(jobId, 2), (o: JobObject) => (o.state ? o.store.inheritance.pending() : undefined));
      if (pending?.cursor?.phase === "child" && pending.cursor.after !== "") break;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(pending.cursor).toMatchObject({ phase: "child" });
    // What a new instance would find after a crash here: the rows of the batches received, and the
    // cursor committed with them (read through a store of its own over the same storage).
    const durable = await runInDurableObject(runStub(jobId, 2), (_o: JobObject, ctx) => {
      const fresh = new JobStore(ctx.storage);
      return { cursor: fresh.inheritance.pending()?.cursor, rows: fresh.children("fan", 1).map((c) => c.key) };
    });
    expect(durable.cursor).toEqual(pending.cursor);
    expect(durable.rows.length).toBeGreaterThan(0);
    expect(durable.rows.length).toBeLessThan(4);
    expect(durable.rows.at(-1)).toBeDefined();
    await runInDurableObject(runStub(jobId), (o: object) => (o as { release: () => void }).release());
    for (let i = 0; i < 20 && (await waitForJob(client, orgId, jobId, () => true)).job.status === "RUNNING"; i++) {
      await runDurableObjectAlarm(runStub(jobId, 2));
      await new Promise((r) => setTimeout(r, 50));
    }
    const { job } = await waitForJob(client, orgId, jobId, undefined, 60_000);
    expect(job).toMatchObject({ status: "SUCCEEDED", runNumber: 2, outputTooLarge: { executionDataKey: "lastOutput" } });
    const results = await readResults(client, job.outputTooLarge.read);
    expect(results.map((r) => [r.id, r.output.pad.length])).toEqual(["a", "b", "c", "d"].map((id) => [id, 300_000]));
    // Each inherited row once, and no value over what a row may hold.
    const rows = await runInDurableObject(runStub(jobId, 2), (o: JobObject) => o.store.tables.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM child`).one().n);
    expect(rows).toBe(4);
    const second = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state?runNumber=2`));
    expect(second.state.executionData.workflowInput.canopyOmitted.bytes).toBe(job.outputTooLarge.bytes);
  }, 120_000);

  it("fails a continued run whose predecessor no longer holds its rows (INHERITANCE_LOST), instead of asking for ever", async () => {
    const jobId = crypto.randomUUID();
    const definition = JSON.stringify(workflow("orphan", [step("only", noop)]));
    const identity = { jobId, organizationId: "org", workflowId: "w", workflowName: "orphan", versionId: "v", versionNumber: 1, submittedByUser: "tests", runNumber: 5, rootJobId: jobId, depth: 0, createdAt: Date.now() };
    const continuation = { toRun: 5, nextStep: "only", carry: "all" as const, priorRunUnits: 0, indexSeq: 1, reason: "historyLimit" as const, version: "same" as const };
    // Run 4 never existed here (as if purged): run 5 is created and asks it for its inheritance.
    const started = await runStub(jobId, 5).start({ identity, definition, executionData: {}, continuation });
    expect(started).toMatchObject({ ok: true, value: { created: true } });
    let state: any;
    for (let i = 0; i < 100; i++) {
      await runDurableObjectAlarm(runStub(jobId, 5));
      state = await runInDurableObject(runStub(jobId, 5), (o: JobObject) => ({ status: o.state!.status, error: o.state!.error, pending: o.store.inheritance.pending() }));
      if (state.status !== "PENDING") break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(state).toMatchObject({ status: "FAILED", error: { code: "INHERITANCE_LOST" }, pending: null });
    expect(state.error.message).toContain("Run 4 no longer holds");
  });

  it("cancels a run still receiving its inheritance, refuses to resume or rerun it until it has it all, then resumes it at its next step", async () => {
    const def = workflow("movingCancel", [
      step("hold", waitEvents, { config: { eventIds: ["go"] } }, "roll"),
      step("roll", again, { config: { nextStep: "wait2" } }),
      step("wait2", waitEvents, { config: { eventIds: ["w2"] } }),
    ]);
    const { client, orgId, ids } = await tenantWith(admin, def);
    const jobId = await submit(client, orgId, { workflowId: ids.movingCancel, workflowVersion: { tag: "$LIVE" } });
    await waitForJob(client, orgId, jobId, (j) => j.currentStepName === "hold");
    // Run 1 gives run 2 nothing until released: run 2 stays in the middle of receiving.
    await runInDurableObject(runStub(jobId), (instance: object) => {
      const proto = Object.getPrototypeOf(instance) as { inheritanceBatch: (this: unknown, cursor: unknown) => Promise<unknown> };
      const real = proto.inheritanceBatch;
      proto.inheritanceBatch = async function (this: unknown, cursor: unknown) {
        if (this === instance) throw new Error("run 1 is busy");
        return real.call(this, cursor);
      };
      (instance as { release?: () => void }).release = () => {
        proto.inheritanceBatch = real;
      };
    });
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/events`, { eventId: "go" }));
    const moving = await waitForJob(client, orgId, jobId, (j) => j.runNumber === 2);
    expect(moving.job.status).toBe("RUNNING");
    expect((await client.post(`/organizations/${orgId}/jobs/${jobId}/events`, { eventId: "w2" })).status).toBe(409);
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/cancel`));
    expect((await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}`))).job.status).toBe("CANCELLED");
    const early = await client.post(`/organizations/${orgId}/jobs/${jobId}/resume`);
    expect(early.status).toBe(409);
    expect(early.body.message).toContain("moving to its next run");
    // Ended, but without its data yet: a rerun would copy what has not arrived, so it waits too.
    const rerun = await client.post(`/organizations/${orgId}/jobs/${jobId}/rerun`, {});
    expect(rerun.status).toBe(409);
    expect(rerun.body.message).toContain("moving to its next run");
    await runInDurableObject(runStub(jobId), (o: object) => (o as { release: () => void }).release());
    for (let i = 0; i < 200 && (await runInDurableObject(runStub(jobId, 2), (o: JobObject) => o.store.inheritance.pending())) !== null; i++) {
      await runDurableObjectAlarm(runStub(jobId, 2));
      await new Promise((r) => setTimeout(r, 25));
    }
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/resume`));
    await waitForJob(client, orgId, jobId, (j) => j.currentStepName === "wait2");
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/events`, { eventId: "w2" }));
    expect((await waitForJob(client, orgId, jobId)).job).toMatchObject({ status: "SUCCEEDED", runNumber: 2 });
  });
});
