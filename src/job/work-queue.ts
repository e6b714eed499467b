/**
 * The work a job run owes, in its own SQLite: I/O retried from the alarm until it succeeds (calls,
 * child starts and cancels, reports to the parent, index writes), children's reports waiting to
 * be applied (`inbox`), and their index rows waiting for the job index (`child_index`).
 */
import { childEnded } from "../engine/overlay";
import { exceedsBytes } from "../engine/payload";
import type { ChildReportFact, Command } from "../engine/types";
import { utf8Length } from "../json-size";
import { MAX_STORED_VALUE_BYTES } from "../limits";
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
  | "audit"
  | "pauseChild"
  | "rerunMade"
  /** A continued run receiving what it inherits from the run before (inheritance.ts). */
  | "inherit"
  /** A top-level job that ended: its retention deadline, then the deletion of its tree (retire.ts). */
  | "retain"
  | "retire";

/**
 * The due time of work held while its job is paused (the child starts it owes): never due, and
 * never an alarm time. Unpause makes it due again.
 */
const HELD_DUE_AT = Number.MAX_SAFE_INTEGER;

type WorkRow = { id: string; kind: WorkKind; payload: string; due_at: number; attempts: number; version: number };

/** A child's index row waiting to be written to the job index. */
export interface PendingIndexRow {
  organizationId: string;
  job: JobSummary;
  seq: number;
  order?: string;
}

export class WorkQueue {
  constructor(private readonly t: SqlTables) {}

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
      case "pauseChildren":
        this.holdChildStarts(c.paused, now);
        return this.enqueuePauseWords(c.jobIds, c.paused, c.seq, now);
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

  /** Holds the child starts a paused job owes (they wait, never due), or makes them due at unpause. */
  private holdChildStarts(held: boolean, now: number): void {
    if (!this.t.has("work")) return;
    if (held) this.t.sql.exec(`UPDATE work SET due_at = ? WHERE kind = 'startChild'`, HELD_DUE_AT);
    else this.t.sql.exec(`UPDATE work SET due_at = ? WHERE kind = 'startChild' AND due_at = ?`, now, HELD_DUE_AT);
  }

  /**
   * One item per child (`pause:<jobId>`) carrying the job's latest pause word: a newer word replaces
   * one not yet sent, and bumps the version so a delivery in flight of the older one does not remove it.
   */
  private enqueuePauseWords(jobIds: string[], paused: boolean, seq: number, dueAt: number): void {
    if (jobIds.length === 0) return;
    this.t.ensure("work");
    this.t.bulk(
      `INSERT INTO work (id, kind, payload, due_at, attempts, version)
       SELECT 'pause:' || (value ->> 0), 'pauseChild', json_object('jobId', value ->> 0, 'paused', json(?2), 'seq', ?3), ?4, 0, 0
       FROM json_each(?1) WHERE true
       ON CONFLICT (id) DO UPDATE SET payload = excluded.payload, version = work.version + 1, due_at = MIN(work.due_at, excluded.due_at), attempts = 0`,
      jobIds.map((id) => [id]),
      paused ? "true" : "false",
      seq,
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
    const row = this.t.sql.exec<{ t: number | null }>(`SELECT MIN(due_at) AS t FROM work WHERE due_at < ?`, HELD_DUE_AT).toArray()[0];
    return row?.t ?? undefined;
  }

  /**
   * Settles one pass of work in one commit: removes the items done, and runs `also` in the same
   * transaction (keeping the reports that came back with them: children that ended as they started).
   */
  settleWork(done: WorkItem[], also?: () => void): void {
    // A run that dropped its storage while the pass ran (purged) has nothing left to settle.
    if (!this.t.has("work") || (done.length === 0 && !also)) return;
    this.t.transaction(() => {
      also?.();
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
   * Keeps children's reports until the alarm applies them, in bulk. A later report replaces an
   * earlier one, except that nothing replaces a report of the child's end. A report is kept without
   * its metrics (the caller adopts its flushes, each key once, in the same transaction: a later report
   * may replace this one before it is applied), and one still too large
   * for a row is kept as what it means for the parent (see `fitReport`): never refused, since a
   * refused report would be sent again for ever.
   */
  receiveReports(reports: ChildReportFact[]): void {
    if (reports.length === 0) return;
    this.t.ensure("inbox");
    this.t.bulkLarge(
      `INSERT INTO inbox (child_job_id, report, ended) SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?) WHERE true
       ON CONFLICT (child_job_id) DO UPDATE SET report = excluded.report, ended = excluded.ended WHERE inbox.ended = 0`,
      `INSERT INTO inbox (child_job_id, report, ended) VALUES (?1, ?2, ?3)
       ON CONFLICT (child_job_id) DO UPDATE SET report = excluded.report, ended = excluded.ended WHERE inbox.ended = 0`,
      reports.map((r) => {
        const kept = fitReport(r);
        return [r.childJobId, this.t.checked(JSON.stringify(kept), `The report of child ${r.childJobId}`), childEnded(kept.status) ? 1 : 0];
      }),
    );
  }

  /**
   * Reports waiting to be applied: at most `limit`, and at most `maxBytes` of them (at least one),
   * read one at a time so the report past the budget is never read whole.
   */
  inbox(limit: number, maxBytes: number): ChildReportFact[] {
    if (!this.t.has("inbox")) return [];
    const texts: string[] = [];
    let bytes = 0;
    const sizes = this.t.sql.exec<{ child_job_id: string; n: number }>(`SELECT child_job_id, LENGTH(CAST(report AS BLOB)) AS n FROM inbox LIMIT ?`, limit).toArray();
    for (const { child_job_id, n } of sizes) {
      if (texts.length > 0 && bytes + n > maxBytes) break;
      bytes += n;
      texts.push(this.t.sql.exec<{ report: string }>(`SELECT report FROM inbox WHERE child_job_id = ?`, child_job_id).one().report);
    }
    return texts.map((t) => JSON.parse(t) as ChildReportFact);
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
      this.t.bulkLarge(
        `DELETE FROM inbox WHERE (child_job_id, report) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?))`,
        `DELETE FROM inbox WHERE child_job_id = ?1 AND report = ?2`,
        reports.map((r) => [r.childJobId, JSON.stringify(r)]),
      );
    }
    const indexed = reports.filter((r) => r.index);
    if (indexed.length === 0) return;
    this.t.ensure("child_index");
    this.t.bulk(
      `INSERT INTO child_index (job_id, row, seq) SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?) WHERE true
       ON CONFLICT (job_id) DO UPDATE SET row = excluded.row, seq = excluded.seq WHERE excluded.seq > child_index.seq`,
      // A report carries its error once: the index row takes it back from the report.
      indexed.map((r) => [r.childJobId, JSON.stringify(r.error && !r.index!.job.error ? { ...r.index, job: { ...r.index!.job, error: r.error } } : r.index), r.index!.seq]),
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

/** How much of an inbox row a report's index summary may take before it is left out of a report that had to be cut. */
const KEPT_INDEX_BYTES = 64 * 1024;

/**
 * A report as the parent's inbox keeps it: without its metrics (adopted on receipt), and within one SQLite row.
 * Nothing a child builds today is larger (its output is at most MAX_PAYLOAD_BYTES, its error at
 * most MAX_ERROR_MESSAGE_CHARS), so this is the last line: a report of a child's end that is still
 * too large becomes that child's failure, REPORT_TOO_LARGE, which the parent's step then counts
 * like any failed child; a report of units alone keeps its units.
 */
export function fitReport(report: ChildReportFact): ChildReportFact {
  const { metrics: _events, metricFlushes: _flushes, ...kept } = report;
  const json = JSON.stringify(kept);
  if (!exceedsBytes(json, MAX_STORED_VALUE_BYTES)) return kept;
  const { childJobId, workflowName, status, units, index } = kept;
  const smallIndex = index && !exceedsBytes(JSON.stringify(index), KEPT_INDEX_BYTES) ? { index } : {};
  if (!childEnded(status)) return { childJobId, workflowName, status, units, ...smallIndex };
  const bytes = utf8Length(json);
  const message = `The child's report of ${bytes} bytes (status ${status}) is over the ${MAX_STORED_VALUE_BYTES} bytes its parent can keep; the parent counts the child as failed.`;
  return { childJobId, workflowName, status: "FAILED", units, error: { code: "REPORT_TOO_LARGE", message }, ...smallIndex };
}
