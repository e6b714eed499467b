/**
 * The work a job run owes, in its own SQLite: I/O retried from the alarm until it succeeds (calls,
 * child starts and cancels, reports to the parent, index writes), children's reports waiting to
 * be applied (`inbox`), and their index rows waiting for D1 (`child_index`).
 */
import { childEnded } from "../engine/overlay";
import type { ChildReportFact, Command } from "../engine/types";
import type { MetricFlush } from "../metrics/types";
import type { SqlTables } from "./sql-tables";
import type { JobSummary } from "./views";

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

export type WorkKind =
  | "call"
  | "startChild"
  | "cancelChild"
  | "notifyParent"
  | "index"
  | "indexChildren"
  | "continueAsNew"
  | "purge"
  | "acquireLease"
  | "releaseLeases"
  | "metrics"
  | "alert"
  | "retain"
  | "retire";

type WorkRow = { id: string; kind: WorkKind; payload: string; due_at: number; attempts: number; version: number };

/** A child's index row waiting to be written to the job index. */
export interface PendingIndexRow {
  organizationId: string;
  job: JobSummary;
  seq: number;
  order?: string;
}

export class WorkQueue {
  /** `adopt` takes the metric flushes that reports carry, inside the transaction that keeps the reports. */
  constructor(
    private readonly t: SqlTables,
    private readonly adopt: (flushes: MetricFlush[]) => void,
  ) {}

  // ---- work to do ---------------------------------------------------------------------------

  /** Queues the work a decision's command needs (inside the decision's transaction). */
  enqueueCommand(c: Command, now: number): void {
    switch (c.type) {
      case "callExecutor":
        return this.enqueue({ id: `call:${c.stepName}:${c.attempt}`, kind: "call", payload: { stepName: c.stepName, attempt: c.attempt }, dueAt: now });
      case "startChildren":
        return this.enqueueMany("startChild", "start", c.jobIds, now);
      case "cancelChildren":
        return this.enqueueMany("cancelChild", "cancel", c.jobIds, now);
      case "notifyParent":
        return this.enqueue({ id: "notify", kind: "notifyParent", payload: null, dueAt: now, coalesce: true });
      case "indexStatus":
        return this.enqueue({ id: "index", kind: "index", payload: null, dueAt: now, coalesce: true });
      case "continueAsNew":
        return this.enqueue({ id: "continue", kind: "continueAsNew", payload: null, dueAt: now });
      case "acquireLease":
        return this.enqueue({ id: `lease:${c.epoch}:${c.poolId}`, kind: "acquireLease", payload: { poolId: c.poolId, epoch: c.epoch }, dueAt: now });
      case "releaseLeases":
        return this.enqueue({ id: `release:${c.epoch}`, kind: "releaseLeases", payload: { epoch: c.epoch }, dueAt: now });
      case "log":
        return;
    }
  }

  /** One work item per child job (`<prefix>:<jobId>`, payload `{jobId}`), in bulk. */
  private enqueueMany(kind: WorkKind, prefix: string, jobIds: string[], dueAt: number): void {
    this.t.ensure("work");
    this.t.bulk(
      `INSERT INTO work (id, kind, payload, due_at, attempts, version)
       SELECT value ->> 0, ?2, json_object('jobId', value ->> 1), ?3, 0, 0 FROM json_each(?1) WHERE true
       ON CONFLICT (id) DO NOTHING`,
      jobIds.map((id) => [`${prefix}:${id}`, id]),
      kind,
      dueAt,
    );
  }

  /**
   * Adds a work item. A coalesced item (one that sends the latest state, like an index write) is
   * kept once; queuing it again bumps its version, so a delivery already in flight, which read
   * older state, does not remove it.
   */
  enqueue(item: { id: string; kind: WorkKind; payload: unknown; dueAt: number; coalesce?: boolean }): void {
    this.t.ensure("work");
    const conflict = item.coalesce
      ? `ON CONFLICT (id) DO UPDATE SET version = work.version + 1, due_at = MIN(work.due_at, excluded.due_at), attempts = 0`
      : `ON CONFLICT (id) DO NOTHING`;
    this.t.sql.exec(
      `INSERT INTO work (id, kind, payload, due_at, attempts, version) VALUES (?, ?, ?, ?, 0, 0) ${conflict}`,
      item.id,
      item.kind,
      JSON.stringify(item.payload),
      item.dueAt,
    );
  }

  /**
   * Owes a coalesced item by `dueAt`: the earlier of that and its due time, unless its due time has
   * passed (it is being performed now, with what was there before): then `dueAt`. So events kept
   * while a flush is in flight owe a flush within their own delay, not at once.
   */
  owe(id: string, kind: WorkKind, dueAt: number, now: number): void {
    this.t.ensure("work");
    this.t.sql.exec(
      `INSERT INTO work (id, kind, payload, due_at, attempts, version) VALUES (?1, ?2, 'null', ?3, 0, 0)
       ON CONFLICT (id) DO UPDATE SET version = work.version + 1, attempts = 0,
         due_at = CASE WHEN work.due_at <= ?4 THEN excluded.due_at ELSE MIN(work.due_at, excluded.due_at) END`,
      id,
      kind,
      dueAt,
      now,
    );
  }

  /** Work items due by `now`, oldest first. */
  dueWork(now: number, limit: number): WorkItem[] {
    if (!this.t.has("work")) return [];
    return this.t.sql
      .exec<WorkRow>(`SELECT * FROM work WHERE due_at <= ? ORDER BY due_at, id LIMIT ?`, now, limit)
      .toArray()
      .map((r) => ({ id: r.id, kind: r.kind, payload: JSON.parse(r.payload), dueAt: r.due_at, attempts: r.attempts, version: r.version }));
  }

  /** The earliest due time of any queued work. */
  nextWorkDue(): number | undefined {
    if (!this.t.has("work")) return undefined;
    const row = this.t.sql.exec<{ t: number | null }>(`SELECT MIN(due_at) AS t FROM work`).toArray()[0];
    return row?.t ?? undefined;
  }

  /**
   * Settles one pass of work in one commit: removes the items done and keeps the reports that
   * came back with them (children that ended as they started) for the alarm to apply.
   */
  settleWork(done: WorkItem[], reports: ChildReportFact[]): void {
    // A run that dropped its storage while the pass ran (purged) has nothing left to settle.
    if (!this.t.has("work") || (done.length === 0 && reports.length === 0)) return;
    this.t.transaction(() => {
      this.receiveReports(reports);
      // Removed unless queued again meanwhile (a coalesced item's version grows, never shrinks).
      this.t.bulk(`DELETE FROM work WHERE (id, version) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?))`, done.map((i) => [i.id, i.version]));
    });
  }

  /** Removes a work item, whatever its version (its purpose was served another way). */
  dropWork(id: string): void {
    if (this.t.has("work")) this.t.sql.exec(`DELETE FROM work WHERE id = ?`, id);
  }

  /** Removes a finished work item; a coalesced one only if nothing newer was queued meanwhile. */
  done(item: WorkItem): void {
    if (!this.t.has("work")) return; // the run dropped its storage (purged) while the item ran
    this.t.sql.exec(`DELETE FROM work WHERE id = ? AND version <= ?`, item.id, item.version);
  }

  /** Puts a failed work item back with a later due time. */
  retryLater(item: WorkItem, dueAt: number): void {
    if (!this.t.has("work")) return;
    this.t.sql.exec(`UPDATE work SET attempts = attempts + 1, due_at = ? WHERE id = ? AND version = ?`, dueAt, item.id, item.version);
  }

  // ---- children's reports ----------------------------------------------------------------------

  /**
   * Keeps a child's report until the alarm applies it. A later report replaces an earlier one,
   * except that nothing replaces a report of the child's end.
   */
  receiveReport(report: ChildReportFact): void {
    this.t.transaction(() => this.receiveReports([report]));
  }

  /**
   * Keeps many reports (see receiveReport), in bulk, inside the caller's transaction. Their metric
   * flushes are adopted now, not when the report is applied: a later report may replace this one.
   */
  receiveReports(withMetrics: ChildReportFact[]): void {
    if (withMetrics.length === 0) return;
    this.adopt(withMetrics.flatMap((r) => r.metricFlushes ?? []));
    const reports = withMetrics.map(({ metricFlushes: _flushes, ...r }) => r);
    this.t.ensure("inbox");
    this.t.bulk(
      `INSERT INTO inbox (child_job_id, report, ended) SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?) WHERE true
       ON CONFLICT (child_job_id) DO UPDATE SET report = excluded.report, ended = excluded.ended WHERE inbox.ended = 0`,
      reports.map((r) => [r.childJobId, this.t.checked(JSON.stringify(r), `The report of child ${r.childJobId}`), childEnded(r.status) ? 1 : 0]),
    );
  }

  /** Reports waiting to be applied. */
  inbox(limit: number): ChildReportFact[] {
    if (!this.t.has("inbox")) return [];
    return this.t.sql
      .exec<{ report: string }>(`SELECT report FROM inbox LIMIT ?`, limit)
      .toArray()
      .map((r) => JSON.parse(r.report) as ChildReportFact);
  }

  /** Whether reports wait to be applied. */
  hasInbox(): boolean {
    return this.t.has("inbox") && this.t.sql.exec(`SELECT 1 FROM inbox LIMIT 1`).toArray().length > 0;
  }

  /**
   * Inside the transaction that applied `reports`: removes them from the inbox and keeps their
   * index rows for D1, written later on their own path (the parent never waits on D1).
   */
  settleReports(reports: ChildReportFact[]): void {
    if (this.t.has("inbox")) {
      // A report that a newer one replaced meanwhile stays, for the next batch.
      this.t.bulk(
        `DELETE FROM inbox WHERE (child_job_id, report) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?))`,
        reports.map((r) => [r.childJobId, JSON.stringify(r)]),
      );
    }
    const indexed = reports.filter((r) => r.index);
    if (indexed.length === 0) return;
    this.t.ensure("child_index");
    this.t.bulk(
      `INSERT INTO child_index (job_id, row, seq) SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?) WHERE true
       ON CONFLICT (job_id) DO UPDATE SET row = excluded.row, seq = excluded.seq WHERE excluded.seq > child_index.seq`,
      indexed.map((r) => [r.childJobId, JSON.stringify(r.index), r.index!.seq]),
    );
    this.enqueue({ id: "index-children", kind: "indexChildren", payload: null, dueAt: Date.now(), coalesce: true });
  }

  /** Children's index rows not yet written to the job index. */
  pendingChildIndex(limit: number): PendingIndexRow[] {
    if (!this.t.has("child_index")) return [];
    return this.t.sql
      .exec<{ row: string }>(`SELECT row FROM child_index LIMIT ?`, limit)
      .toArray()
      .map((r) => JSON.parse(r.row) as PendingIndexRow);
  }

  /** Forgets index rows once D1 has them (unless a newer one arrived meanwhile). */
  indexWritten(rows: PendingIndexRow[]): void {
    if (rows.length === 0) return;
    this.t.transaction(() => {
      // Unless a newer row arrived meanwhile (a row's seq only grows).
      this.t.bulk(`DELETE FROM child_index WHERE (job_id, seq) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?))`, rows.map((r) => [r.job.jobId, r.seq]));
    });
  }

  hasPendingChildIndex(): boolean {
    return this.t.has("child_index") && this.t.sql.exec(`SELECT 1 FROM child_index LIMIT 1`).toArray().length > 0;
  }
}
