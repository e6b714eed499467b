// A deployment upgraded with jobs in D1's old index keeps listing them: POST /admin/migrate-job-index
// copies a bounded batch of the old tables per call into the organizations' JobIndex objects and
// deletes it from D1, until nothing remains (docs/operating.md#moving-the-job-index-off-d1).
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { deployWorkflow, newTenant } from "../../helpers/client";
import { step, submit, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";

const HOUR = 3_600_000;

/** A row of the old `jobs` table, as the code before issue 21 wrote it. */
function oldRow(orgId: string, jobId: string, over: Record<string, unknown> = {}) {
  const created = new Date(Date.now() - 60_000).toISOString();
  return {
    job_id: jobId,
    organization_id: orgId,
    workflow_id: "wf-1",
    workflow_name: "legacy",
    version_id: "v-1",
    version_number: 1,
    status: "SUCCEEDED",
    submitted_by_user: "tests",
    parent_job_id: null,
    parent_step_name: null,
    root_job_id: jobId,
    run_number: 1,
    created_at: created,
    updated_at: created,
    started_at: created,
    finished_at: created,
    billable_units: 2,
    error: null,
    index_seq: 3,
    schedule_id: null,
    scheduled_at: null,
    ...over,
  };
}

async function insertOld(rows: Record<string, unknown>[]): Promise<void> {
  await env.DB.batch(
    rows.map((r) => {
      const cols = Object.keys(r);
      return env.DB.prepare(`INSERT INTO jobs (${cols.join(", ")}) VALUES (${cols.map(() => "?").join(", ")})`).bind(...Object.values(r));
    }),
  );
}

describe("POST /admin/migrate-job-index", () => {
  it("copies the old index, keys and rollups in bounded batches, drops a deleted organization's, and lists them as before", async () => {
    const { orgId, client } = await newTenant(admin);
    const { workflowId } = await deployWorkflow(client, orgId, workflow("legacy", [step("only", "/justworkflowit/noop")]));
    const gone = await newTenant(admin);
    const [a, b, child, firstChild] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    await insertOld([
      oldRow(orgId, a, { api_auth_token_id: "token-1", current_step_name: "only" }),
      // Main's columns (migrations 0015, 0016) travel too: a rerun, its origin, a child's place.
      oldRow(orgId, b, { status: "FAILED", error: JSON.stringify({ code: "X", message: "boom" }), rerun_of_job_id: a, rerun_from_step: "only", trigger_id: "trigger-1" }),
      oldRow(orgId, child, { parent_job_id: a, parent_step_name: "fan", root_job_id: a, child_key: "1", child_index: 1 }),
      oldRow(orgId, firstChild, { parent_job_id: a, parent_step_name: "fan", root_job_id: a, child_key: "0", child_index: 0 }),
      oldRow(gone.orgId, crypto.randomUUID()),
    ]);
    const hour = Math.floor(Date.now() / HOUR) * HOUR;
    await env.DB.batch([
      env.DB.prepare(`INSERT INTO metric_rollups (organization_id, metric, hour_start, workflow_id, n, total, peak) VALUES (?, 'jobs_submitted', ?, ?, 7, 7, 1)`).bind(orgId, hour, workflowId),
      env.DB.prepare(`INSERT INTO idempotency_keys (organization_id, idempotency_key, job_id, created_at) VALUES (?, 'old-key', ?, ?)`).bind(orgId, a, Date.now() - HOUR),
      env.DB.prepare(`INSERT INTO metric_events (event_key, recorded_at) VALUES ('x:1', 0)`),
    ]);
    await admin.expect(200, admin.delete(`/organizations/${gone.orgId}`));

    expect((await client.post("/admin/migrate-job-index")).status).toBe(403);
    // Two rows per call: the third call finds the old tables empty.
    const first = await admin.expect(200, admin.post("/admin/migrate-job-index?batch=2"));
    expect(first.remaining.jobs).toBeGreaterThan(0);
    let report = first;
    for (let i = 0; i < 5 && Object.values(report.remaining).some((n) => n !== 0); i++) report = await admin.expect(200, admin.post("/admin/migrate-job-index?batch=2"));
    expect(report.remaining).toEqual({ jobs: 0, rollups: 0, keys: 0, eventKeys: 0 });
    expect((await admin.post("/admin/migrate-job-index?batch=0")).status).toBe(400);

    const listed = await client.expect(200, client.get(`/organizations/${orgId}/jobs`));
    expect(listed.totalCount).toBe(4);
    expect(listed.statusCounts).toMatchObject({ SUCCEEDED: 3, FAILED: 1 });
    const failed = listed.jobs.find((j: any) => j.jobId === b);
    expect(failed).toMatchObject({ status: "FAILED", error: { code: "X", message: "boom" }, billableTransactionUnits: 2, workflowName: "legacy", triggerId: "trigger-1", rerunOf: { jobId: a, fromStep: "only" } });
    expect(listed.jobs.find((j: any) => j.jobId === a)).toMatchObject({ apiAuthTokenId: "token-1", currentStepName: "only" });
    // Children in their step's order (childIndex), not by id; reruns by the rerunOf filter.
    const children = (await client.expect(200, client.get(`/organizations/${orgId}/jobs?parentJobId=${a}`))).jobs;
    expect(children.map((j: any) => [j.jobId, j.childIndex, j.childKey])).toEqual([
      [firstChild, 0, "0"],
      [child, 1, "1"],
    ]);
    expect((await client.expect(200, client.get(`/organizations/${orgId}/jobs?rerunOf=${a}`))).jobs.map((j: any) => j.jobId)).toEqual([b]);
    const qs = new URLSearchParams({ metric: "jobs_submitted", aggregation: "count", bucket: "hour", since: new Date(hour).toISOString(), until: new Date(hour + HOUR).toISOString() });
    expect((await client.expect(200, client.get(`/organizations/${orgId}/workflow-metrics/timeseries?${qs}`))).results).toEqual([{ timestamp: new Date(hour).toISOString(), value: 7 }]);
    // A second migration copies nothing twice.
    const again = await admin.expect(200, admin.post("/admin/migrate-job-index"));
    expect(again.copied).toEqual({ jobs: 0, rollups: 0, keys: 0 });
    expect((await client.expect(200, client.get(`/organizations/${orgId}/workflow-metrics/timeseries?${qs}`))).results[0].value).toBe(7);
    // The key keeps its job within its window.
    expect(await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" }, idempotencyKey: "old-key" })).toBe(a);
  });
});
