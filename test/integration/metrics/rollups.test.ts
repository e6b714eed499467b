// Metrics come from rollups the jobs' Durable Objects write as jobs and steps end, read through
// GetWorkflowMetricTimeSeries with the client's query parameters and response shape.
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { newTenant, tenantWith } from "../../helpers/client";
import type { TestClient } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import { fakeOrigin, scenario } from "../integrations/fake";
import type { JobObject } from "../../../src/job/job-object";
import { recordMetricEvents } from "../../../src/registry/metrics";
import type { MetricEvent } from "../../../src/metrics/types";

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

  it("counts nothing twice when a flush is repeated after D1 took it", async () => {
    const three = workflow("three", [step("a", noop, {}, "b"), step("b", noop, {}, "c"), step("c", noop)]);
    const { client, orgId } = await tenantWith(admin, three);
    const jobId = await submit(client, orgId, { workflowName: "three", workflowVersion: { tag: "$LIVE" }, inputJson: "{}" });
    await waitForJob(client, orgId, jobId);
    await waitForCount(client, orgId, "step_duration_seconds", 3);
    const before = await env.DB.prepare(`SELECT metric, hour_start, workflow_id, n, total, peak FROM metric_rollups WHERE organization_id = ? ORDER BY metric, hour_start`)
      .bind(orgId)
      .all();
    const keys = (await env.DB.prepare(`SELECT event_key FROM metric_events WHERE event_key LIKE ? || ':%'`).bind(jobId).all<{ event_key: string }>()).results.map((r) => r.event_key);
    // Three step ends, the submission, and the end: succeeded, duration, units.
    expect(keys).toHaveLength(3 + 1 + 3);

    // The object queues the same events again (as if it had died between D1's commit and its own)
    // with other values, and its alarm flushes them: D1 has counted those keys, so nothing changes.
    const stub = jobStub(jobId);
    await runInDurableObject(stub, (o: JobObject) => {
      const again: MetricEvent[] = keys.map((key) => ({ key, organizationId: orgId, workflowId: "w", metric: "step_failures", at: Date.now(), value: 1000 }));
      o.store.transaction(() => o.store.metrics.record(again, Date.now(), { reportsToParent: false, reportMax: 100, maxDelayMs: 0 }));
      o.armAlarm(Date.now());
      expect(o.store.metrics.pending(1000)).toHaveLength(keys.length);
    });
    await runDurableObjectAlarm(stub);
    await runDurableObjectAlarm(stub);
    await runInDurableObject(stub, (o: JobObject) => expect(o.store.metrics.hasPending()).toBe(false));
    const after = await env.DB.prepare(`SELECT metric, hour_start, workflow_id, n, total, peak FROM metric_rollups WHERE organization_id = ? ORDER BY metric, hour_start`)
      .bind(orgId)
      .all();
    expect(after.results).toEqual(before.results);
    expect(await total(client, orgId, "step_failures")).toBe(0);
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
    const { results } = await env.DB.prepare(`SELECT job_id FROM jobs WHERE parent_job_id = ?`).bind(jobId).all<{ job_id: string }>();
    expect(results).toHaveLength(n);
    for (const { job_id } of results.slice(0, 5)) {
      const owed = await runInDurableObject(jobStub(job_id), async (o: JobObject, ctx) => ({
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

  it("adds a batch once even when it is written twice, or holds the same event twice", async () => {
    const { client, orgId } = await newTenant(admin);
    const at = Date.now();
    const events: MetricEvent[] = [
      { key: `${orgId}:x:1`, organizationId: orgId, workflowId: "", metric: "resource_utilization_used", at, value: 3 },
      { key: `${orgId}:x:2`, organizationId: orgId, workflowId: "", metric: "resource_utilization_used", at, value: 5 },
      { key: `${orgId}:x:2`, organizationId: orgId, workflowId: "", metric: "resource_utilization_used", at, value: 5 },
    ];
    await recordMetricEvents(env.DB, events);
    await recordMetricEvents(env.DB, events);
    expect(await total(client, orgId, "resource_utilization_used", "count")).toBe(2);
    expect(await total(client, orgId, "resource_utilization_used", "sum")).toBe(8);
    expect(await total(client, orgId, "resource_utilization_used", "max")).toBe(5);
    expect(await total(client, orgId, "resource_utilization_used", "avg")).toBe(4);
  });

  it("prunes more expired event keys per flush than the flush records, so a backlog drains", async () => {
    const { orgId } = await newTenant(admin);
    const prefix = `${orgId}:expired:`;
    // 1,500 keys recorded at the epoch: the oldest there are, so they are pruned first.
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500)
       INSERT INTO metric_events (event_key, recorded_at) SELECT ?1 || i, 0 FROM n`,
    )
      .bind(prefix)
      .run();
    const left = async () =>
      (await env.DB.prepare(`SELECT COUNT(*) AS n FROM metric_events WHERE event_key LIKE ?1 || '%'`).bind(prefix).first<{ n: number }>())!.n;
    const flush = (round: number) =>
      recordMetricEvents(
        env.DB,
        Array.from({ length: 500 }, (_, i) => ({ key: `${orgId}:fresh:${round}:${i}`, organizationId: orgId, workflowId: "", metric: "resource_utilization_used" as const, at: Date.now(), value: 1 })),
      );
    await flush(1);
    // A full flush (METRICS_FLUSH_BATCH) inserted 500 keys: it pruned at least as many.
    expect(await left()).toBeLessThanOrEqual(1000);
    await flush(2);
    expect(await left()).toBe(0);
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
