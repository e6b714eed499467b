/**
 * The job index as D1 held it before it moved to per-organization JobIndex objects (issue 21):
 * tables `jobs`, `idempotency_keys`, `metric_rollups` and `metric_events`. Nothing writes them any
 * more. An operator copies them over with POST /admin/migrate-job-index (src/api/routes/admin.ts;
 * docs/operating.md#moving-the-job-index-off-d1), a bounded batch per call, each batch deleted from
 * D1 once its shard has it; a tree's deletion and a deleted organization's purge also remove rows
 * that were never copied.
 */
import type { JobStatus } from "../engine/types";
import { siblingOrder } from "../job-index/entry";
import type { IndexEntry } from "../job-index/messages";
import type { JobSummary } from "../job/views";
import type { Increment, MetricType } from "../metrics/types";

interface JobRow {
  job_id: string;
  organization_id: string;
  workflow_id: string;
  workflow_name: string;
  version_id: string;
  version_number: number;
  status: JobStatus;
  submitted_by_user: string;
  parent_job_id: string | null;
  parent_step_name: string | null;
  root_job_id: string;
  run_number: number;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  finished_at: string | null;
  billable_units: number;
  error: string | null;
  index_seq: number;
  schedule_id: string | null;
  scheduled_at: string | null;
  // Columns of migrations 0015 and 0016 (the console's origin, order, step, lineage and pause).
  trigger_id: string | null;
  api_auth_token_id: string | null;
  child_key: string | null;
  child_index: number | null;
  current_step_name: string | null;
  rerun_of_job_id: string | null;
  rerun_from_step: string | null;
  paused: number | null;
}

function toSummary(r: JobRow): JobSummary {
  return {
    jobId: r.job_id,
    status: r.status,
    workflowId: r.workflow_id,
    workflowName: r.workflow_name,
    workflowVersion: { versionId: r.version_id, versionNumber: r.version_number },
    submittedByUser: r.submitted_by_user,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    ...(r.started_at ? { startedAt: r.started_at } : {}),
    ...(r.finished_at ? { finishedAt: r.finished_at } : {}),
    ...(r.parent_job_id ? { parentJobId: r.parent_job_id, parentStepName: r.parent_step_name ?? undefined } : {}),
    rootJobId: r.root_job_id,
    ...(r.schedule_id ? { scheduleId: r.schedule_id } : {}),
    ...(r.scheduled_at ? { scheduledAt: r.scheduled_at } : {}),
    ...(r.trigger_id ? { triggerId: r.trigger_id } : {}),
    ...(r.api_auth_token_id ? { apiAuthTokenId: r.api_auth_token_id } : {}),
    ...(r.child_key !== null && r.child_key !== undefined ? { childKey: r.child_key } : {}),
    ...(r.child_index !== null && r.child_index !== undefined ? { childIndex: r.child_index } : {}),
    billableTransactionUnits: r.billable_units,
    ...(r.current_step_name ? { currentStepName: r.current_step_name } : {}),
    ...(r.error ? { error: JSON.parse(r.error) } : {}),
    runNumber: r.run_number,
    ...(r.rerun_of_job_id ? { rerunOf: { jobId: r.rerun_of_job_id, fromStep: r.rerun_from_step ?? "" } } : {}),
    ...(r.paused ? { paused: true as const } : {}),
  };
}

/** Whether the old table is known to be empty in this isolate: once it is, nothing fills it again. */
let legacyJobsEmpty = false;

/** Deletes up to `limit` of a tree's rows from the old index; the count deleted (0 once the table is empty). */
export async function dropLegacyTreeRows(db: D1Database, organizationId: string, rootJobId: string, limit: number): Promise<number> {
  if (legacyJobsEmpty) return 0;
  const [deleted, any] = await db.batch([
    db
      .prepare(`DELETE FROM jobs WHERE rowid IN (SELECT rowid FROM jobs WHERE root_job_id = ? AND organization_id = ? LIMIT ?)`)
      .bind(rootJobId, organizationId, limit),
    db.prepare(`SELECT 1 AS one FROM jobs LIMIT 1`),
  ]);
  if (any!.results.length === 0) legacyJobsEmpty = true;
  return deleted!.meta.changes;
}

/** A batch of the old index's rows, as index entries of their organizations, and the batch's rowids. */
export async function legacyJobRows(db: D1Database, limit: number): Promise<{ rowids: number[]; entries: { organizationId: string; entry: IndexEntry }[] }> {
  const { results } = await db.prepare(`SELECT rowid AS rid, * FROM jobs ORDER BY rowid LIMIT ?`).bind(limit).all<JobRow & { rid: number }>();
  return {
    rowids: results.map((r) => r.rid),
    entries: results.map((r) => {
      const job = toSummary(r);
      // D1 kept no step attempt's start: the creation time (a step's children share it) and the place in the step.
      const order = siblingOrder({ parentJobId: r.parent_job_id ?? undefined, createdAt: Date.parse(r.created_at), ...(r.child_index !== null && r.child_index !== undefined ? { childIndex: r.child_index } : {}) });
      return { organizationId: r.organization_id, entry: { job, seq: r.index_seq, ...(order !== undefined ? { order } : {}) } };
    }),
  };
}

/** A batch of the old rollups, each as a flush with a key of its own (copied twice, counted once). */
export async function legacyRollups(db: D1Database, limit: number): Promise<{ flushes: { organizationId: string; key: string; increment: Increment }[] }> {
  const { results } = await db
    .prepare(`SELECT organization_id, metric, hour_start, workflow_id, n, total, peak FROM metric_rollups LIMIT ?`)
    .bind(limit)
    .all<{ organization_id: string; metric: MetricType; hour_start: number; workflow_id: string; n: number; total: number; peak: number }>();
  return {
    flushes: results.map((r) => ({
      organizationId: r.organization_id,
      key: `d1-rollup:${r.organization_id}:${r.metric}:${r.hour_start}:${r.workflow_id}`,
      increment: [r.workflow_id, r.metric, r.hour_start, r.n, r.total, r.peak],
    })),
  };
}

/** A batch of the old idempotency keys still within their window. */
export async function legacyKeys(db: D1Database, limit: number): Promise<{ rowids: number[]; keys: { organizationId: string; key: string; jobId: string; createdAt: number }[] }> {
  const { results } = await db
    .prepare(`SELECT rowid AS rid, organization_id, idempotency_key, job_id, created_at FROM idempotency_keys ORDER BY rowid LIMIT ?`)
    .bind(limit)
    .all<{ rid: number; organization_id: string; idempotency_key: string; job_id: string; created_at: number }>();
  return {
    rowids: results.map((r) => r.rid),
    keys: results.map((r) => ({ organizationId: r.organization_id, key: r.idempotency_key, jobId: r.job_id, createdAt: r.created_at })),
  };
}

/** Deletes copied rollups (the table has no rowid: by their primary key). */
export async function deleteLegacyRollups(db: D1Database, flushes: { organizationId: string; increment: Increment }[]): Promise<void> {
  if (flushes.length === 0) return;
  await db
    .prepare(
      `DELETE FROM metric_rollups WHERE (organization_id, metric, hour_start, workflow_id) IN
         (SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(?))`,
    )
    .bind(JSON.stringify(flushes.map((f) => [f.organizationId, f.increment[1], f.increment[2], f.increment[0]])))
    .run();
}

/** Deletes copied rows of one old table by rowid. */
export async function deleteLegacyRows(db: D1Database, table: "jobs" | "idempotency_keys", rowids: number[]): Promise<void> {
  if (rowids.length === 0) return;
  await db.prepare(`DELETE FROM ${table} WHERE rowid IN (SELECT value FROM json_each(?))`).bind(JSON.stringify(rowids)).run();
}

/** Deletes up to `limit` old event keys (they only deduplicated D1's own writes). */
export async function dropLegacyEventKeys(db: D1Database, limit: number): Promise<number> {
  return (await db.prepare(`DELETE FROM metric_events WHERE event_key IN (SELECT event_key FROM metric_events LIMIT ?)`).bind(limit).run()).meta.changes;
}

/** What remains in the old tables. */
export async function legacyRemaining(db: D1Database): Promise<{ jobs: number; rollups: number; keys: number; eventKeys: number }> {
  const row = await db
    .prepare(
      `SELECT (SELECT COUNT(*) FROM jobs) AS jobs, (SELECT COUNT(*) FROM metric_rollups) AS rollups,
         (SELECT COUNT(*) FROM idempotency_keys) AS keys, (SELECT COUNT(*) FROM metric_events) AS eventKeys`,
    )
    .first<{ jobs: number; rollups: number; keys: number; eventKeys: number }>();
  return row ?? { jobs: 0, rollups: 0, keys: 0, eventKeys: 0 };
}

/** Deletes up to `limit` rows of each old table that belong to a deleted organization; the rows deleted. */
export async function dropLegacyOrganization(db: D1Database, organizationId: string, limit: number): Promise<number> {
  const results = await db.batch([
    db.prepare(`DELETE FROM jobs WHERE rowid IN (SELECT rowid FROM jobs WHERE organization_id = ? LIMIT ?)`).bind(organizationId, limit),
    db
      .prepare(
        `DELETE FROM metric_rollups WHERE (organization_id, metric, hour_start, workflow_id) IN
           (SELECT organization_id, metric, hour_start, workflow_id FROM metric_rollups WHERE organization_id = ? LIMIT ?)`,
      )
      .bind(organizationId, limit),
    db.prepare(`DELETE FROM idempotency_keys WHERE rowid IN (SELECT rowid FROM idempotency_keys WHERE organization_id = ? LIMIT ?)`).bind(organizationId, limit),
  ]);
  return results.reduce((n, r) => n + r.meta.changes, 0);
}
