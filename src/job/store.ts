/**
 * All SQL of a JobObject. A run is stored as tables, not one document:
 *
 *   control   one small row: status, current step, counters (the engine's `JobState`)
 *   data      the execution data, one row per key; a runChildJob output is a reference, not a copy
 *   child     one row per child job: its step attempt, index, status, output or error, units
 *   event     the received events
 *   history   the append-only history; payloads over a few KiB sit in `blob`
 *   blob      large history payloads, one value per row
 *   child_input  each child's input until the run ends (apart from its row: a row holds one payload)
 *   work      the I/O the run owes (calls, child starts, reports, index writes)
 *   inbox     children's reports not yet applied; child_index: their index rows not yet written
 *
 * A decision is committed with its history and owed work in one transaction. This file owns the
 * run's own rows and implements the engine's `JobView` (each read one indexed query); the owed
 * work, inbox and child index are `WorkQueue` (work-queue.ts); the schema, the size check on every
 * value (Cloudflare refuses over 2 MB; local workerd does not) and bulk writes are `SqlTables`.
 */
import { exceedsBytes } from "../engine/payload";
import type { ChildRow, ChildrenRef, Decision, HistoryDraft, JobState, JobView, ReceivedEvent, StoredValue } from "../engine/types";
import { HISTORY_INLINE_PAYLOAD_BYTES } from "../limits";
import { ChildTable } from "./child-rows";
import { SqlTables } from "./sql-tables";
import { WorkQueue } from "./work-queue";
import { MetricsOutbox } from "./metrics-outbox";
import { InheritanceSink, InheritanceSource } from "./inheritance";
import { RetireQueue } from "./retire-queue";
import { TimeTravelRows } from "./time-travel-rows";
import { BLOB_TAG, JSON_TAG, REF_TAG } from "./stored-tags";

export { StoredValueTooLargeError } from "./sql-tables";
export type { PendingIndexRow, WorkItem, WorkKind } from "./work-queue";

export class JobStore implements JobView {
  readonly tables: SqlTables;
  /** The work the run owes and the children's reports it has yet to apply. */
  readonly queue: WorkQueue;
  /** Metrics not yet in the job index. */
  readonly metrics: MetricsOutbox;
  /** The run's children and their inputs. */
  readonly childRows: ChildTable;
  /** What this run passes on to the run that continues it (once it has handed over). */
  readonly bequest: InheritanceSource;
  /** What this run receives from the run it continues (until it has it all). */
  readonly inheritance: InheritanceSink;
  /** What pausing and rerunning keep beside the run's own rows (what the run started with, above all). */
  readonly timeTravel: TimeTravelRows;
  /** A top-level job's retention, and the deletion of its tree. */
  readonly retire: RetireQueue;

  constructor(storage: DurableObjectStorage) {
    this.tables = new SqlTables(storage);
    this.childRows = new ChildTable(this.tables);
    this.bequest = new InheritanceSource(this.tables, this.childRows);
    this.timeTravel = new TimeTravelRows(this.tables, this.childRows);
    this.inheritance = new InheritanceSink(this.tables, this.childRows, this.timeTravel);
    this.queue = new WorkQueue(this.tables);
    this.metrics = new MetricsOutbox(this.tables, this.queue);
    this.retire = new RetireQueue(this.tables);
  }

  /** Durable commits by this instance (see SqlTables). */
  get commits(): number {
    return this.tables.commits;
  }

  /** Forgets the schema after the storage was deleted: the object is empty again. */
  reinitialize(): void {
    this.tables.reset();
  }

  /** Runs `fn` in one write transaction (see SqlTables). */
  transaction<T>(fn: () => T): T {
    return this.tables.transaction(fn);
  }

  /** Bytes this Durable Object's SQLite holds. */
  databaseSize(): number {
    return this.tables.sql.databaseSize;
  }

  /** Every table's largest stored value in bytes (see SqlTables). */
  largestValues(): Record<string, number> {
    return this.tables.largestValues();
  }

  // ---- the run ---------------------------------------------------------------------------------

  /** The control row and definition text, or null for a job that does not exist here. */
  load(): { state: JobState; definition: string } | null {
    if (!this.tables.has("control")) return null;
    const state = this.tables.sql.exec<{ state: string }>(`SELECT state FROM control WHERE id = 1`).toArray()[0];
    if (!state) return null;
    const definition = this.tables.sql.exec<{ text: string }>(`SELECT text FROM definition WHERE id = 1`).one().text;
    return { state: JSON.parse(state.state) as JobState, definition };
  }

  /**
   * Creates the run with its first execution data, inside the caller's transaction. Throws
   * StoredValueTooLargeError when a value is too large. (A continued run receives its own later: inheritance.ts.)
   */
  create(state: JobState, definition: string, data: Record<string, unknown>): void {
    for (const table of ["meta", "control", "definition"] as const) this.tables.ensure(table);
    this.tables.sql.exec(`INSERT INTO control (id, state) VALUES (1, ?)`, this.tables.checked(JSON.stringify(state), "The job's control row"));
    this.tables.sql.exec(`INSERT INTO definition (id, text) VALUES (1, ?)`, this.tables.checked(definition, "The workflow definition"));
    this.putData(Object.entries(data).map(([key, value]): [string, StoredValue] => [key, { value }]));
  }

  /** Writes a decision (the control row, the rows it changed, its history, its owed work) inside the caller's transaction. */
  write(decision: Decision, now: number): void {
    const { changes } = decision;
    // The history first: the control row records how much it now holds.
    const written = this.insertHistory(decision.history);
    if (written > 0) decision.state.historyBytes = (decision.state.historyBytes ?? 0) + written;
    this.tables.sql.exec(`UPDATE control SET state = ? WHERE id = 1`, this.tables.checked(JSON.stringify(decision.state), "The job's control row"));
    this.putData(changes.data);
    this.childRows.insert(changes.newChildren);
    for (const c of changes.cancelWaiting) this.childRows.cancelWaiting(c.stepName, c.attempt);
    this.childRows.update([...changes.children.values()]);
    for (const [id, e] of changes.events) this.putEvent(id, e);
    for (const c of decision.commands) this.queue.enqueueCommand(c, now);
  }

  // ---- execution data --------------------------------------------------------------------------

  /**
   * Writes execution-data entries, in bulk (a chain of 500 pure steps writes 1,000 of them).
   */
  private putData(entries: Iterable<[string, StoredValue]>): void {
    const rows: [string, string][] = [];
    for (const [key, stored] of entries) {
      this.tables.ensure("data");
      if ("value" in stored && stored.value === undefined) {
        this.tables.sql.exec(`DELETE FROM data WHERE key = ?`, key);
        continue;
      }
      const text = "ref" in stored ? REF_TAG + JSON.stringify(stored.ref) : JSON_TAG + (stored.json ?? JSON.stringify(stored.value));
      rows.push([key, this.tables.checked(text, `Execution data "${key}"`)]);
    }
    this.tables.bulkLarge(
      `INSERT OR REPLACE INTO data (key, value) SELECT value ->> 0, value ->> 1 FROM json_each(?) ORDER BY key`,
      `INSERT OR REPLACE INTO data (key, value) VALUES (?1, ?2)`,
      rows,
    );
  }

  dataKeys(): string[] {
    if (!this.tables.has("data")) return [];
    return this.tables.sql.exec<{ key: string }>(`SELECT key FROM data`).toArray().map((r) => r.key);
  }

  data(key: string): StoredValue | undefined {
    if (!this.tables.has("data")) return undefined;
    const row = this.tables.sql.exec<{ value: string }>(`SELECT value FROM data WHERE key = ?`, key).toArray()[0];
    if (!row) return undefined;
    const body = row.value.slice(1);
    return row.value[0] === REF_TAG ? { ref: JSON.parse(body) as ChildrenRef } : { value: JSON.parse(body), json: body };
  }

  // ---- children (the engine's reads; see ChildTable) ------------------------------------------------

  childStubs(stepName: string, attempt: number): ChildRow[] {
    return this.childRows.stubs(stepName, attempt);
  }

  childPayloads(jobIds: string[], maxBytes: number): { payloads: Map<string, Pick<ChildRow, "output" | "error">> } | { over: number } {
    return this.childRows.payloads(jobIds, maxBytes);
  }

  child(jobId: string): ChildRow | undefined {
    return this.childRows.stub(jobId);
  }

  /** Ids of every child this run created (superseded ones too), in id order after `after`: what a tree's deletion walks. */
  childIdsAfter(after: string, limit: number): string[] {
    if (!this.tables.has("child")) return [];
    return this.tables.sql
      .exec<{ job_id: string }>(`SELECT job_id FROM child WHERE job_id > ? ORDER BY job_id LIMIT ?`, after, limit)
      .toArray()
      .map((r) => r.job_id);
  }

  /** Whether this object holds anything at all (a run, a tombstone). */
  isEmpty(): boolean {
    return this.tables.sql.exec(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' LIMIT 1`).toArray().length === 0;
  }

  childrenById(jobIds: string[]): ChildRow[] {
    return this.childRows.stubsById(jobIds);
  }

  waitingChildren(stepName: string, attempt: number, limit: number): ChildRow[] {
    return this.childRows.waiting(stepName, attempt, limit);
  }

  activeChildJobIds(stepName: string, attempt: number): string[] {
    return this.childRows.activeJobIds(stepName, attempt);
  }

  /** A step attempt's children with their payloads, in order (tests; readers page through `childRows`). */
  children(stepName: string, attempt: number): ChildRow[] {
    return this.childRows.all(stepName, attempt);
  }

  // ---- events ----------------------------------------------------------------------------------

  private putEvent(id: string, e: ReceivedEvent): void {
    this.tables.ensure("event");
    this.tables.sql.exec(
      `INSERT OR REPLACE INTO event (event_id, payload, received_at, consumed) VALUES (?, ?, ?, ?)`,
      id,
      this.tables.checked(JSON.stringify(e.payload ?? null), `The payload of event "${id}"`),
      e.receivedAt,
      e.consumed ? 1 : 0,
    );
  }

  event(eventId: string): ReceivedEvent | undefined {
    if (!this.tables.has("event")) return undefined;
    const row = this.tables.sql
      .exec<{ payload: string; received_at: number; consumed: number }>(`SELECT payload, received_at, consumed FROM event WHERE event_id = ?`, eventId)
      .toArray()[0];
    return row && { payload: JSON.parse(row.payload), receivedAt: row.received_at, consumed: row.consumed === 1 };
  }

  /** How many received events are unused, and the bytes of their payloads. */
  unusedEvents(): { count: number; bytes: number } {
    if (!this.tables.has("event")) return { count: 0, bytes: 0 };
    const row = this.tables.sql.exec<{ n: number; b: number | null }>(`SELECT COUNT(*) AS n, SUM(LENGTH(CAST(payload AS BLOB))) AS b FROM event WHERE consumed = 0`).one();
    return { count: row.n, bytes: row.b ?? 0 };
  }

  // ---- history ---------------------------------------------------------------------------------

  private insertBlob(json: string, what: string): number {
    this.tables.ensure("blob");
    this.tables.sql.exec(`INSERT INTO blob (json) VALUES (?)`, this.tables.checked(json, what));
    return this.tables.sql.exec<{ id: number }>(`SELECT last_insert_rowid() AS id`).one().id;
  }

  /**
   * A history payload as stored: a reference, inline JSON, or a blob for anything over a few KiB;
   * `count` is told the characters stored.
   */
  private payloadColumn(value: unknown, ref: ChildrenRef | undefined, what: string, count: (chars: number) => void): string | null {
    if (ref) return REF_TAG + JSON.stringify(ref);
    if (value === undefined) return null;
    const json = JSON.stringify(value);
    count(json.length);
    if (!exceedsBytes(json, HISTORY_INLINE_PAYLOAD_BYTES)) return JSON_TAG + json;
    return BLOB_TAG + this.insertBlob(json, what);
  }

  /** Appends history items, in order, in bulk; returns the characters of JSON they hold. */
  private insertHistory(items: HistoryDraft[]): number {
    if (items.length === 0) return 0;
    this.tables.ensure("history");
    let chars = 0;
    const count = (n: number) => (chars += n);
    const rows = items.map((h) => {
      const { input, inputRef, output, ...rest } = h;
      const item = this.tables.checked(JSON.stringify({ ...rest, output: { status: output.status } }), `The history of step "${h.stepName}"`);
      count(item.length);
      const what = `The history of step "${h.stepName}"`;
      return [item, this.payloadColumn(input ?? null, inputRef, what, count), this.payloadColumn(output.payload, output.payloadRef, what, count)];
    });
    this.tables.bulk(`INSERT INTO history (item, input, output) SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?) ORDER BY key`, rows);
    return chars;
  }

  /** Drops the history (an old run past its retention). */
  dropHistory(): void {
    if (!this.tables.has("history")) return;
    this.transaction(() => {
      this.tables.sql.exec(`DELETE FROM history`);
      if (this.tables.has("blob")) this.tables.sql.exec(`DELETE FROM blob`);
    });
  }

  // ---- the job's head and its runs --------------------------------------------------------------

  /** A cancel that arrived before the job existed: the job is created already cancelled. */
  tombstone(): string | null {
    if (!this.tables.has("tombstone")) return null;
    return this.tables.sql.exec<{ reason: string }>(`SELECT reason FROM tombstone WHERE id = 1`).toArray()[0]?.reason ?? null;
  }

  setTombstone(reason: string): void {
    this.transaction(() => {
      this.tables.ensure("tombstone");
      this.tables.sql.exec(`INSERT OR IGNORE INTO tombstone (id, reason) VALUES (1, ?)`, reason);
    });
  }

  /** On a job's head (run 1): the job's latest run. */
  currentRun(): number {
    if (!this.tables.has("meta")) return 1;
    const row = this.tables.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'current_run'`).toArray()[0];
    return row ? Number(row.value) : 1;
  }

  setCurrentRun(runNumber: number): void {
    this.transaction(() => {
      this.tables.ensure("meta");
      this.tables.sql.exec(`INSERT OR REPLACE INTO meta (key, value) VALUES ('current_run', ?)`, String(runNumber));
    });
  }
}
