/**
 * All SQL of a JobObject: its state row, append-only history, and a queue of work (I/O the engine
 * asked for). Decisions are committed with the work they cause in one `transactionSync`.
 */
import { isTerminal } from "../engine/status";
import type { ChildReportFact, Command, HistoryItem, JobState } from "../engine/types";

const SCHEMA_VERSION = 1;

/** A unit of I/O the Durable Object owes: retried from the alarm until it succeeds. */
export interface WorkItem {
  id: string;
  kind: WorkKind;
  payload: unknown;
  dueAt: number;
  attempts: number;
  /** Bumped each time a coalesced item (index, notify) is queued again. */
  version: number;
}

export type WorkKind = "call" | "startChild" | "cancelChild" | "notifyParent" | "index" | "continueAsNew" | "purge";

type WorkRow = {
  id: string;
  kind: WorkKind;
  payload: string;
  due_at: number;
  attempts: number;
  version: number;
};

export class JobStore {
  constructor(private readonly storage: DurableObjectStorage) {
    this.migrate();
  }

  private get sql(): SqlStorage {
    return this.storage.sql;
  }

  /** Recreates the (empty) schema after the storage was deleted. */
  reinitialize(): void {
    this.migrate();
  }

  private migrate(): void {
    this.sql.exec(`CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`);
    const row = this.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'schema_version'`).toArray()[0];
    if (row && Number(row.value) >= SCHEMA_VERSION) return;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS job (id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL, definition TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS history (seq INTEGER PRIMARY KEY, item TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS work (
        id TEXT PRIMARY KEY, kind TEXT NOT NULL, payload TEXT NOT NULL,
        due_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, version INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX IF NOT EXISTS work_due ON work(due_at);
      CREATE TABLE IF NOT EXISTS inbox (child_job_id TEXT PRIMARY KEY, report TEXT NOT NULL, ended INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS tombstone (id INTEGER PRIMARY KEY CHECK (id = 1), reason TEXT NOT NULL);
    `);
    this.sql.exec(`INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)`, String(SCHEMA_VERSION));
  }

  /** The stored state and definition text, or null for a job that does not exist here. */
  load(): { state: JobState; definition: string } | null {
    const row = this.sql.exec<{ state: string; definition: string }>(`SELECT state, definition FROM job WHERE id = 1`).toArray()[0];
    return row ? { state: JSON.parse(row.state) as JobState, definition: row.definition } : null;
  }

  /** Creates the job row; false if it already exists. */
  create(state: JobState, definition: string): boolean {
    const cursor = this.sql.exec(`INSERT OR IGNORE INTO job (id, state, definition) VALUES (1, ?, ?)`, JSON.stringify(state), definition);
    return cursor.rowsWritten > 0;
  }

  /** Commits a decision: the new state, its history rows, and the work its commands need. */
  commit(state: JobState, history: HistoryItem[], commands: Command[], now: number, extra?: () => void): void {
    this.storage.transactionSync(() => {
      this.sql.exec(`UPDATE job SET state = ? WHERE id = 1`, JSON.stringify(state));
      for (const item of history) this.sql.exec(`INSERT INTO history (item) VALUES (?)`, JSON.stringify(item));
      for (const c of commands) this.enqueueCommand(c, state, now);
      extra?.();
    });
  }

  private enqueueCommand(c: Command, state: JobState, now: number): void {
    switch (c.type) {
      case "callExecutor":
        return this.enqueue({ id: `call:${c.stepName}:${c.attempt}`, kind: "call", payload: c, dueAt: now });
      case "startChildren":
        for (const slot of c.children) {
          this.enqueue({ id: `start:${slot.jobId}`, kind: "startChild", payload: { stepName: c.stepName, attempt: c.attempt, slot }, dueAt: now });
        }
        return;
      case "cancelChildren":
        for (const jobId of c.jobIds) this.enqueue({ id: `cancel:${jobId}`, kind: "cancelChild", payload: { jobId }, dueAt: now });
        return;
      case "notifyParent":
        return this.enqueue({ id: "notify", kind: "notifyParent", payload: null, dueAt: now, coalesce: true });
      case "indexStatus":
        return this.enqueue({ id: "index", kind: "index", payload: null, dueAt: now, coalesce: true });
      case "continueAsNew":
        return this.enqueue({ id: "continue", kind: "continueAsNew", payload: c, dueAt: now });
      case "log":
        return;
    }
  }

  /**
   * Adds a work item. A coalesced item (one that sends the latest state, like an index write) is
   * kept once; queuing it again bumps its version, so a delivery already in flight, which read
   * older state, does not remove it.
   */
  enqueue(item: { id: string; kind: WorkKind; payload: unknown; dueAt: number; coalesce?: boolean }): void {
    const conflict = item.coalesce
      ? `ON CONFLICT (id) DO UPDATE SET version = work.version + 1, due_at = MIN(work.due_at, excluded.due_at), attempts = 0`
      : `ON CONFLICT (id) DO NOTHING`;
    this.sql.exec(
      `INSERT INTO work (id, kind, payload, due_at, attempts, version) VALUES (?, ?, ?, ?, 0, 0) ${conflict}`,
      item.id,
      item.kind,
      JSON.stringify(item.payload),
      item.dueAt,
    );
  }

  /** Work items due by `now`, oldest first. */
  dueWork(now: number, limit: number): WorkItem[] {
    return this.sql
      .exec<WorkRow>(`SELECT * FROM work WHERE due_at <= ? ORDER BY due_at, id LIMIT ?`, now, limit)
      .toArray()
      .map((r) => ({ id: r.id, kind: r.kind, payload: JSON.parse(r.payload), dueAt: r.due_at, attempts: r.attempts, version: r.version }));
  }

  /** The earliest due time of any queued work. */
  nextWorkDue(): number | undefined {
    const row = this.sql.exec<{ t: number | null }>(`SELECT MIN(due_at) AS t FROM work`).toArray()[0];
    return row?.t ?? undefined;
  }

  /** Removes a finished work item; a coalesced one only if nothing newer was queued meanwhile. */
  done(item: WorkItem): void {
    this.sql.exec(`DELETE FROM work WHERE id = ? AND version <= ?`, item.id, item.version);
  }

  /** Puts a failed work item back with a later due time. */
  retryLater(item: WorkItem, dueAt: number): void {
    this.sql.exec(`UPDATE work SET attempts = attempts + 1, due_at = ? WHERE id = ? AND version = ?`, dueAt, item.id, item.version);
  }

  /**
   * Keeps a child's report until the alarm applies it. A later report replaces an earlier one,
   * except that nothing replaces a report of the child's end.
   */
  receiveReport(report: ChildReportFact): void {
    this.sql.exec(
      `INSERT INTO inbox (child_job_id, report, ended) VALUES (?, ?, ?)
       ON CONFLICT (child_job_id) DO UPDATE SET report = excluded.report, ended = excluded.ended WHERE inbox.ended = 0`,
      report.childJobId,
      JSON.stringify(report),
      isTerminal(report.status) ? 1 : 0,
    );
  }

  /** Reports waiting to be applied. */
  inbox(limit: number): ChildReportFact[] {
    return this.sql
      .exec<{ report: string }>(`SELECT report FROM inbox LIMIT ?`, limit)
      .toArray()
      .map((r) => JSON.parse(r.report) as ChildReportFact);
  }

  /** Whether reports wait to be applied. */
  hasInbox(): boolean {
    return this.sql.exec(`SELECT 1 FROM inbox LIMIT 1`).toArray().length > 0;
  }

  /** Removes applied reports (inside the transaction that applied them). */
  clearInbox(reports: ChildReportFact[]): void {
    for (const r of reports) this.sql.exec(`DELETE FROM inbox WHERE child_job_id = ? AND report = ?`, r.childJobId, JSON.stringify(r));
  }

  /** The run's history, oldest first. */
  history(): HistoryItem[] {
    return this.sql.exec<{ item: string }>(`SELECT item FROM history ORDER BY seq`).toArray().map((r) => JSON.parse(r.item) as HistoryItem);
  }

  /** A cancel that arrived before the job existed: the job is created already cancelled. */
  tombstone(): string | null {
    return this.sql.exec<{ reason: string }>(`SELECT reason FROM tombstone WHERE id = 1`).toArray()[0]?.reason ?? null;
  }

  setTombstone(reason: string): void {
    this.sql.exec(`INSERT OR IGNORE INTO tombstone (id, reason) VALUES (1, ?)`, reason);
  }

  /** On a job's head (run 1): the job's latest run. */
  currentRun(): number {
    const row = this.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'current_run'`).toArray()[0];
    return row ? Number(row.value) : 1;
  }

  setCurrentRun(runNumber: number): void {
    this.sql.exec(`INSERT OR REPLACE INTO meta (key, value) VALUES ('current_run', ?)`, String(runNumber));
  }

  /** Drops the history (an old run past its retention). */
  dropHistory(): void {
    this.sql.exec(`DELETE FROM history`);
  }

  /** Bytes this Durable Object's SQLite holds. */
  databaseSize(): number {
    return this.sql.databaseSize;
  }
}
