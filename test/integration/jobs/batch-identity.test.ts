/**
 * A batch is safe to send again whatever happened to the first try. When the batch object's
 * accept throws after its commit (the object reset in a deploy), the API must not claim that
 * nothing was accepted while the object's alarm starts every job; a `batchKey` (extension) gives
 * the batch an identity, so sending it again finds the first accept and starts nothing twice.
 * The faults are injected around the real BatchStarter: its answer is lost after it committed, or
 * the call never reaches it.
 */
import { env, listDurableObjectIds, runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { tenantWith } from "../../helpers/client";
import { step, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import { submitBatch, type BatchItem } from "../../../src/job/batch";
import type { BatchStarter } from "../../../src/job/batch-starter";
import { ApiError } from "../../../src/errors";

const TIMEOUT = 90_000;
const held = workflow("held", [step("hold", "/justworkflowit/waitForEventIds", { config: { eventIds: ["go"] } })]);

type Fault = "answerLost" | "neverArrived";

/**
 * The Worker's bindings with the batch objects' `accept` failing `times` times: after its commit
 * (the answer is lost) or before reaching the object. Everything else is the real object.
 */
function withFaultyAccept(fault: Fault, times: number): { env: Env; stubs: DurableObjectStub<BatchStarter>[] } {
  let left = times;
  const stubs: DurableObjectStub<BatchStarter>[] = [];
  const ns = env.BATCH_STARTS;
  const faulty = new Proxy(ns, {
    get(target, prop) {
      if (prop !== "get") return Reflect.get(target, prop).bind(target);
      return (id: DurableObjectId) => {
        const real = target.get(id);
        stubs.push(real);
        return new Proxy(real, {
          get(s, p) {
            if (p !== "accept") return Reflect.get(s, p);
            return async (...args: Parameters<BatchStarter["accept"]>) => {
              if (left <= 0) return s.accept(...args);
              left--;
              if (fault === "answerLost") await s.accept(...args);
              throw new Error("Durable Object reset because its code was updated.");
            };
          },
        });
      };
    },
  });
  return { env: new Proxy(env, { get: (t, k) => (k === "BATCH_STARTS" ? faulty : Reflect.get(t, k)) }), stubs };
}

async function heldTenant() {
  const t = await tenantWith(admin, held);
  const items: BatchItem[] = [0, 1, 2].map((n) => ({ workflow: { workflowId: t.ids.held! }, version: { tag: "$LIVE" }, input: { n } }));
  return { ...t, items };
}

/** Every job of the organization, after the batch objects' alarms have run. */
async function jobsAfterStarts(client: Awaited<ReturnType<typeof heldTenant>>["client"], orgId: string, stubs: DurableObjectStub<BatchStarter>[], expected: number) {
  for (const s of stubs) await runDurableObjectAlarm(s);
  const { jobs } = await client.expect(200, client.get(`/organizations/${orgId}/jobs?pageSize=100`));
  for (const j of jobs) await waitForJob(client, orgId, j.jobId, (x) => x.status === "RUNNING");
  expect(jobs).toHaveLength(expected);
  return jobs as { jobId: string }[];
}

describe("a batch whose accept failed", () => {
  it(
    "is answered as accepted when the object took it and only the answer was lost: every job starts once",
    async () => {
      const { client, orgId, items } = await heldTenant();
      const faulty = withFaultyAccept("answerLost", 1);
      const results = await submitBatch(faulty.env, orgId, { submittedByUser: "tests" }, items);
      expect(results.every((r) => "jobId" in r)).toBe(true);
      const jobs = await jobsAfterStarts(client, orgId, faulty.stubs, 3);
      expect(jobs.map((j) => j.jobId).sort()).toEqual(results.map((r) => (r as { jobId: string }).jobId).sort());
    },
    TIMEOUT,
  );

  it(
    "without a batchKey, never says none was accepted unless it made sure: the object is sealed first, and a late accept is refused",
    async () => {
      const { client, orgId, items } = await heldTenant();
      const faulty = withFaultyAccept("neverArrived", 2);
      const error = await submitBatch(faulty.env, orgId, { submittedByUser: "tests" }, items).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ApiError);
      expect((error as ApiError).message).toContain("none of it was accepted");
      // The accept that never arrived arrives now: it is refused, so nothing starts.
      const late = await faulty.stubs[0]!.accept({}, []);
      expect(late).toMatchObject({ refused: "sealed" });
      await jobsAfterStarts(client, orgId, faulty.stubs, 0);
    },
    TIMEOUT,
  );

  it(
    "with a batchKey, sent again, finds the first accept: the same job ids, nothing started twice, whatever became of the first",
    async () => {
      const { client, orgId, items } = await heldTenant();
      // Every accept of the first try loses its answer: its outcome is unknown to the API.
      const faulty = withFaultyAccept("answerLost", 2);
      const error = await submitBatch(faulty.env, orgId, { submittedByUser: "tests" }, items, "nightly-2026-12-07").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ApiError);
      expect((error as ApiError).message).toContain("may have been accepted");
      expect((error as ApiError).message).toContain("same batchKey");
      // The client sends it again with the same key.
      const again = await submitBatch(env, orgId, { submittedByUser: "tests" }, items, "nightly-2026-12-07");
      const jobs = await jobsAfterStarts(client, orgId, [...faulty.stubs], 3);
      expect(jobs.map((j) => j.jobId).sort()).toEqual(again.map((r) => (r as { jobId: string }).jobId).sort());
      // And once more: the same answer, still three jobs.
      expect(await submitBatch(env, orgId, { submittedByUser: "tests" }, items, "nightly-2026-12-07")).toEqual(again);
      await jobsAfterStarts(client, orgId, [], 3);
    },
    TIMEOUT,
  );

  it(
    "a batchKey names one batch: the same key with other jobs is a 409, and another organization's key is its own",
    async () => {
      const { client, orgId, ids } = await heldTenant();
      const body = (n: number) => ({ batchKey: "k1", jobs: [{ workflowId: ids.held, workflowVersion: { tag: "$LIVE" }, inputJson: { n } }] });
      const first = await client.expect(200, client.post(`/organizations/${orgId}/jobs/batch`, body(1)));
      const same = await client.expect(200, client.post(`/organizations/${orgId}/jobs/batch`, body(1)));
      expect(same.results).toEqual(first.results);
      const other = await client.post(`/organizations/${orgId}/jobs/batch`, body(2));
      expect(other.status).toBe(409);
      expect(other.body.message).toContain("batchKey");
      const elsewhere = await heldTenant();
      const theirs = await elsewhere.client.expect(200, elsewhere.client.post(`/organizations/${elsewhere.orgId}/jobs/batch`, { batchKey: "k1", jobs: [{ workflowId: elsewhere.ids.held, workflowVersion: { tag: "$LIVE" }, inputJson: { n: 1 } }] }));
      expect(theirs.results[0].jobId).not.toBe(first.results[0].jobId);
      expect((await listDurableObjectIds(env.BATCH_STARTS)).length).toBeGreaterThan(0);
    },
    TIMEOUT,
  );
});
