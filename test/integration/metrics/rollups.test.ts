// Metrics come from rollups that jobs' Durable Objects fold their events into and flush to their
// organization's job index as jobs and steps end (no row per step anywhere shared), read through
// GetWorkflowMetricTimeSeries with the client's query parameters and response shape.
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { newTenant, tenantWith } from "../../helpers/client";
import type { TestClient } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import { fakeOrigin, scenario } from "../integrations/fake";
import type { JobObject } from "../../../src/job/job-object";
import type { JobIndex } from "../../../src/job-index/job-index";
import { indexShard } from "../../../src/job-index/shards";
import { HOUR_MS, type Increment, type MetricFlush } from "../../../src/metrics/types";
import { METRIC_FLUSH_KEY_PRUNE_BATCH, METRIC_FLUSH_KEY_RETENTION_MS } from "../../../src/limits";

const noop = "/justworkflowit/noop";
const http = "/canopy/http";
const HOUR = 3_600_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function jobStub(jobId: string): DurableObjectStub<JobObject> {
  return env.JOBS.get(env.JOBS.idFromName(jobId));
}

/** A window around now, as the client sends it. */
function window(bucket: "hour" | "day" = "hour") {
  const now = Date.now();
  return { since: new Date(now - 2 * HOUR).toISOString(), until: new Date(now + 2 * HOUR).toISOString(), bucket };
}

async function series(client: TestClient, orgId: string, query: Record<string, string>) {
  const qs = new URLSearchParams({ ...window(), ...query }).toString();
  return client.expect(200, client.get(`/organizations/${orgId}/workflow-metrics/timeseries?${qs}`));
}

/** The sum of a series' values (all points fall in the window). */
async function total(client: TestClient, orgId: string, metric: string, aggregation = "count", extra: Record<string, string> = {}): Promise<number> {
  const { results } = await series(client, orgId, { metric, aggregation, ...extra });
  return results.reduce((n: number, p: { value: number }) => n + p.value, 0);
}

/** Polls until `metric` counts `expected` (the flush runs about a second after a job ends). */
async function waitForCount(client: TestClient, orgId: string, metric: string, expected: number, extra: Record<string, string> = {}): Promise<void> {
  const deadline = Date.now() + 30_000;
  let last = -1;
  while (Date.now() < deadline) {
    last = await total(client, orgId, metric, "count", extra);
    if (last === expected) return;
    await sleep(100);
  }
  throw new Error(`${metric} counted ${last}, expected ${expected}`);
}

describe("GetWorkflowMetricTimeSeries", () => {
  it("counts jobs and steps of several multi-step jobs once each, per workflow and across them", async () => {
    const busy = await scenario("metrics-503", [{ status: 503, body: "busy" }]);
    const three = workflow("three", [step("a", noop, {}, "b"), step("b", noop, {}, "c"), step("c", noop)]);
    const flaky = workflow("flaky", [step("call", http, { retries: 1, retryPolicy: { initialIntervalSeconds: 0.05 }, config: { url: `${fakeOrigin()}/s/${busy}` } })]);
    const { client, orgId, ids } = await tenantWith(admin, three, flaky);
    const jobs: string[] = [];
    for (let i = 0; i < 3; i++) jobs.push(await submit(client, orgId, { workflowName: "three", workflowVersion: { tag: "$LIVE" }, inputJson: "{}" }));
    jobs.push(await submit(client, orgId, { workflowName: "flaky", workflowVersion: { tag: "$LIVE" }, inputJson: "{}" }));
    for (const id of jobs) await waitForJob(client, orgId, id);

    await waitForCount(client, orgId, "jobs_submitted", 4);
    await waitForCount(client, orgId, "step_duration_seconds", 3 * 3 + 2);
    expect(await total(client, orgId, "jobs_completed_successfully")).toBe(3);
    expect(await total(client, orgId, "jobs_failed")).toBe(1);
    expect(await total(client, orgId, "step_failures")).toBe(2);
    expect(await total(client, orgId, "step_retries")).toBe(1);
    expect(await total(client, orgId, "job_duration_seconds")).toBe(4);
    expect(await total(client, orgId, "job_timeout_count")).toBe(0);
    // Each attempt is a unit: 3 jobs × 3 steps, and the flaky job's two attempts.
    expect(await total(client, orgId, "billable_transaction_units", "sum")).toBe(11);

    // Per workflow (an extension): the same counts split.
    expect(await total(client, orgId, "step_duration_seconds", "count", { workflowId: ids.three! })).toBe(9);
    expect(await total(client, orgId, "step_duration_seconds", "count", { workflowId: ids.flaky! })).toBe(2);
    expect(await total(client, orgId, "billable_transaction_units", "max", { workflowId: ids.three! })).toBe(3);
    expect(await total(client, orgId, "billable_transaction_units", "avg", { workflowId: ids.flaky! })).toBe(2);
    const avg = await series(client, orgId, { metric: "step_duration_seconds", aggregation: "avg" });
    for (const p of avg.results) expect(p.value).toBeGreaterThanOrEqual(0);

    // The client's shape: RFC 3339 bucket starts, hour-aligned; day buckets add up the hours.
    const hourly = await series(client, orgId, { metric: "jobs_submitted", aggregation: "count" });
    for (const p of hourly.results) {
      expect(Object.keys(p).sort()).toEqual(["timestamp", "value"]);
      expect(Date.parse(p.timestamp) % HOUR).toBe(0);
    }
    const daily = await series(client, orgId, { metric: "jobs_submitted", aggregation: "count", ...window("day") });
    expect(daily.results.reduce((n: number, p: { value: number }) => n + p.value, 0)).toBe(4);
    for (const p of daily.results) expect(Date.parse(p.timestamp) % (24 * HOUR)).toBe(0);

    // A metric nothing recorded yet: an empty series, not an error.
    expect((await series(client, orgId, { metric: "resource_utilization", aggregation: "avg" })).results).toEqual([]);
  });

  it("counts nothing twice when a flush is sent again after the index took it", async () => {
    const three = workflow("three", [step("a", noop, {}, "b"), step("b", noop, {}, "c"), step("c", noop)]);
    const { client, orgId } = await tenantWith(admin, three);
    const jobId = await submit(client, orgId, { workflowName: "three", workflowVersion: { tag: "$LIVE" }, inputJson: "{}" });
    await waitForJob(client, orgId, jobId);
    await waitForCount(client, orgId, "step_duration_seconds", 3);
    const before = await total(client, orgId, "step_failures");

    // The job died between the index's commit and its own: its flush is still in its outbox, and the
    // index has counted it. Its alarm sends it again; the index knows the key and adds nothing.
    const flush: MetricFlush = { key: crypto.randomUUID(), increments: [["w", "step_failures", Math.floor(Date.now() / HOUR_MS) * HOUR_MS, 5, 5, 1]] };
    await indexShard(env, orgId, 0).addMetrics([flush], Date.now());
    expect(await total(client, orgId, "step_failures")).toBe(before + 5);
    const stub = jobStub(jobId);
    await runInDurableObject(stub, (o: JobObject) => {
      o.store.transaction(() => {
        o.store.tables.ensure("metric_out");
        o.store.tables.sql.exec(`INSERT INTO metric_out (key, body, created_at) VALUES (?, ?, ?)`, flush.key, JSON.stringify(flush.increments), Date.now());
        o.store.queue.enqueue({ id: "metrics", kind: "metrics", payload: null, dueAt: Date.now(), coalesce: true });
      });
      o.armAlarm(Date.now());
      expect(o.store.metrics.hasPending()).toBe(true);
    });
    // The alarm may already be running by itself: run it (again) until the outbox is empty.
    const deadline = Date.now() + 30_000;
    while (await runInDurableObject(stub, (o: JobObject) => o.store.metrics.hasPending())) {
      if (Date.now() > deadline) throw new Error("the flush was never sent again");
      await runDurableObjectAlarm(stub);
      await sleep(50);
    }
    expect(await total(client, orgId, "step_failures")).toBe(before + 5);
  });

  it("counts a fan-out's children through their parent: the children owe no flush and set no alarm", async () => {
    const item = workflow("item", [step("reserve", noop, {}, "ship"), step("ship", noop)]);
    const parent = workflow("batch", [
      step("fan", "/justworkflowit/runChildJob", { config: { children: [{ workflowName: "item", workflowVersion: { tag: "$LIVE" }, forEach: { arrayPath: "workflowInput.items" } }] } }),
    ]);
    const { client, orgId, ids } = await tenantWith(admin, item, parent);
    const n = 30;
    const jobId = await submit(client, orgId, { workflowName: "batch", workflowVersion: { tag: "$LIVE" }, inputJson: JSON.stringify({ items: Array.from({ length: n }, (_, i) => ({ i })) }) });
    expect((await waitForJob(client, orgId, jobId)).job.status).toBe("SUCCEEDED");
    await waitForCount(client, orgId, "jobs_submitted", n + 1);
    await waitForCount(client, orgId, "step_duration_seconds", 2 * n, { workflowId: ids.item! });
    expect(await total(client, orgId, "jobs_completed_successfully", "count", { workflowId: ids.item! })).toBe(n);
    expect(await total(client, orgId, "jobs_completed_successfully", "count", { workflowId: ids.batch! })).toBe(1);
    // Units count in the workflow that used them: the parent's one attempt, each child's two.
    expect(await total(client, orgId, "billable_transaction_units", "sum", { workflowId: ids.batch! })).toBe(1);
    expect(await total(client, orgId, "billable_transaction_units", "sum", { workflowId: ids.item! })).toBe(2 * n);
    const children = await client.expect(200, client.get(`/organizations/${orgId}/jobs?parentJobId=${jobId}&pageSize=100`));
    expect(children.totalCount).toBe(n);
    for (const { jobId: childId } of children.jobs.slice(0, 5)) {
      const owed = await runInDurableObject(jobStub(childId), async (o: JobObject, ctx) => ({
        work: o.store.queue.dueWork(Number.MAX_SAFE_INTEGER, 10).map((w) => w.id),
        alarm: await ctx.storage.getAlarm(),
      }));
      expect(owed).toEqual({ work: [], alarm: null });
    }
  });

  it("counts a resumed job's second end, and its units once", async () => {
    const id = await scenario("metrics-resume", [{ status: 500, body: "down" }, { json: { ok: true } }]);
    const wf = workflow("resumable", [step("prep", noop, {}, "call"), step("call", http, { config: { url: `${fakeOrigin()}/s/${id}` } })]);
    const { client, orgId } = await tenantWith(admin, wf);
    const jobId = await submit(client, orgId, { workflowName: "resumable", workflowVersion: { tag: "$LIVE" }, inputJson: "{}" });
    expect((await waitForJob(client, orgId, jobId)).job.status).toBe("FAILED");
    await waitForCount(client, orgId, "jobs_failed", 1);
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/resume`));
    const { job } = await waitForJob(client, orgId, jobId, (j) => j.status === "SUCCEEDED");
    await waitForCount(client, orgId, "jobs_completed_successfully", 1);
    expect(await total(client, orgId, "jobs_submitted")).toBe(1);
    expect(await total(client, orgId, "jobs_failed")).toBe(1);
    expect(await total(client, orgId, "step_failures")).toBe(1);
    // prep, the failed call, the resumed call: three units, counted once across both ends.
    expect(job.billableTransactionUnits).toBe(3);
    expect(await total(client, orgId, "billable_transaction_units", "sum")).toBe(3);
    expect(await total(client, orgId, "billable_transaction_units", "count")).toBe(2);
  });

  it("adds a flush once however often it arrives, and merges increments per bucket", async () => {
    const { client, orgId } = await newTenant(admin);
    const hour = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
    const inc = (n: number, total: number, peak: number): Increment => ["", "resource_utilization_used", hour, n, total, peak];
    const flushes: MetricFlush[] = [
      { key: crypto.randomUUID(), increments: [inc(1, 3, 3)] },
      { key: crypto.randomUUID(), increments: [inc(1, 5, 5)] },
    ];
    const shard = indexShard(env, orgId, 0);
    expect(await shard.addMetrics(flushes, Date.now())).toEqual({ ok: true, value: { added: 2 } });
    expect(await shard.addMetrics(flushes, Date.now())).toEqual({ ok: true, value: { added: 0 } });
    expect(await total(client, orgId, "resource_utilization_used", "count")).toBe(2);
    expect(await total(client, orgId, "resource_utilization_used", "sum")).toBe(8);
    expect(await total(client, orgId, "resource_utilization_used", "max")).toBe(5);
    expect(await total(client, orgId, "resource_utilization_used", "avg")).toBe(4);
  });

  it(`remembers flush keys for a week, pruning at least ${METRIC_FLUSH_KEY_PRUNE_BATCH} expired ones per call`, async () => {
    const { orgId } = await newTenant(admin);
    const shard = indexShard(env, orgId, 0);
    const expired = METRIC_FLUSH_KEY_PRUNE_BATCH + 50;
    const keys = () => runInDurableObject(shard, (_o: JobIndex, state) => state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM flush`).one().n);
    // Keys counted more than a week ago: a week is far longer than any retry of a flush.
    const long = Date.now() - METRIC_FLUSH_KEY_RETENTION_MS - HOUR_MS;
    await shard.addMetrics(Array.from({ length: 50 }, () => ({ key: crypto.randomUUID(), increments: [] })), long);
    for (let i = 0; i < METRIC_FLUSH_KEY_PRUNE_BATCH / 50; i++) await shard.addMetrics(Array.from({ length: 50 }, () => ({ key: crypto.randomUUID(), increments: [] })), long);
    expect(await keys()).toBe(expired);
    await shard.addMetrics([{ key: "fresh-1", increments: [] }], Date.now());
    expect(await keys()).toBe(expired - METRIC_FLUSH_KEY_PRUNE_BATCH + 1);
    await shard.addMetrics([{ key: "fresh-2", increments: [] }], Date.now());
    expect(await keys()).toBe(2);
  });

  it("refuses bad queries in the API's error format and hides other tenants", async () => {
    const { client, orgId } = await newTenant(admin);
    const other = await newTenant(admin);
    const base = `/organizations/${orgId}/workflow-metrics/timeseries`;
    const ok = { metric: "jobs_failed", aggregation: "count", ...window() };
    const q = (o: Record<string, string>) => `${base}?${new URLSearchParams(o).toString()}`;
    for (const bad of [
      { ...ok, metric: "cpu" },
      { ...ok, aggregation: "median" },
      { ...ok, bucket: "minute" },
      { ...ok, since: "yesterday" },
      { ...ok, until: ok.since },
      { ...ok, since: new Date(Date.now() - 200 * 24 * HOUR).toISOString() },
    ]) {
      const res = await client.get(q(bad));
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(res.body.code).toBe("ValidationError");
    }
    const { metric: _m, ...noMetric } = ok;
    expect((await client.get(q(noMetric))).status).toBe(400);
    expect((await client.get(q({ ...ok, workflowId: crypto.randomUUID() }))).body.code).toBe("NotFoundError");
    expect((await other.client.get(q(ok))).status).toBe(403);
  });
});
