/**
 * All SQL of a schedule's Durable Object: one `control` row (spec, pause, cursor, counts, the D1
 * copy's version) and an `action` table (each firing's decision and outcome). A firing is decided
 * and recorded, with the cursor moved past it, in one transaction; starting its job comes after
 * and is idempotent, so an alarm that runs twice, or dies between the two, starts one job.
 */
import { SCHEDULE_RECENT_ACTIONS } from "../limits";
import type { ScheduleSpec } from "./spec";

const SCHEMA_VERSION = 2;

export type Trigger = "SCHEDULED" | "TRIGGERED" | "BACKFILL";
/**
 * PENDING: decided to start, not started yet (possibly waiting for `waitFor` to end first);
 * STARTED: its job exists; SKIPPED: the overlap policy (or a pause on failure) ruled it out;
 * NOT_STARTED: the submission was refused (workflow gone, input no longer valid…), see `detail`.
 */
export type ActionState = "PENDING" | "STARTED" | "SKIPPED" | "NOT_STARTED";

export interface Control {
  organizationId: string;
  scheduleId: string;
  spec: ScheduleSpec;
  paused: boolean;
  note?: string;
  /** The latest nominal fire time handled (started, skipped or missed): the next is after it. */
  cursor: number;
  /** The job of the latest started firing: the one overlap policies and pauseOnFailure look at. */
  lastJobId?: string;
  missed: number;
  skipped: number;
  createdAt: number;
  updatedAt: number;
  /** Version of what the D1 copy must show, and the version it is known to show. */
  indexSeq: number;
  indexedSeq: number;
}

export interface Action {
  seq: number;
  trigger: Trigger;
  fireAt: number;
  jobId: string;
  state: ActionState;
  /** CANCEL_OTHER / TERMINATE_OTHER: the job to cancel before this one starts (cleared once sent). */
  cancelJobId?: string;
  /** Start only when this job has ended (BUFFER_ONE), with its whole tree (CANCEL_OTHER). */
  waitFor?: string;
  waitForTree: boolean;
  detail?: string;
  actedAt: number;
}

type ControlRow = {
  organization_id: string;
  schedule_id: string;
  spec: string;
  paused: number;
  note: string | null;
  cursor: number;
  last_job_id: string | null;
  missed: number;
  skipped: number;
  created_at: number;
  updated_at: number;
  index_seq: number;
  indexed_seq: number;
};

type ActionRow = {
  seq: number;
  trigger: Trigger;
  fire_at: number;
  job_id: string;
  state: ActionState;
  cancel_job_id: string | null;
  wait_for: string | null;
  wait_for_tree: number;
  detail: string | null;
  acted_at: number;
};

const toControl = (r: ControlRow): Control => ({
  organizationId: r.organization_id,
  scheduleId: r.schedule_id,
  spec: JSON.parse(r.spec) as ScheduleSpec,
  paused: r.paused === 1,
  ...(r.note !== null ? { note: r.note } : {}),
  cursor: r.cursor,
  ...(r.last_job_id !== null ? { lastJobId: r.last_job_id } : {}),
  missed: r.missed,
  skipped: r.skipped,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  indexSeq: r.index_seq,
  indexedSeq: r.indexed_seq,
});

const toAction = (r: ActionRow): Action => ({
  seq: r.seq,
  trigger: r.trigger,
  fireAt: r.fire_at,
  jobId: r.job_id,
  state: r.state,
  ...(r.cancel_job_id !== null ? { cancelJobId: r.cancel_job_id } : {}),
  ...(r.wait_for !== null ? { waitFor: r.wait_for } : {}),
  waitForTree: r.wait_for_tree === 1,
  ...(r.detail !== null ? { detail: r.detail } : {}),
  actedAt: r.acted_at,
});

export class ScheduleStore {
  private readonly sql: SqlStorage;

  constructor(private readonly storage: DurableObjectStorage) {
    this.sql = storage.sql;
    this.ensureSchema();
  }

  private ensureSchema(): void {
    this.sql.exec(`CREATE TABLE IF NOT EXISTS meta (id INTEGER PRIMARY KEY CHECK (id = 1), schema_version INTEGER NOT NULL)`);
    const row = this.sql.exec<{ schema_version: number }>(`SELECT schema_version FROM meta`).toArray()[0];
    if (row?.schema_version === SCHEMA_VERSION) return;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS control (
        id INTEGER PRIMARY KEY CHECK (id = 1), organization_id TEXT NOT NULL, schedule_id TEXT NOT NULL, spec TEXT NOT NULL,
        paused INTEGER NOT NULL, note TEXT, cursor INTEGER NOT NULL, last_job_id TEXT, missed INTEGER NOT NULL DEFAULT 0,
        skipped INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
        index_seq INTEGER NOT NULL, indexed_seq INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE IF NOT EXISTS action (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, trigger TEXT NOT NULL, fire_at INTEGER NOT NULL, job_id TEXT NOT NULL,
        state TEXT NOT NULL, cancel_job_id TEXT, wait_for TEXT, wait_for_tree INTEGER NOT NULL DEFAULT 0, detail TEXT,
        acted_at INTEGER NOT NULL, UNIQUE (trigger, fire_at));
      CREATE INDEX IF NOT EXISTS action_pending ON action(state, seq);
      CREATE TABLE IF NOT EXISTS retry (id INTEGER PRIMARY KEY CHECK (id = 1), failures INTEGER NOT NULL);
      INSERT OR REPLACE INTO meta (id, schema_version) VALUES (1, ${SCHEMA_VERSION});
    `);
  }

  transaction<T>(fn: () => T): T {
    return this.storage.transactionSync(fn);
  }

  control(): Control | null {
    const row = this.sql.exec<ControlRow>(`SELECT * FROM control WHERE id = 1`).toArray()[0];
    return row ? toControl(row) : null;
  }

  create(c: Omit<Control, "missed" | "skipped" | "indexedSeq" | "lastJobId">): void {
    this.sql.exec(
      `INSERT INTO control (id, organization_id, schedule_id, spec, paused, note, cursor, created_at, updated_at, index_seq)
       VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      c.organizationId,
      c.scheduleId,
      JSON.stringify(c.spec),
      c.paused ? 1 : 0,
      c.note ?? null,
      c.cursor,
      c.createdAt,
      c.updatedAt,
      c.indexSeq,
    );
  }

  /** A change the D1 copy must show: bumps its version. */
  setSpec(spec: ScheduleSpec, cursor: number, at: number): void {
    this.sql.exec(`UPDATE control SET spec = ?, cursor = MAX(cursor, ?), updated_at = ?, index_seq = index_seq + 1`, JSON.stringify(spec), cursor, at);
  }

  setPaused(paused: boolean, note: string | undefined, at: number, cursor?: number): void {
    this.sql.exec(
      `UPDATE control SET paused = ?, note = ?, updated_at = ?, index_seq = index_seq + 1, cursor = MAX(cursor, ?)`,
      paused ? 1 : 0,
      note ?? null,
      at,
      cursor ?? 0,
    );
  }

  advanceCursor(to: number): void {
    this.sql.exec(`UPDATE control SET cursor = MAX(cursor, ?)`, to);
  }

  countMissed(n: number): void {
    this.sql.exec(`UPDATE control SET missed = missed + ?`, n);
  }

  countSkipped(): void {
    this.sql.exec(`UPDATE control SET skipped = skipped + 1`);
  }

  setLastJob(jobId: string | null): void {
    this.sql.exec(`UPDATE control SET last_job_id = ?`, jobId);
  }

  /** Alarm passes that failed in a row (0 after one that succeeded): the retry backoff grows with it. */
  failures(): number {
    return this.sql.exec<{ failures: number }>(`SELECT failures FROM retry WHERE id = 1`).toArray()[0]?.failures ?? 0;
  }

  setFailures(n: number): void {
    this.sql.exec(`INSERT INTO retry (id, failures) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET failures = excluded.failures`, n);
  }

  indexed(seq: number): void {
    this.sql.exec(`UPDATE control SET indexed_seq = MAX(indexed_seq, ?)`, seq);
  }

  action(trigger: Trigger, fireAt: number): Action | undefined {
    const row = this.sql.exec<ActionRow>(`SELECT * FROM action WHERE trigger = ? AND fire_at = ?`, trigger, fireAt).toArray()[0];
    return row && toAction(row);
  }

  /** Records a decided firing; returns false when that firing was already decided (a replay). */
  addAction(a: Omit<Action, "seq">): boolean {
    const cursor = this.sql.exec(
      `INSERT INTO action (trigger, fire_at, job_id, state, cancel_job_id, wait_for, wait_for_tree, detail, acted_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (trigger, fire_at) DO NOTHING`,
      a.trigger,
      a.fireAt,
      a.jobId,
      a.state,
      a.cancelJobId ?? null,
      a.waitFor ?? null,
      a.waitForTree ? 1 : 0,
      a.detail ?? null,
      a.actedAt,
    );
    return cursor.rowsWritten > 0;
  }

  settle(seq: number, state: ActionState, detail: string | undefined, at: number): void {
    this.sql.exec(`UPDATE action SET state = ?, detail = ?, acted_at = ?, cancel_job_id = NULL, wait_for = NULL WHERE seq = ?`, state, detail ?? null, at, seq);
    this.prune();
  }

  /** The cancel of `cancelJobId` was sent: what is left is to wait for it (or not) and start. */
  cancelSent(seq: number): void {
    this.sql.exec(`UPDATE action SET wait_for = CASE WHEN wait_for_tree = 1 THEN cancel_job_id ELSE wait_for END, cancel_job_id = NULL WHERE seq = ?`, seq);
  }

  /** Backfill firings still to start. */
  pendingBackfills(): number {
    return this.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM action WHERE state = 'PENDING' AND trigger = 'BACKFILL'`).one().n;
  }

  /** Pending firings, oldest first. */
  pending(limit: number): Action[] {
    return this.sql.exec<ActionRow>(`SELECT * FROM action WHERE state = 'PENDING' ORDER BY seq LIMIT ?`, limit).toArray().map(toAction);
  }

  /**
   * Firings decided to start with nothing left to wait for: their start is in flight, or owed
   * after a crash (the alarm carries it out). Overlap policies count them as busy, newest last.
   */
  starting(): Action[] {
    return this.sql
      .exec<ActionRow>(`SELECT * FROM action WHERE state = 'PENDING' AND trigger != 'BACKFILL' AND wait_for IS NULL AND cancel_job_id IS NULL ORDER BY seq`)
      .toArray()
      .map(toAction);
  }

  /** The firing (not a backfill) that is to start job `jobId` and has not yet, if any. */
  unstarted(jobId: string): Action | undefined {
    const row = this.sql.exec<ActionRow>(`SELECT * FROM action WHERE state = 'PENDING' AND trigger != 'BACKFILL' AND job_id = ?`, jobId).toArray()[0];
    return row && toAction(row);
  }

  /** Nothing is left to wait for: the firing's start may go out (it now counts as busy). */
  markStarting(seq: number): void {
    this.sql.exec(`UPDATE action SET wait_for = NULL, cancel_job_id = NULL WHERE seq = ? AND state = 'PENDING'`, seq);
  }

  /** A firing waiting for an earlier job (BUFFER_ONE's buffer, CANCEL_OTHER's replacement). */
  waiting(): Action[] {
    return this.sql
      .exec<ActionRow>(`SELECT * FROM action WHERE state = 'PENDING' AND trigger != 'BACKFILL' AND (wait_for IS NOT NULL OR cancel_job_id IS NOT NULL) ORDER BY seq`)
      .toArray()
      .map(toAction);
  }

  recent(limit = SCHEDULE_RECENT_ACTIONS): Action[] {
    return this.sql.exec<ActionRow>(`SELECT * FROM action ORDER BY seq DESC LIMIT ?`, limit).toArray().map(toAction);
  }

  /** Settled actions beyond the most recent ones are dropped; pending ones are kept until done. */
  private prune(): void {
    this.sql.exec(
      `DELETE FROM action WHERE state != 'PENDING' AND seq < (SELECT MIN(seq) FROM (SELECT seq FROM action ORDER BY seq DESC LIMIT ?))`,
      SCHEDULE_RECENT_ACTIONS,
    );
  }

  /** Drops everything (DeleteSchedule); the object is then an empty, well-formed store. */
  async deleteAll(): Promise<void> {
    await this.storage.deleteAlarm();
    await this.storage.deleteAll();
    this.ensureSchema();
  }
}
