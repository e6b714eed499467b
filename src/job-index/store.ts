/**
 * All SQL of a job index object (one organization's shard of the job index):
 *
 *   job              one row per job: the columns ListJobs filters and orders on, and the JobSummary
 *                    JSON as the job last wrote it (so a field added to JobSummary is listed with no change here)
 *   hidden_tree      roots whose trees are being deleted: their rows are listed by nothing and rewritten by no one
 *   idempotency_key  SubmitJob's keys, each bound to a job id for IDEMPOTENCY_WINDOW_MS
 *   rollup           metric rollups per (metric, hour, workflow): count, sum, maximum
 *   flush            the keys of the metric flushes already added (a retried flush counts nothing twice)
 *   meta             the schema version, read back when the object wakes
 */
import type { JobStatus, JobSummary } from "../engine/types";
import { IDEMPOTENCY_SHARD_PRUNE_BATCH, IDEMPOTENCY_WINDOW_MS, METRIC_FLUSH_KEY_PRUNE_BATCH, METRIC_FLUSH_KEY_RETENTION_MS } from "../limits";
import { BUCKET_MS } from "../metrics/types";
import type { BucketTotals, IndexCursor, IndexEntry, IndexQuery, MetricFlush, MetricSeriesQuery, ShardPage } from "./messages";

/**
 * 2: `rerun_of_job_id` (ListJobs rerunOf, RerunJob/RerunJobs). A version-1 shard gains the column
 * empty, which is right: version 1 predates reruns, so none of its rows reruns anything.
 */
export const SCHEMA_VERSION = 2;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS job (
    job_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    workflow_name TEXT NOT NULL,
    version_number INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    parent_job_id TEXT,
    root_job_id TEXT NOT NULL,
    schedule_id TEXT,
    sibling_order TEXT NOT NULL,
    seq INTEGER NOT NULL,
    summary TEXT NOT NULL,
    rerun_of_job_id TEXT
  );
  -- newest first (ListJobs), a status among them, a parent's children in their step's order, a tree, a schedule's firings
  CREATE INDEX IF NOT EXISTS job_created ON job (created_at, job_id);
  CREATE INDEX IF NOT EXISTS job_status ON job (status, created_at, job_id);
  CREATE INDEX IF NOT EXISTS job_parent ON job (parent_job_id, sibling_order, job_id);
  CREATE INDEX IF NOT EXISTS job_root ON job (root_job_id, job_id);
  CREATE INDEX IF NOT EXISTS job_schedule ON job (schedule_id, created_at);
  CREATE TABLE IF NOT EXISTS hidden_tree (root_job_id TEXT PRIMARY KEY);
  CREATE TABLE IF NOT EXISTS idempotency_key (key TEXT PRIMARY KEY, job_id TEXT NOT NULL, created_at INTEGER NOT NULL);
  CREATE INDEX IF NOT EXISTS idempotency_key_time ON idempotency_key (created_at);
  CREATE INDEX IF NOT EXISTS idempotency_key_job ON idempotency_key (job_id);
  CREATE TABLE IF NOT EXISTS rollup (
    metric TEXT NOT NULL, hour_start INTEGER NOT NULL, workflow_id TEXT NOT NULL,
    n INTEGER NOT NULL, total REAL NOT NULL, peak REAL NOT NULL,
    PRIMARY KEY (metric, hour_start, workflow_id)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS flush (key TEXT PRIMARY KEY, at INTEGER NOT NULL);
  CREATE INDEX IF NOT EXISTS flush_time ON flush (at);
`;

/** Indexes on columns a version-1 shard gains in its migration (so they come after it). */
const SCHEMA_2_INDEXES = `
  -- a job's reruns, newest first (ListJobs rerunOf): without it, every row of the shard is read
  CREATE INDEX IF NOT EXISTS job_rerun_of ON job (rerun_of_job_id, created_at, job_id) WHERE rerun_of_job_id IS NOT NULL;
`;

/** A row of `job`, as SQLite returns it. */
export interface JobRow {
  job_id: string;
  status: JobStatus;
  workflow_id: string;
  workflow_name: string;
  version_number: number;
  created_at: string;
  parent_job_id: string | null;
  root_job_id: string;
  schedule_id: string | null;
  sibling_order: string;
  seq: number;
  summary: string;
  rerun_of_job_id: string | null;
}

const JOB_STATUSES: readonly JobStatus[] = ["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"];

/** Rows of hidden trees are invisible to every read. */
const VISIBLE = `root_job_id NOT IN (SELECT root_job_id FROM hidden_tree)`;

/** `s` with LIKE's wildcards and its escape character made literal (escape: `\`). */
function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (ch) => `\\${ch}`);
}

/** A job id prefix's range: every id that starts with it sorts between these (ids are lower-case hex and `-`). */
function prefixRange(prefix: string): [string, string] {
  const p = prefix.toLowerCase();
  return [p, `${p}\u007f`];
}

export class JobIndexStore {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(SCHEMA);
    const version = sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'schema_version'`).toArray()[0];
    // Read back, not only written: a newer object's schema is never silently run by older code.
    if (version && Number(version.value) > SCHEMA_VERSION) throw new Error(`Job index schema ${version.value} is newer than this code (${SCHEMA_VERSION}).`);
    if (version && Number(version.value) < 2) {
      sql.exec(`ALTER TABLE job ADD COLUMN rerun_of_job_id TEXT`);
      sql.exec(`UPDATE meta SET value = '2' WHERE key = 'schema_version'`);
    }
    sql.exec(SCHEMA_2_INDEXES);
    if (!version) sql.exec(`INSERT INTO meta (key, value) VALUES ('schema_version', ?)`, String(SCHEMA_VERSION));
  }

  // ---- rows ------------------------------------------------------------------------------------

  /** Writes rows, each only over an older one (lower seq); rows of hidden trees are dropped. */
  write(entries: IndexEntry[]): number {
    if (entries.length === 0) return 0;
    const rows = entries.map((e) => [
      e.job.jobId,
      e.job.status,
      e.job.workflowId,
      e.job.workflowName,
      e.job.workflowVersion.versionNumber,
      e.job.createdAt,
      e.job.parentJobId ?? null,
      e.job.rootJobId ?? e.job.jobId,
      e.job.scheduleId ?? null,
      e.order ?? "",
      e.seq,
      JSON.stringify(e.job),
      e.job.rerunOf?.jobId ?? null,
    ]);
    return this.sql.exec(
      `INSERT INTO job (job_id, status, workflow_id, workflow_name, version_number, created_at, parent_job_id, root_job_id,
         schedule_id, sibling_order, seq, summary, rerun_of_job_id)
       SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7,
         value ->> 8, value ->> 9, value ->> 10, value ->> 11, value ->> 12
       FROM json_each(?) WHERE (value ->> 7) NOT IN (SELECT root_job_id FROM hidden_tree)
       ON CONFLICT (job_id) DO UPDATE SET status = excluded.status, workflow_id = excluded.workflow_id,
         workflow_name = excluded.workflow_name, version_number = excluded.version_number, seq = excluded.seq,
         summary = excluded.summary, rerun_of_job_id = excluded.rerun_of_job_id
       WHERE excluded.seq > job.seq`,
      JSON.stringify(rows),
    ).rowsWritten;
  }

  /** Deletes the first rows (seq 0) of jobs whose start failed: a row a job has written over stays. */
  forgetUnstarted(jobIds: string[]): void {
    this.sql.exec(`DELETE FROM job WHERE seq = 0 AND job_id IN (SELECT value FROM json_each(?))`, JSON.stringify(jobIds));
  }

  find(jobId: string): { job: JobSummary; started: boolean } | null {
    const row = this.sql.exec<Pick<JobRow, "summary" | "seq">>(`SELECT summary, seq FROM job WHERE job_id = ? AND ${VISIBLE}`, jobId).toArray()[0];
    return row ? { job: JSON.parse(row.summary) as JobSummary, started: row.seq > 0 } : null;
  }

  statuses(jobIds: string[]): Record<string, JobStatus> {
    const rows = this.sql
      .exec<{ job_id: string; status: JobStatus }>(`SELECT job_id, status FROM job WHERE job_id IN (SELECT value FROM json_each(?)) AND ${VISIBLE}`, JSON.stringify(jobIds))
      .toArray();
    return Object.fromEntries(rows.map((r) => [r.job_id, r.status]));
  }

  unfinishedInTree(rootJobId: string): number {
    return this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM job WHERE root_job_id = ? AND status IN ('PENDING', 'RUNNING')`, rootJobId).one().n;
  }

  /**
   * One page of the rows that match `q`, after `after`, in ListJobs' order: newest first
   * (created_at, job_id), or a parent's children in their step's order (sibling_order, job_id)
   * when `parentJobId` is given. With the counts per status of everything that matches.
   */
  page(q: IndexQuery, after: IndexCursor | null, limit: number): ShardPage {
    const where: string[] = [VISIBLE];
    const args: (string | number)[] = [];
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
    if (q.jobIdPrefix) (where.push("job_id >= ? AND job_id < ?"), args.push(...prefixRange(q.jobIdPrefix)));
    if (q.rerunOf) (where.push("rerun_of_job_id = ?"), args.push(q.rerunOf.toLowerCase()));
    const filter = where.join(" AND ");

    const bySibling = q.parentJobId !== undefined;
    const key = bySibling ? "sibling_order" : "created_at";
    const pageWhere = [filter];
    const pageArgs = [...args];
    if (after) {
      pageWhere.push(bySibling ? `(${key} > ? OR (${key} = ? AND job_id > ?))` : `(${key} < ? OR (${key} = ? AND job_id < ?))`);
      pageArgs.push(after.o, after.o, after.j);
    }
    const dir = bySibling ? "ASC" : "DESC";
    const rows = this.sql
      .exec<Pick<JobRow, "job_id" | "summary"> & { k: string }>(
        `SELECT job_id, summary, ${key} AS k FROM job WHERE ${pageWhere.join(" AND ")} ORDER BY ${key} ${dir}, job_id ${dir} LIMIT ?`,
        ...pageArgs,
        limit,
      )
      .toArray();
    const statusCounts: Partial<Record<JobStatus, number>> = {};
    for (const r of this.sql.exec<{ status: JobStatus; n: number }>(`SELECT status, COUNT(*) AS n FROM job WHERE ${filter} GROUP BY status`, ...args)) {
      if (JOB_STATUSES.includes(r.status)) statusCounts[r.status] = r.n;
    }
    return { rows: rows.map((r) => ({ key: r.k, jobId: r.job_id, job: JSON.parse(r.summary) as JobSummary })), statusCounts };
  }

  /** Top-level jobs oldest first after `after` (the organization reaper's pages); only unfinished ones if asked. */
  roots(after: IndexCursor | null, limit: number, unfinishedOnly: boolean): { createdAt: string; jobId: string }[] {
    const status = unfinishedOnly ? `AND status IN ('PENDING', 'RUNNING')` : "";
    return this.sql
      .exec<{ created_at: string; job_id: string }>(
        `SELECT created_at, job_id FROM job WHERE parent_job_id IS NULL ${status} AND (created_at > ?1 OR (created_at = ?1 AND job_id > ?2)) AND ${VISIBLE}
         ORDER BY created_at, job_id LIMIT ?3`,
        after?.o ?? "",
        after?.j ?? "",
        limit,
      )
      .toArray()
      .map((r) => ({ createdAt: r.created_at, jobId: r.job_id }));
  }

  // ---- trees being deleted ---------------------------------------------------------------------

  /** Hides a tree from every read and write, and drops the idempotency keys bound to its root. */
  hideTree(rootJobId: string): void {
    this.sql.exec(`INSERT OR IGNORE INTO hidden_tree (root_job_id) VALUES (?)`, rootJobId);
    this.sql.exec(`DELETE FROM idempotency_key WHERE job_id = ?`, rootJobId);
  }

  /** Job ids of a tree's rows after `after`, in id order (hidden or not). */
  treeMembers(rootJobId: string, after: string, limit: number): string[] {
    return this.sql
      .exec<{ job_id: string }>(`SELECT job_id FROM job WHERE root_job_id = ? AND job_id > ? ORDER BY job_id LIMIT ?`, rootJobId, after, limit)
      .toArray()
      .map((r) => r.job_id);
  }

  /** Deletes up to `limit` of a tree's rows. */
  deleteTreeRows(rootJobId: string, limit: number): number {
    const ids = this.treeMembers(rootJobId, "", limit);
    this.sql.exec(`DELETE FROM job WHERE job_id IN (SELECT value FROM json_each(?))`, JSON.stringify(ids));
    return ids.length;
  }

  forgetTree(rootJobId: string): void {
    this.sql.exec(`DELETE FROM hidden_tree WHERE root_job_id = ?`, rootJobId);
  }

  counts(): { jobs: number; hiddenTrees: number } {
    return {
      jobs: this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM job`).one().n,
      hiddenTrees: this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM hidden_tree`).one().n,
    };
  }

  // ---- idempotency keys ------------------------------------------------------------------------

  /**
   * Binds each key to its proposed job id unless a live binding exists; returns, for every key, the
   * id it is bound to. Deletes a bounded batch of expired keys first, so the table holds about one
   * window's worth.
   */
  claimKeys(claims: { key: string; jobId: string }[], now: number): Record<string, string> {
    const expiredBefore = now - IDEMPOTENCY_WINDOW_MS;
    this.sql.exec(
      `DELETE FROM idempotency_key WHERE key IN (SELECT key FROM idempotency_key WHERE created_at < ? ORDER BY created_at LIMIT ?)`,
      expiredBefore,
      IDEMPOTENCY_SHARD_PRUNE_BATCH,
    );
    const json = JSON.stringify(claims.map((c) => [c.key, c.jobId]));
    // "WHERE true" tells SQLite that ON CONFLICT belongs to the INSERT, not to the SELECT.
    this.sql.exec(
      `INSERT INTO idempotency_key (key, job_id, created_at) SELECT value ->> 0, value ->> 1, ?2 FROM json_each(?1) WHERE true
       ON CONFLICT (key) DO UPDATE SET job_id = excluded.job_id, created_at = excluded.created_at WHERE idempotency_key.created_at < ?3`,
      json,
      now,
      expiredBefore,
    );
    const bound = this.sql
      .exec<{ key: string; job_id: string }>(`SELECT key, job_id FROM idempotency_key WHERE key IN (SELECT value ->> 0 FROM json_each(?))`, json)
      .toArray();
    return Object.fromEntries(bound.map((r) => [r.key, r.job_id]));
  }

  /** Keys copied from the old D1 index with their own times; a key bound here already keeps its binding. */
  importKeys(keys: { key: string; jobId: string; createdAt: number }[]): void {
    this.sql.exec(
      `INSERT INTO idempotency_key (key, job_id, created_at) SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?) WHERE true ON CONFLICT (key) DO NOTHING`,
      JSON.stringify(keys.map((k) => [k.key, k.jobId, k.createdAt])),
    );
  }

  // ---- metrics ---------------------------------------------------------------------------------

  /**
   * Adds each flush's increments to the rollups once: a flush whose key is remembered adds nothing.
   * Prunes expired keys (twice as many as it adds, at least METRIC_FLUSH_KEY_PRUNE_BATCH). Inside the caller's transaction.
   */
  addMetrics(flushes: MetricFlush[], now: number): number {
    let added = 0;
    for (const f of flushes) {
      const fresh = this.sql.exec(`INSERT INTO flush (key, at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, f.key, now).rowsWritten > 0;
      if (!fresh || f.increments.length === 0) continue;
      added++;
      this.sql.exec(
        `INSERT INTO rollup (metric, hour_start, workflow_id, n, total, peak)
         SELECT value ->> 1, value ->> 2, value ->> 0, value ->> 3, value ->> 4, value ->> 5 FROM json_each(?) WHERE true
         ON CONFLICT (metric, hour_start, workflow_id) DO UPDATE SET
           n = n + excluded.n, total = total + excluded.total, peak = MAX(peak, excluded.peak)`,
        JSON.stringify(f.increments),
      );
    }
    this.sql.exec(
      `DELETE FROM flush WHERE key IN (SELECT key FROM flush WHERE at < ? ORDER BY at LIMIT ?)`,
      now - METRIC_FLUSH_KEY_RETENTION_MS,
      Math.max(METRIC_FLUSH_KEY_PRUNE_BATCH, 2 * flushes.length),
    );
    return added;
  }

  /** Each bucket's count, sum and maximum over the hour rows of one metric. */
  metricSeries(q: MetricSeriesQuery): BucketTotals[] {
    const width = BUCKET_MS[q.bucket];
    const from = Math.floor(q.since / width) * width;
    const args: (string | number)[] = [width, q.metric, from, q.until];
    let where = `metric = ?2 AND hour_start >= ?3 AND hour_start < ?4`;
    if (q.workflowId !== undefined) {
      where += ` AND workflow_id = ?5`;
      args.push(q.workflowId);
    }
    return this.sql
      .exec<{ b: number; n: number; total: number; peak: number }>(
        `SELECT CAST(hour_start / ?1 AS INTEGER) * ?1 AS b, SUM(n) AS n, SUM(total) AS total, MAX(peak) AS peak FROM rollup WHERE ${where} GROUP BY b ORDER BY b`,
        ...args,
      )
      .toArray()
      .map((r) => ({ b: r.b, n: r.n, total: r.total, peak: r.peak }));
  }
}
