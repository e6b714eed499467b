/**
 * A call must not outlive the alarm invocation that sends it (Cloudflare stops one after 15
 * minutes), and an invocation that dies mid-call must not leave the job without an alarm. Inside
 * workerd: the far end hangs, the job's object is reset mid-call as a dying invocation would be,
 * and the call is sent again after its deadline, from the alarm armed before it went out.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { deployWorkflow, newTenant } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import type { JobObject } from "../../../src/job/job-object";
import { runObjectName } from "../../../src/job/naming";
import { CALL_LEASE_MARGIN_MS, MAX_CALL_SENDS, MAX_CALL_TIMEOUT_MS } from "../../../src/limits";
import { fakeOrigin, scenario, seen } from "../integrations/fake";

const TIMEOUT = 90_000;
const http = "/canopy/http";
const stub = (jobId: string): DurableObjectStub<JobObject> => env.JOBS.get(env.JOBS.idFromName(runObjectName(jobId, 1)));

/** Waits until the far end has received `n` requests of scenario `id`. */
async function untilSeen(id: string, n: number) {
  for (let i = 0; i < 500; i++) {
    if ((await seen(id)).length >= n) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`scenario ${id} never received ${n} requests`);
}

/** The call's work item and the object's alarm, read while the call is in flight. */
const inFlight = (jobId: string) =>
  runInDurableObject(stub(jobId), async (_o: JobObject, ctx) => ({
    alarm: await ctx.storage.getAlarm(),
    item: ctx.storage.sql.exec<{ due_at: number; attempts: number }>(`SELECT due_at, attempts FROM work WHERE kind = 'call'`).toArray()[0],
  }));

/** As if the lease had run out: the call's item is due now. */
const leaseOver = (jobId: string) =>
  runInDurableObject(stub(jobId), (_o: JobObject, ctx) => void ctx.storage.sql.exec(`UPDATE work SET due_at = ? WHERE kind = 'call'`, Date.now()));

describe("a call and its alarm invocation", () => {
  it(
    "arms the alarm past the call's deadline before the call goes out; an invocation abandoned mid-call is recovered by it",
    async () => {
      const id = await scenario("abandoned", [{ hang: true }, { json: { done: true } }]);
      const { client, orgId } = await newTenant(admin);
      const timeoutMs = 60_000;
      const { workflowId } = await deployWorkflow(client, orgId, workflow("slow", [step("call", http, { retries: 0, config: { url: `${fakeOrigin()}/s/${id}/x`, timeoutMs } })]));
      const sentAt = Date.now();
      const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" } });
      await untilSeen(id, 1);

      // The call is in flight: its item is leased until its deadline, and the alarm armed for then.
      const during = await inFlight(jobId);
      expect(during.item!.due_at).toBeGreaterThanOrEqual(sentAt + timeoutMs + CALL_LEASE_MARGIN_MS);
      expect(during.item!.due_at).toBeLessThanOrEqual(Date.now() + timeoutMs + CALL_LEASE_MARGIN_MS);
      expect(during.alarm).not.toBeNull();
      expect(during.alarm!).toBeLessThanOrEqual(during.item!.due_at);

      // The invocation dies mid-call (its isolate is reset, as in a deploy or past its wall time).
      await runInDurableObject(stub(jobId), (_o: JobObject, ctx) => ctx.abort("the alarm invocation died")).catch(() => undefined);
      const after = await inFlight(jobId);
      expect(after.alarm).not.toBeNull();
      expect(after.item!.due_at).toBe(during.item!.due_at);
      // A retry of the dead invocation before the deadline sends nothing again.
      await runDurableObjectAlarm(stub(jobId));
      expect(await seen(id)).toHaveLength(1);

      // Once the deadline has passed, the alarm sends the call again and the job goes on.
      await leaseOver(jobId);
      await runDurableObjectAlarm(stub(jobId));
      const { job } = await waitForJob(client, orgId, jobId, undefined, 30_000);
      expect(job).toMatchObject({ status: "SUCCEEDED", output: { done: true } });
      expect(await seen(id)).toHaveLength(2);
    },
    TIMEOUT,
  );

  it(
    `fails the attempt with CALL_ABANDONED once its call was sent ${MAX_CALL_SENDS} times without an answer recorded`,
    async () => {
      const id = await scenario("abandoned-thrice", [{ hang: true }]);
      const { client, orgId } = await newTenant(admin);
      const { workflowId } = await deployWorkflow(client, orgId, workflow("slow", [step("call", http, { retries: 0, config: { url: `${fakeOrigin()}/s/${id}/x`, timeoutMs: 60_000 } })]));
      const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" } });
      for (let sends = 1; sends <= MAX_CALL_SENDS; sends++) {
        await untilSeen(id, sends);
        expect((await inFlight(jobId)).item!.attempts).toBe(sends);
        await runInDurableObject(stub(jobId), (_o: JobObject, ctx) => ctx.abort("the alarm invocation died")).catch(() => undefined);
        await leaseOver(jobId);
        // Not awaited: the pass sends the call again, which hangs until the next reset.
        void runDurableObjectAlarm(stub(jobId)).catch(() => undefined);
      }
      const { job } = await waitForJob(client, orgId, jobId, undefined, 30_000);
      expect(job).toMatchObject({ status: "FAILED", error: { code: "CALL_ABANDONED", stepName: "call" } });
      expect(await seen(id)).toHaveLength(MAX_CALL_SENDS);
    },
    TIMEOUT,
  );

  it(
    "caps a call of a version stored with a larger timeoutMs at MAX_CALL_TIMEOUT_MS: it still runs",
    async () => {
      const id = await scenario("legacy", [{ hang: true }, { json: { ok: 1 } }]);
      const { client, orgId } = await newTenant(admin);
      const { workflowId } = await deployWorkflow(client, orgId, workflow("legacy", [step("call", http, { config: { url: `${fakeOrigin()}/s/${id}/x` } })]));
      // A version registered before the bound existed, with an hour-long call: stored as it is.
      const legacy = workflow("legacy", [step("call", http, { config: { url: `${fakeOrigin()}/s/${id}/x`, timeoutMs: 3_600_000 }, timeoutSeconds: 7200 })]);
      await env.DB.prepare(`INSERT INTO workflow_versions (version_id, workflow_id, version_number, definition, created_at) VALUES (?, ?, 2, ?, ?)`)
        .bind(crypto.randomUUID(), workflowId, JSON.stringify(legacy), new Date().toISOString())
        .run();
      const sentAt = Date.now();
      const jobId = await submit(client, orgId, { workflowId, workflowVersion: { versionNumber: 2 } });
      await untilSeen(id, 1);
      const during = await inFlight(jobId);
      expect(during.item!.due_at).toBeGreaterThanOrEqual(sentAt + MAX_CALL_TIMEOUT_MS + CALL_LEASE_MARGIN_MS);
      expect(during.item!.due_at).toBeLessThanOrEqual(Date.now() + MAX_CALL_TIMEOUT_MS + CALL_LEASE_MARGIN_MS);
      // It runs on: the next send answers.
      await runInDurableObject(stub(jobId), (_o: JobObject, ctx) => ctx.abort("reset")).catch(() => undefined);
      await leaseOver(jobId);
      await runDurableObjectAlarm(stub(jobId));
      expect((await waitForJob(client, orgId, jobId, undefined, 30_000)).job).toMatchObject({ status: "SUCCEEDED", output: { ok: 1 } });
    },
    TIMEOUT,
  );
});
