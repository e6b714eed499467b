/**
 * A job accepted and not started yet is a full citizen: SendJobEvent, CancelJob, GetJob's wait,
 * GetWorkflowState and ListJobs all work on it, through the HTTP API. The jobs are held unstarted
 * by disarming their holder's alarm in the same turn as the accept (nothing else can run in the
 * object between the two), so every request below reaches a job whose Durable Object does not exist.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { newTenant, tenantWith } from "../../helpers/client";
import { step, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import { submitBatch, type BatchItem } from "../../../src/job/batch";
import type { BatchStarter } from "../../../src/job/batch-starter";
import type { JobObject } from "../../../src/job/job-object";
import { batchStarterName, batchTagOf } from "../../../src/intake/batch-ids";

const TIMEOUT = 90_000;

const quick = workflow("quick", [step("mark", "/canopy/transform", { config: { output: { done: true } } })]);
const held = workflow("held", [step("hold", "/justworkflowit/waitForEventIds", { config: { eventIds: ["go"] } })]);

/** The bindings with every batch object's accept followed, in the same turn, by its alarm's removal. */
function withAlarmsHeld(): Env {
  const ns = env.BATCH_STARTS;
  const held = new Proxy(ns, {
    get(target, prop) {
      if (prop !== "get") return Reflect.get(target, prop).bind(target);
      return (id: DurableObjectId) => {
        const real = target.get(id);
        return new Proxy(real, {
          get(s, p) {
            if (p !== "accept") return Reflect.get(s, p);
            return (...args: Parameters<BatchStarter["accept"]>) =>
              runInDurableObject(real, async (o: BatchStarter, state) => {
                const answer = await o.accept(...args);
                await state.storage.deleteAlarm();
                return answer;
              });
          },
        });
      };
    },
  });
  return new Proxy(env, { get: (t, k) => (k === "BATCH_STARTS" ? held : Reflect.get(t, k)) });
}

/** Submits `count` jobs of `workflowId` as one batch whose object's alarm never runs; their ids. */
async function heldBatch(orgId: string, workflowId: string, count = 1, idempotencyKey?: string): Promise<string[]> {
  const items: BatchItem[] = Array.from({ length: count }, (_, n) => ({ workflow: { workflowId }, version: { tag: "$LIVE" }, input: { n }, ...(idempotencyKey ? { idempotencyKey } : {}) }));
  const results = await submitBatch(withAlarmsHeld(), orgId, { submittedByUser: "tests" }, items);
  return results.map((r) => (r as { jobId: string }).jobId);
}

const starterOf = (orgId: string, jobId: string): DurableObjectStub<BatchStarter> =>
  env.BATCH_STARTS.get(env.BATCH_STARTS.idFromName(batchStarterName(orgId, batchTagOf(jobId)!)));

/** Whether the job's Durable Object holds a run (asked inside the object, not through the API). */
const exists = (jobId: string) => runInDurableObject(env.JOBS.get(env.JOBS.idFromName(jobId)), (o: JobObject) => o.state !== null);

async function expectUnstarted(orgId: string, jobId: string) {
  expect(await exists(jobId)).toBe(false);
  expect(await starterOf(orgId, jobId).pending()).toBeGreaterThan(0);
}

describe("a batch job accepted and not started yet", () => {
  it(
    "is listed PENDING, takes an event (200) and uses it once it runs",
    async () => {
      const { client, orgId, ids } = await tenantWith(admin, held);
      const [jobId] = await heldBatch(orgId, ids.held!);
      await expectUnstarted(orgId, jobId!);

      const listed = await client.expect(200, client.get(`/organizations/${orgId}/jobs`));
      expect(listed.jobs).toEqual([expect.objectContaining({ jobId, status: "PENDING" })]);
      await expectUnstarted(orgId, jobId!);

      const sent = await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/events`, { eventId: "go", payload: { ok: 1 } }));
      expect(sent).toEqual({ jobId, eventId: "go" });
      const done = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}?waitForTerminalSeconds=30`));
      expect(done.job).toMatchObject({ jobId, status: "SUCCEEDED" });
      const state = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state`));
      expect(JSON.stringify(state.state.executionHistory)).toContain('"ok":1');
      // Its holder let go of it: the start is not sent again.
      expect(await starterOf(orgId, jobId!).pending()).toBe(0);
    },
    TIMEOUT,
  );

  it(
    "is cancelled by CancelJob without running a step",
    async () => {
      const { client, orgId, ids } = await tenantWith(admin, quick);
      const [jobId] = await heldBatch(orgId, ids.quick!);
      await expectUnstarted(orgId, jobId!);
      await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/cancel`));
      const job = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}`));
      expect(job.job).toMatchObject({ status: "CANCELLED", error: { code: "CANCELLED" } });
      expect(job.job.output).toBeUndefined();
      const state = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state`));
      expect(state.state.executionHistory.filter((i: any) => i.stepName === "mark")).toEqual([]);
      expect(await starterOf(orgId, jobId!).pending()).toBe(0);
      // The index converges on the end (the job's object writes its own row).
      const deadline = Date.now() + 30_000;
      let listed: any;
      do listed = await client.expect(200, client.get(`/organizations/${orgId}/jobs?status=CANCELLED`));
      while (listed.totalCount === 0 && Date.now() < deadline && (await new Promise((r) => setTimeout(r, 50)), true));
      expect(listed.jobs.map((j: any) => j.jobId)).toEqual([jobId]);
    },
    TIMEOUT,
  );

  it(
    "is waited for by GetJob's waitForTerminalSeconds, and GetWorkflowState shows it",
    async () => {
      const { client, orgId, ids } = await tenantWith(admin, quick);
      const [waited, read] = await heldBatch(orgId, ids.quick!, 2);
      await expectUnstarted(orgId, waited!);
      const done = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${waited}?waitForTerminalSeconds=30`));
      expect(done.job).toMatchObject({ jobId: waited, status: "SUCCEEDED", output: { done: true } });

      expect(await exists(read!)).toBe(false);
      const state = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${read}/state`));
      expect(state.state.executionData).toMatchObject({ workflowInput: { n: 1 } });
      const metadata = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${read}/state/metadata`));
      expect(metadata.runNumber).toBe(1);
    },
    TIMEOUT,
  );

  it(
    "is not started, nor shown, for another organization's caller",
    async () => {
      const { orgId, ids } = await tenantWith(admin, held);
      const [jobId] = await heldBatch(orgId, ids.held!);
      const other = await newTenant(admin);
      expect((await admin.post(`/organizations/${other.orgId}/jobs/${jobId}/events`, { eventId: "go" })).status).toBe(404);
      expect((await admin.get(`/organizations/${other.orgId}/jobs/${jobId}/state`)).status).toBe(404);
      await expectUnstarted(orgId, jobId!);
    },
    TIMEOUT,
  );

  it(
    "is the job a SubmitJob under the same idempotency key answers, and runs with the batch's input, not the SubmitJob's",
    async () => {
      const { client, orgId, ids } = await tenantWith(admin, quick);
      const workflowId = ids.quick!;
      const [jobId] = await heldBatch(orgId, workflowId, 1, "the-key");
      await expectUnstarted(orgId, jobId!);
      const again = await client.expect(200, client.post(`/organizations/${orgId}/jobs`, { workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: { n: 99 }, idempotencyKey: "the-key" }));
      expect(again.jobId).toBe(jobId);
      const done = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}?waitForTerminalSeconds=30`));
      expect(done.job).toMatchObject({ jobId, status: "SUCCEEDED" });
      const state = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state`));
      expect(state.state.executionData.workflowInput).toEqual({ n: 0 });
      expect(await starterOf(orgId, jobId!).pending()).toBe(0);
    },
    TIMEOUT,
  );
});
