// The bounds of the job index, its metric flushes and the tree deletion, each at its limit: what one
// call to an index shard carries, what one seal or one report holds, what one step of a tree's
// deletion hands over or removes.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { tenantWith, unique } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import type { JobObject } from "../../../src/job/job-object";
import { childReport } from "../../../src/job/work";
import { indexShard, writeIndex } from "../../../src/job-index/shards";
import type { JobSummary } from "../../../src/engine/types";
import type { Increment } from "../../../src/metrics/types";
import {
  LEGACY_INDEX_MIGRATION_BATCH,
  MAX_INCREMENTS_PER_FLUSH,
  MAX_INDEX_WRITES_PER_CALL,
  MAX_JOB_INDEX_SHARDS,
  METRIC_FLUSHES_PER_CALL,
  METRIC_FLUSHES_PER_REPORT,
  RETIRE_CHILDREN_PAGE,
  RETIRE_INDEX_ROWS_PER_CALL,
} from "../../../src/limits";

const HOUR = 3_600_000;
const quick = workflow("quick", [step("only", "/justworkflowit/noop")]);
const jobStub = (jobId: string): DurableObjectStub<JobObject> => env.JOBS.get(env.JOBS.idFromName(jobId));

function row(jobId: string, rootJobId: string): JobSummary {
  const at = new Date().toISOString();
  return {
    jobId,
    status: "SUCCEEDED",
    workflowId: "w",
    workflowName: "bounds",
    workflowVersion: { versionId: "v", versionNumber: 1 },
    submittedByUser: "tests",
    createdAt: at,
    updatedAt: at,
    rootJobId,
    ...(jobId !== rootJobId ? { parentJobId: rootJobId } : {}),
    billableTransactionUnits: 0,
    runNumber: 1,
  };
}

/** An ended top-level job to work on. */
async function endedJob() {
  const t = await tenantWith(admin, quick);
  const jobId = await submit(t.client, t.orgId, { workflowId: t.ids.quick, workflowVersion: { tag: "$LIVE" } });
  await waitForJob(t.client, t.orgId, jobId);
  return { ...t, jobId };
}

describe("the job index's bounds", () => {
  it(`takes ${MAX_INDEX_WRITES_PER_CALL} rows in one call and refuses more; a writer sends more in several calls`, async () => {
    const { orgId } = await tenantWith(admin);
    const root = crypto.randomUUID();
    const rows = Array.from({ length: MAX_INDEX_WRITES_PER_CALL + 1 }, (_, i) => ({ job: row(i === 0 ? root : crypto.randomUUID(), root), seq: 1 }));
    const shard = indexShard(env, orgId, 0);
    expect(await shard.write(rows)).toMatchObject({ ok: false, error: { code: "PayloadTooLarge", message: expect.stringContaining(`At most ${MAX_INDEX_WRITES_PER_CALL}`) } });
    expect((await shard.counts()).jobs).toBe(0);
    await writeIndex(env, { organizationId: orgId, shards: 1 }, rows);
    expect((await shard.counts()).jobs).toBe(MAX_INDEX_WRITES_PER_CALL + 1);
    // A tree's rows go at most RETIRE_INDEX_ROWS_PER_CALL a call.
    expect(await shard.deleteTreeRows(root, RETIRE_INDEX_ROWS_PER_CALL)).toEqual({ deleted: RETIRE_INDEX_ROWS_PER_CALL });
    expect(await shard.deleteTreeRows(root, RETIRE_INDEX_ROWS_PER_CALL)).toEqual({ deleted: 1 });
    expect((await shard.counts()).jobs).toBe(0);
  });

  it(`takes ${METRIC_FLUSHES_PER_CALL} flushes in one call and refuses more`, async () => {
    const { orgId } = await tenantWith(admin);
    const flushes = (n: number) => Array.from({ length: n }, () => ({ key: crypto.randomUUID(), increments: [] as Increment[] }));
    const shard = indexShard(env, orgId, 0);
    expect(await shard.addMetrics(flushes(METRIC_FLUSHES_PER_CALL), Date.now())).toEqual({ ok: true, value: { added: 0 } });
    expect(await shard.addMetrics(flushes(METRIC_FLUSHES_PER_CALL + 1), Date.now())).toMatchObject({ ok: false, error: { code: "PayloadTooLarge" } });
  });

  it(`creates an organization with ${MAX_JOB_INDEX_SHARDS} shards, and copies at most ${LEGACY_INDEX_MIGRATION_BATCH} old rows a call`, async () => {
    const name = unique("wide");
    expect((await admin.post("/organizations", { name, displayName: name, jobIndexShards: MAX_JOB_INDEX_SHARDS })).status).toBe(200);
    expect((await admin.post(`/admin/migrate-job-index?batch=${LEGACY_INDEX_MIGRATION_BATCH}`)).status).toBe(200);
    expect((await admin.post(`/admin/migrate-job-index?batch=${LEGACY_INDEX_MIGRATION_BATCH + 1}`)).status).toBe(400);
  });
});

describe("a job's metric flushes", () => {
  it(`seal at most ${MAX_INCREMENTS_PER_FLUSH} increments each, and a report carries at most ${METRIC_FLUSHES_PER_REPORT}`, async () => {
    const { jobId } = await endedJob();
    const hour = Math.floor(Date.now() / HOUR) * HOUR;
    // Three adopted flushes of 300 distinct buckets each: 900 increments in all.
    const adopted = Array.from({ length: 3 }, (_, f) => ({
      key: crypto.randomUUID(),
      increments: Array.from({ length: 300 }, (_, i): Increment => ["w", "step_failures", hour - (f * 300 + i) * HOUR, 1, 1, 1]),
    }));
    const sealed = await runInDurableObject(jobStub(jobId), (o: JobObject) => {
      o.store.transaction(() => {
        o.store.metrics.adopt(adopted, Date.now(), 60_000);
        o.store.metrics.seal(Date.now());
      });
      return o.store.metrics.outgoing(100);
    });
    expect(sealed.every((f) => f.increments.length <= MAX_INCREMENTS_PER_FLUSH)).toBe(true);
    // Every adopted observation is in one of them (the job's own, of its workflow, may be there too).
    expect(sealed.reduce((n, f) => n + f.increments.filter((inc) => inc[0] === "w").reduce((m, inc) => m + inc[3], 0), 0)).toBe(900);
    // Adopting the same keys again adds nothing: each is kept once.
    const again = await runInDurableObject(jobStub(jobId), (o: JobObject) => {
      o.store.transaction(() => o.store.metrics.adopt(adopted, Date.now(), 60_000));
      return o.store.tables.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM metric_sum`).one().n;
    });
    expect(again).toBe(0);

    const carried = await runInDurableObject(jobStub(jobId), (o: JobObject) => {
      o.store.transaction(() => {
        for (let i = 0; i < METRIC_FLUSHES_PER_REPORT + 5; i++) o.store.tables.sql.exec(`INSERT INTO metric_out (key, body, created_at) VALUES (?, '[]', ?)`, crypto.randomUUID(), Date.now());
      });
      return childReport(o.store, o.state!).metricFlushes?.length;
    });
    expect(carried).toBe(METRIC_FLUSHES_PER_REPORT);
  });
});

describe("a tree's deletion", () => {
  it(`hands over a run's children ${RETIRE_CHILDREN_PAGE} at a time, then deletes the run`, async () => {
    const { orgId, jobId } = await endedJob();
    const ids = await runInDurableObject(jobStub(jobId), (o: JobObject) => {
      const children = Array.from({ length: RETIRE_CHILDREN_PAGE + 1 }, () => crypto.randomUUID());
      o.store.transaction(() => {
        o.store.tables.ensure("child");
        o.store.tables.bulk(
          `INSERT INTO child (job_id, step, step_attempt, idx, key, spec, status) SELECT value ->> 0, 'fan', 1, value ->> 1, value ->> 1, '{}', 'SUCCEEDED' FROM json_each(?)`,
          children.map((id, i) => [id, i]),
        );
      });
      return children.sort();
    });
    const stub = jobStub(jobId);
    const first = await stub.purgeStep(orgId, jobId, "", 1);
    expect(first).toEqual({ kind: "children", ids: ids.slice(0, RETIRE_CHILDREN_PAGE), next: ids[RETIRE_CHILDREN_PAGE - 1] });
    expect(await stub.purgeStep(orgId, jobId, ids[RETIRE_CHILDREN_PAGE - 1]!, 1)).toEqual({ kind: "children", ids: ids.slice(RETIRE_CHILDREN_PAGE), next: ids[RETIRE_CHILDREN_PAGE] });
    // Another tree's root, or another organization, is never told to delete it.
    expect(await stub.purgeStep(orgId, crypto.randomUUID(), ids.at(-1)!, 1)).toEqual({ kind: "gone" });
    expect((await runInDurableObject(stub, (o: JobObject) => o.state))?.identity.jobId).toBe(jobId);
    expect(await stub.purgeStep(orgId, jobId, ids.at(-1)!, 1)).toEqual({ kind: "deleted" });
    expect(await stub.purgeStep(orgId, jobId, "", 1)).toEqual({ kind: "gone" });
  });
});
