/**
 * A job accepted and not started yet (a batch's, or a single submission held by its intake) is a
 * full citizen: SendJobEvent, CancelJob, GetJob's wait, GetWorkflowState and ListJobs all work on
 * it, through the HTTP API. The jobs are held unstarted
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
import { intakeShardOf, intakeStub } from "../../../src/intake/shards";
import { throughIntake } from "../../../src/intake/submit";
import { submitJob } from "../../../src/job/submit";

const TIMEOUT = 90_000;

const quick = workflow("quick", [step("mark", "/canopy/transform", { config: { output: { done: true } } })]);
const held = workflow("held", [step("hold", "/justworkflowit/waitForEventIds", { config: { eventIds: ["go"] } })]);

/**
 * The bindings with every holder's accept (a batch object's `accept`, an intake's `acceptGroup`)
 * followed, in the same turn, by its alarm's removal: the jobs stay unstarted.
 */
function withAlarmsHeld(): Env {
  // (The namespaces' own types are too deep for a generic proxy: typed loosely on purpose.)
  const hold = (ns: any, method: string): any =>
    new Proxy(ns, {
      get(target, prop) {
        if (prop !== "get") return Reflect.get(target, prop).bind(target);
        return (id: DurableObjectId) => {
          const real: DurableObjectStub<BatchStarter> = target.get(id);
          return new Proxy(real, {
            get(s, p) {
              if (p !== method) return Reflect.get(s, p);
              const inside = async (o: BatchStarter, state: DurableObjectState, args: unknown[]): Promise<unknown> => {
                const answer: unknown = await (o as any)[method](...args);
                await state.storage.deleteAlarm();
                return answer;
              };
              return (...args: unknown[]) => runInDurableObject(real, (o: BatchStarter, state) => inside(o, state, args));
            },
          });
        };
      },
    });
  const batches = hold(env.BATCH_STARTS, "accept");
  const intake = hold(env.INTAKE, "acceptGroup");
  return new Proxy(env, { get: (t, k) => (k === "BATCH_STARTS" ? batches : k === "INTAKE" ? intake : Reflect.get(t, k)) });
}

/** Submits `count` jobs of `workflowId` as one batch whose object's alarm never runs; their ids. */
async function heldBatch(orgId: string, workflowId: string, count = 1, idempotencyKey?: string): Promise<string[]> {
  const items: BatchItem[] = Array.from({ length: count }, (_, n) => ({ workflow: { workflowId }, version: { tag: "$LIVE" }, input: { n }, ...(idempotencyKey ? { idempotencyKey } : {}) }));
  const results = await submitBatch(withAlarmsHeld(), orgId, { submittedByUser: "tests" }, items);
  return results.map((r) => (r as { jobId: string }).jobId);
}

/** Submits `count` single jobs (SubmitJob's own path, through the intake) whose intake's alarm never runs. */
async function heldSingles(orgId: string, workflowId: string, count = 1): Promise<string[]> {
  const held = withAlarmsHeld();
  return Promise.all(
    Array.from({ length: count }, async (_, n) => {
      const req = { organizationId: orgId, workflow: { workflowId }, version: { tag: "$LIVE" }, input: { n }, submittedByUser: "tests" };
      return (await submitJob(held, req, throughIntake)).jobId;
    }),
  );
}

/** The object holding a job's start: its batch's, or its intake shard. */
const holderOf = (orgId: string, jobId: string): DurableObjectStub<BatchStarter> => {
  const tag = batchTagOf(jobId);
  return tag ? env.BATCH_STARTS.get(env.BATCH_STARTS.idFromName(batchStarterName(orgId, tag))) : intakeStub(env, intakeShardOf(jobId));
};

/** Whether the job's holder still holds its start. */
const holds = (orgId: string, jobId: string) =>
  runInDurableObject(holderOf(orgId, jobId), (_o: BatchStarter, state) =>
    state.storage.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM start WHERE job_id = ?`, jobId).one().n === 1,
  );

/** Whether the job's Durable Object holds a run (asked inside the object, not through the API). */
const exists = (jobId: string) => runInDurableObject(env.JOBS.get(env.JOBS.idFromName(jobId)), (o: JobObject) => o.state !== null);

async function expectUnstarted(orgId: string, jobId: string) {
  expect(await exists(jobId)).toBe(false);
  expect(await holds(orgId, jobId)).toBe(true);
}

const kinds = [
  ["a batch job", heldBatch],
  ["a single job (SubmitJob through the intake)", heldSingles],
] as const;

describe.each(kinds)("%s accepted and not started yet", (_kind, hold) => {
  it(
    "is listed PENDING, takes an event (200) and uses it once it runs",
    async () => {
      const { client, orgId, ids } = await tenantWith(admin, held);
      const [jobId] = await hold(orgId, ids.held!);
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
      expect(await holds(orgId, jobId!)).toBe(false);
    },
    TIMEOUT,
  );

  it(
    "is cancelled by CancelJob without running a step",
    async () => {
      const { client, orgId, ids } = await tenantWith(admin, quick);
      const [jobId] = await hold(orgId, ids.quick!);
      await expectUnstarted(orgId, jobId!);
      await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/cancel`));
      const job = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}`));
      expect(job.job).toMatchObject({ status: "CANCELLED", error: { code: "CANCELLED" } });
      expect(job.job.output).toBeUndefined();
      const state = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state`));
      expect(state.state.executionHistory.filter((i: any) => i.stepName === "mark")).toEqual([]);
      expect(await holds(orgId, jobId!)).toBe(false);
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
      const [waited, read] = await hold(orgId, ids.quick!, 2);
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
      const [jobId] = await hold(orgId, ids.held!);
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
      expect(await holderOf(orgId, jobId!).pending()).toBe(0);
    },
    TIMEOUT,
  );
});
