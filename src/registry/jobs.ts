/** The D1 job index: written by each job's Durable Object at status changes, read by ListJobs. */
import { ValidationError } from "../errors";
import type { JobStatus } from "../engine/types";
import { MAX_INDEXED_ERROR_MESSAGE_CHARS } from "../limits";
import type { JobSummary } from "../job/views";

const JOB_STATUSES: readonly JobStatus[] = ["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"];

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
  schedule_id: string | null;
  scheduled_at: string | null;
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

/**
 * Writes a job's row. `seq` only grows per job, so a delayed retry carrying older facts never
 * overwrites newer ones: the index converges on the Durable Object's state.
 */
export async function upsertJobIndex(db: D1Database, organizationId: string, job: JobSummary, seq: number): Promise<void> {
  await upsertStatement(db, organizationId, job, seq).run();
}

/** Writes many jobs' rows in one D1 round trip (a parent indexing a batch of its children). */
export async function upsertJobIndexBatch(db: D1Database, rows: { organizationId: string; job: JobSummary; seq: number }[]): Promise<void> {
  if (rows.length === 0) return;
  await db.batch(rows.map((r) => upsertStatement(db, r.organizationId, r.job, r.seq)));
}

/** Rows of one `json_each` insert: about 400 bytes each, well under D1's 2 MB per bound value. */
const FIRST_ROWS_PER_STATEMENT = 500;

/**
 * Lists accepted jobs before their Durable Objects exist (a batch submission): each gets its first
 * row, PENDING at index_seq 0, in one D1 round trip. A row that exists is left alone.
 */
export async function insertFirstIndexRows(db: D1Database, organizationId: string, jobs: JobSummary[]): Promise<void> {
  const statements: D1PreparedStatement[] = [];
  for (let i = 0; i < jobs.length; i += FIRST_ROWS_PER_STATEMENT) {
    const rows = jobs.slice(i, i + FIRST_ROWS_PER_STATEMENT).map((j) => ({
      jobId: j.jobId,
      workflowId: j.workflowId,
      workflowName: j.workflowName,
      versionId: j.workflowVersion.versionId,
      versionNumber: j.workflowVersion.versionNumber,
      status: j.status,
      submittedByUser: j.submittedByUser,
      createdAt: j.createdAt,
    }));
    statements.push(
      db
        .prepare(
          `INSERT INTO jobs (job_id, organization_id, workflow_id, workflow_name, version_id, version_number, status,
             submitted_by_user, root_job_id, run_number, created_at, updated_at, billable_units, index_seq)
           SELECT json_extract(value, '$.jobId'), ?1, json_extract(value, '$.workflowId'), json_extract(value, '$.workflowName'),
             json_extract(value, '$.versionId'), json_extract(value, '$.versionNumber'), json_extract(value, '$.status'),
             json_extract(value, '$.submittedByUser'), json_extract(value, '$.jobId'), 1,
             json_extract(value, '$.createdAt'), json_extract(value, '$.createdAt'), 0, 0
           FROM json_each(?2) WHERE true
           ON CONFLICT (job_id) DO NOTHING`,
        )
        .bind(organizationId, JSON.stringify(rows)),
    );
  }
  if (statements.length > 0) await db.batch(statements);
}

/**
 * A job that was accepted but whose Durable Object does not exist yet: its first row (index_seq 0),
 * or null. `started` is true when the row shows that the job's object has written it since.
 */
export async function findIndexedJob(db: D1Database, organizationId: string, jobId: string): Promise<{ job: JobSummary; started: boolean } | null> {
  const row = await db
    .prepare(`SELECT * FROM jobs WHERE job_id = ? AND organization_id = ?`)
    .bind(jobId, organizationId)
    .first<JobRow & { index_seq: number }>();
  return row ? { job: toSummary(row), started: row.index_seq > 0 } : null;
}

/** Deletes the first rows of jobs whose start failed (see forgetUnstartedJob). */
export async function forgetUnstartedJobs(db: D1Database, jobIds: string[]): Promise<void> {
  await db.prepare(`DELETE FROM jobs WHERE index_seq = 0 AND job_id IN (SELECT value FROM json_each(?))`).bind(JSON.stringify(jobIds)).run();
}

/**
 * Deletes a job's first row, written by its submitter beside a start that then failed: only a row
 * that no Durable Object has written over (index_seq 0) goes.
 */
export async function forgetUnstartedJob(db: D1Database, jobId: string): Promise<void> {
  await db.prepare(`DELETE FROM jobs WHERE job_id = ? AND index_seq = 0`).bind(jobId).run();
}

type JobIndexError = NonNullable<JobSummary["error"]>;

/**
 * The error as the index keeps it: the message cut to MAX_INDEXED_ERROR_MESSAGE_CHARS, so that no
 * error (a transition's whole result, every complaint of a schema) can push a row past D1's limit.
 * The job's output is never indexed: it is read from the job itself.
 */
function indexedError(error: JobIndexError): JobIndexError {
  if (error.message.length <= MAX_INDEXED_ERROR_MESSAGE_CHARS) return error;
  let end = MAX_INDEXED_ERROR_MESSAGE_CHARS - 1;
  // Never keep half of a surrogate pair.
  if ((error.message.charCodeAt(end - 1) & 0xfc00) === 0xd800) end -= 1;
  return { ...error, message: `${error.message.slice(0, end)}…` };
}

function upsertStatement(db: D1Database, organizationId: string, job: JobSummary, seq: number): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO jobs (job_id, organization_id, workflow_id, workflow_name, version_id, version_number, status,
         submitted_by_user, parent_job_id, parent_step_name, root_job_id, run_number, created_at, updated_at,
         started_at, finished_at, billable_units, error, index_seq, schedule_id, scheduled_at,
         trigger_id, api_auth_token_id, child_key, child_index, current_step_name, rerun_of_job_id, rerun_from_step, paused)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29)
       ON CONFLICT (job_id) DO UPDATE SET
         workflow_id = excluded.workflow_id, version_id = excluded.version_id, version_number = excluded.version_number,
         status = excluded.status, run_number = excluded.run_number,
         updated_at = excluded.updated_at, started_at = excluded.started_at, finished_at = excluded.finished_at,
         billable_units = excluded.billable_units, error = excluded.error, index_seq = excluded.index_seq,
         trigger_id = excluded.trigger_id, api_auth_token_id = excluded.api_auth_token_id,
         child_key = excluded.child_key, child_index = excluded.child_index, current_step_name = excluded.current_step_name,
         rerun_of_job_id = excluded.rerun_of_job_id, rerun_from_step = excluded.rerun_from_step, paused = excluded.paused
       WHERE excluded.index_seq > jobs.index_seq`,
    )
    .bind(
      job.jobId,
      organizationId,
      job.workflowId,
      job.workflowName,
      job.workflowVersion.versionId,
      job.workflowVersion.versionNumber,
      job.status,
      job.submittedByUser,
      job.parentJobId ?? null,
      job.parentStepName ?? null,
      job.rootJobId ?? job.jobId,
      job.runNumber,
      job.createdAt,
      job.updatedAt,
      job.startedAt ?? null,
      job.finishedAt ?? null,
      job.billableTransactionUnits,
      job.error ? JSON.stringify(indexedError(job.error)) : null,
      seq,
      job.scheduleId ?? null,
      job.scheduledAt ?? null,
      job.triggerId ?? null,
      job.apiAuthTokenId ?? null,
      job.childKey ?? null,
      job.childIndex ?? null,
      job.currentStepName ?? null,
      job.rerunOf?.jobId ?? null,
      job.rerunOf?.fromStep ?? null,
      job.paused ? 1 : null,
    );
}

export interface ListJobsQuery {
  status?: JobStatus;
  /** One workflow exactly (RerunJobs' filter; ListJobs itself filters by name). */
  workflowId?: string;
  workflowName?: string;
  workflowVersionNumber?: number;
  createdAfter?: string;
  createdBefore?: string;
  jobHierarchy: "ALL" | "TOP_LEVEL_ONLY" | "CHILD_JOBS_ONLY";
  scheduleId?: string;
  parentJobId?: string;
  rootJobId?: string;
  jobIdPrefix?: string;
  /** Only the reruns of this job (RerunJob, RerunJobs), newest first. */
  rerunOf?: string;
  pageToken?: string;
  pageSize: number;
}

/** `s` with LIKE's wildcards and its escape character made literal (escape: `\`). */
function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (ch) => `\\${ch}`);
}

/** A page's last row: newest-first by (created_at, job_id), or, for a job's children, by (child index, job_id). */
type Cursor = { c: string; j: string } | { i: number; j: string };

function decodeToken(token: string, byChildIndex: boolean): Cursor {
  try {
    const c = JSON.parse(atob(token.replaceAll("-", "+").replaceAll("_", "/"))) as Partial<{ c: unknown; i: unknown; j: unknown }>;
    if (typeof c.j === "string") {
      if (!byChildIndex && typeof c.c === "string") return { c: c.c, j: c.j };
      if (byChildIndex && typeof c.i === "number") return { i: c.i, j: c.j };
    }
  } catch {
    /* fall through */
  }
  throw new ValidationError("pageToken is not a token this API issued for this listing.", ["pageToken: invalid"], { pageToken: "invalid" });
}

function encodeToken(c: Cursor): string {
  return btoa(JSON.stringify(c)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** A child's place in its parent's step; children indexed before it was recorded come first. */
const CHILD_ORDER = "IFNULL(child_index, -1)";

/**
 * Lists an organization's jobs by keyset pagination, so a page never repeats or skips a job, even
 * while new jobs arrive: newest first, or, for one job's children (`parentJobId`), in the order its
 * step listed them.
 */
export async function listJobs(db: D1Database, organizationId: string, q: ListJobsQuery): Promise<{ jobs: JobSummary[]; nextPageToken?: string; totalCount: number; statusCounts: Record<JobStatus, number> }> {
  const where: string[] = ["organization_id = ?"];
  const args: (string | number)[] = [organizationId];
  if (q.status) (where.push("status = ?"), args.push(q.status));
  if (q.workflowId) (where.push("workflow_id = ?"), args.push(q.workflowId.toLowerCase()));
  // A case-insensitive contains match, as the client documents it; `%`, `_` and `\` in the query are literal.
  if (q.workflowName) (where.push("workflow_name LIKE ? ESCAPE '\\'"), args.push(`%${escapeLike(q.workflowName)}%`));
  if (q.workflowVersionNumber !== undefined) (where.push("version_number = ?"), args.push(q.workflowVersionNumber));
  if (q.createdAfter) (where.push("created_at > ?"), args.push(q.createdAfter));
  if (q.createdBefore) (where.push("created_at < ?"), args.push(q.createdBefore));
  if (q.scheduleId) (where.push("schedule_id = ?"), args.push(q.scheduleId.toLowerCase()));
  if (q.jobHierarchy === "TOP_LEVEL_ONLY") where.push("parent_job_id IS NULL");
  if (q.jobHierarchy === "CHILD_JOBS_ONLY") where.push("parent_job_id IS NOT NULL");
  // Ids are stored in lower case; a path or query may spell them in upper case.
  if (q.parentJobId) (where.push("parent_job_id = ?"), args.push(q.parentJobId.toLowerCase()));
  if (q.rootJobId) (where.push("root_job_id = ?"), args.push(q.rootJobId.toLowerCase()));
  // A range on the primary key: every id starting with the prefix sorts between it and it + "~" (ids are [0-9a-f-]).
  if (q.jobIdPrefix) {
    const prefix = q.jobIdPrefix.toLowerCase();
    (where.push("job_id >= ? AND job_id < ?"), args.push(prefix, `${prefix}~`));
  }
  if (q.rerunOf) (where.push("rerun_of_job_id = ?"), args.push(q.rerunOf.toLowerCase()));
  const filter = where.join(" AND ");

  const byChildIndex = q.parentJobId !== undefined;
  const pageWhere = [filter];
  const pageArgs = [...args];
  if (q.pageToken) {
    const cursor = decodeToken(q.pageToken, byChildIndex);
    if ("i" in cursor) {
      pageWhere.push(`(${CHILD_ORDER} > ? OR (${CHILD_ORDER} = ? AND job_id > ?))`);
      pageArgs.push(cursor.i, cursor.i, cursor.j);
    } else {
      pageWhere.push("(created_at < ? OR (created_at = ? AND job_id < ?))");
      pageArgs.push(cursor.c, cursor.c, cursor.j);
    }
  }
  const order = byChildIndex ? `${CHILD_ORDER}, job_id` : "created_at DESC, job_id DESC";
  const [page, count] = await db.batch([
    db.prepare(`SELECT * FROM jobs WHERE ${pageWhere.join(" AND ")} ORDER BY ${order} LIMIT ?`).bind(...pageArgs, q.pageSize + 1),
    db.prepare(`SELECT status, COUNT(*) AS n FROM jobs WHERE ${filter} GROUP BY status`).bind(...args),
  ]);
  const statusCounts = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>;
  for (const r of count!.results as { status: JobStatus; n: number }[]) statusCounts[r.status] = r.n;
  const rows = (page!.results as JobRow[]).slice(0, q.pageSize);
  const more = page!.results.length > q.pageSize;
  const last = rows[rows.length - 1];
  const next = last && (byChildIndex ? { i: last.child_index ?? -1, j: last.job_id } : { c: last.created_at, j: last.job_id });
  return {
    jobs: rows.map(toSummary),
    ...(more && next ? { nextPageToken: encodeToken(next) } : {}),
    totalCount: Object.values(statusCounts).reduce((a, b) => a + b, 0),
    statusCounts,
  };
}

/** The children of a job as GetJob's `childJobs` shows them. */
export async function listChildJobs(db: D1Database, parentJobId: string) {
  const { results } = await db
    .prepare(`SELECT * FROM jobs WHERE parent_job_id = ? ORDER BY created_at, job_id`)
    .bind(parentJobId)
    .all<JobRow>();
  return results.map((r) => ({
    jobId: r.job_id,
    status: r.status,
    workflowName: r.workflow_name,
    parentStepName: r.parent_step_name ?? "",
    createdAt: r.created_at,
    ...(r.finished_at ? { finishedAt: r.finished_at } : {}),
  }));
}

/** The index's status of each of these jobs (GetSchedule's recent actions); a job not indexed yet is absent. */
export async function jobStatuses(db: D1Database, jobIds: string[]): Promise<Map<string, JobStatus>> {
  if (jobIds.length === 0) return new Map();
  const { results } = await db
    .prepare(`SELECT job_id, status FROM jobs WHERE job_id IN (SELECT value FROM json_each(?))`)
    .bind(JSON.stringify(jobIds))
    .all<{ job_id: string; status: JobStatus }>();
  return new Map(results.map((r) => [r.job_id, r.status]));
}

/** How many jobs of a tree (the root and its descendants) have not ended, as the index knows it. */
export async function unfinishedInTree(db: D1Database, rootJobId: string): Promise<number> {
  const row = await db
    .prepare(`SELECT COUNT(*) AS n FROM jobs WHERE root_job_id = ? AND status IN ('PENDING', 'RUNNING')`)
    .bind(rootJobId)
    .first<{ n: number }>();
  return row?.n ?? 0;
}
