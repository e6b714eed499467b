/**
 * The SQL of a top-level job's retention and of the deletion of its tree (retire.ts), in the root's
 * own SQLite:
 *
 *   meta          `retention`: when the job ended and when its tree is due to go (set when it ends)
 *   retire        the deletion under way: why, its phase, a cursor, failures in a row
 *   retire_queue  every run object of the tree the deletion has found: to visit, or done
 */
import type { SqlTables } from "./sql-tables";

export type RetireReason = "retention" | "deleted" | "organizationDeleted";
/**
 * wait: for the root to end (a deleted organization's job, being cancelled); hide: its index rows
 * are hidden and its idempotency keys dropped; walk: the tree's objects are deleted, leaves first
 * known; sweep: the index is asked for members the walk did not reach; drop: the index rows go;
 * final: the root's own storage goes.
 */
export type RetirePhase = "wait" | "hide" | "walk" | "sweep" | "drop" | "final";

/** The one row of `retire`. */
export type RetireRow = {
  reason: RetireReason;
  phase: RetirePhase;
  cursor: string;
  failures: number;
  started_at: number;
};

/** A row of `retire_queue`: one run object of the tree (`name` is its object name: `<jobId>` or `<jobId>#<run>`). */
export type RetireEntry = {
  name: string;
  job_id: string;
  cursor: string;
  runs_known: number;
  attempts: number;
};

export class RetireQueue {
  constructor(private readonly t: SqlTables) {}

  // ---- retention -------------------------------------------------------------------------------

  /** When the job ended and its tree is due to go, or null (kept in `meta`: a table of its own would cost every job a page). */
  retention(): { finishedAt: number; deleteAt: number } | null {
    if (!this.t.has("meta")) return null;
    const row = this.t.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'retention'`).toArray()[0];
    return row ? (JSON.parse(row.value) as { finishedAt: number; deleteAt: number }) : null;
  }

  /** Records the job's latest end and its deadline (inside the caller's transaction). */
  setRetention(finishedAt: number, deleteAt: number): void {
    this.t.ensure("meta");
    this.t.sql.exec(`INSERT OR REPLACE INTO meta (key, value) VALUES ('retention', ?)`, JSON.stringify({ finishedAt, deleteAt }));
  }

  // ---- the deletion ----------------------------------------------------------------------------

  /** The deletion under way, or null. */
  row(): RetireRow | null {
    if (!this.t.has("retire")) return null;
    return this.t.sql.exec<RetireRow>(`SELECT reason, phase, cursor, failures, started_at FROM retire WHERE id = 1`).toArray()[0] ?? null;
  }

  /** Starts the deletion (inside the caller's transaction); one already under way is kept. */
  begin(reason: RetireReason, phase: RetirePhase, now: number): void {
    this.t.ensure("retire");
    this.t.sql.exec(`INSERT OR IGNORE INTO retire (id, reason, phase, started_at) VALUES (1, ?, ?, ?)`, reason, phase, now);
  }

  moveTo(phase: RetirePhase, cursor = ""): void {
    this.t.sql.exec(`UPDATE retire SET phase = ?, cursor = ?, failures = 0 WHERE id = 1`, phase, cursor);
  }

  setCursor(cursor: string): void {
    this.t.sql.exec(`UPDATE retire SET cursor = ?, failures = 0 WHERE id = 1`, cursor);
  }

  /** Counts a failed pass; returns the failures in a row. */
  failed(): number {
    this.t.sql.exec(`UPDATE retire SET failures = failures + 1 WHERE id = 1`);
    return this.row()?.failures ?? 1;
  }

  // ---- the tree's objects ----------------------------------------------------------------------

  /** Adds run objects to visit; one already known is left as it is. */
  add(entries: { name: string; jobId: string }[]): void {
    if (entries.length === 0) return;
    this.t.ensure("retire_queue");
    this.t.bulk(
      `INSERT INTO retire_queue (name, job_id) SELECT value ->> 0, value ->> 1 FROM json_each(?) WHERE true ON CONFLICT (name) DO NOTHING`,
      entries.map((e) => [e.name, e.jobId]),
    );
  }

  /** Adds every child this run's own rows name (local: no call). */
  addOwnChildren(): void {
    if (!this.t.has("child")) return;
    this.t.ensure("retire_queue");
    this.t.sql.exec(`INSERT INTO retire_queue (name, job_id) SELECT job_id, job_id FROM child WHERE true ON CONFLICT (name) DO NOTHING`);
  }

  /** Which of these names the queue knows already. */
  known(names: string[]): Set<string> {
    if (!this.t.has("retire_queue") || names.length === 0) return new Set();
    const rows = this.t.sql.exec<{ name: string }>(`SELECT name FROM retire_queue WHERE name IN (SELECT value FROM json_each(?))`, JSON.stringify(names)).toArray();
    return new Set(rows.map((r) => r.name));
  }

  /**
   * Entries due to be visited, at most `limit`. A job's head (run 1) waits until every later run of
   * the job that the queue knows is done: the head is what the API finds the job through.
   */
  due(now: number, limit: number): RetireEntry[] {
    if (!this.t.has("retire_queue")) return [];
    return this.t.sql
      .exec<RetireEntry>(
        `SELECT name, job_id, cursor, runs_known, attempts FROM retire_queue q WHERE done = 0 AND due_at <= ?
           AND NOT (name = job_id AND EXISTS (SELECT 1 FROM retire_queue r WHERE r.job_id = q.job_id AND r.name != r.job_id AND r.done = 0))
         ORDER BY due_at, name LIMIT ?`,
        now,
        limit,
      )
      .toArray();
  }

  /** The earliest time an entry not yet done may be visited, or null when every entry is done. */
  nextDue(): number | null {
    if (!this.t.has("retire_queue")) return null;
    return this.t.sql.exec<{ t: number | null }>(`SELECT MIN(due_at) AS t FROM retire_queue WHERE done = 0`).one().t;
  }

  done(name: string): void {
    this.t.sql.exec(`UPDATE retire_queue SET done = 1 WHERE name = ?`, name);
  }

  /** The object answered part of its children; the next visit asks after `cursor`. */
  advance(name: string, cursor: string): void {
    this.t.sql.exec(`UPDATE retire_queue SET cursor = ?, attempts = 0 WHERE name = ?`, cursor, name);
  }

  setRunsKnown(name: string, runs: number): void {
    this.t.sql.exec(`UPDATE retire_queue SET runs_known = ? WHERE name = ?`, runs, name);
  }

  /** Visits the entry again at `dueAt` (it has not ended yet, or the call failed). */
  later(name: string, dueAt: number): void {
    this.t.sql.exec(`UPDATE retire_queue SET due_at = ?, attempts = attempts + 1 WHERE name = ?`, dueAt, name);
  }

  /** Entries visited and entries to visit (diagnostics and tests). */
  progress(): { done: number; todo: number } {
    if (!this.t.has("retire_queue")) return { done: 0, todo: 0 };
    const row = this.t.sql.exec<{ done: number; todo: number }>(`SELECT COALESCE(SUM(done), 0) AS done, COALESCE(SUM(1 - done), 0) AS todo FROM retire_queue`).one();
    return { done: row.done, todo: row.todo };
  }
}
