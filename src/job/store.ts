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
import { childResults } from "../engine/overlay";
import { exceedsBytes } from "../engine/payload";
import type { ChildRow, ChildrenRef, Decision, HistoryDraft, HistoryItem, JobState, JobView, NewChild, ReceivedEvent, StoredValue } from "../engine/types";
import { HISTORY_INLINE_PAYLOAD_BYTES, METRICS_MAX_FLUSH_DELAY_MS } from "../limits";
import { SqlTables } from "./sql-tables";
import { WorkQueue } from "./work-queue";
import { MetricsOutbox } from "./metrics-outbox";
import { RetireQueue } from "./retire-queue";

export { StoredValueTooLargeError } from "./sql-tables";
export type { PendingIndexRow, WorkItem, WorkKind } from "./work-queue";

type ChildDbRow = {
  job_id: string;
  step: string;
  step_attempt: number;
  idx: number;
  key: string;
  spec: string;
  status: ChildRow["status"];
  superseded: number;
  workflow_name: string | null;
  output: string | null;
  error: string | null;
  units: number;
};

// Stored values are tagged by their first character, so a user's JSON can never pass for a reference.
const JSON_TAG = "j";
const REF_TAG = "r";
const BLOB_TAG = "b";

function childFromDb(r: ChildDbRow): ChildRow {
  const spec = JSON.parse(r.spec) as Pick<ChildRow, "workflowRef" | "workflowVersion">;
  return {
    jobId: r.job_id,
    stepName: r.step,
    stepAttempt: r.step_attempt,
    childIndex: r.idx,
    key: r.key,
    workflowRef: spec.workflowRef,
    workflowVersion: spec.workflowVersion,
    status: r.status,
    superseded: r.superseded === 1,
    ...(r.workflow_name !== null ? { workflowName: r.workflow_name } : {}),
    ...(r.output !== null ? { output: JSON.parse(r.output) } : {}),
    ...(r.error !== null ? { error: JSON.parse(r.error) } : {}),
    units: r.units,
  };
}

export class JobStore implements JobView {
  readonly tables: SqlTables;
  /** The work the run owes and the children's reports it has yet to apply. */
  readonly queue: WorkQueue;
  /** Metrics not yet in the job index. */
  readonly metrics: MetricsOutbox;
  /** A top-level job's retention, and the deletion of its tree. */
  readonly retire: RetireQueue;

  constructor(storage: DurableObjectStorage) {
    this.tables = new SqlTables(storage);
    // A parent's flush of what it adopts is owed within the usual delay (its own end flushes sooner).
    this.queue = new WorkQueue(this.tables, (flushes) => this.metrics.adopt(flushes, Date.now(), METRICS_MAX_FLUSH_DELAY_MS));
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
   * Creates the run with its first execution data and the events it inherits (a continued run),
   * inside the caller's transaction. Throws StoredValueTooLargeError when one of them is too large.
   */
  create(state: JobState, definition: string, data: Record<string, unknown>, events: [string, ReceivedEvent][]): void {
    for (const table of ["meta", "control", "definition"] as const) this.tables.ensure(table);
    this.tables.sql.exec(`INSERT INTO control (id, state) VALUES (1, ?)`, this.tables.checked(JSON.stringify(state), "The job's control row"));
    this.tables.sql.exec(`INSERT INTO definition (id, text) VALUES (1, ?)`, this.tables.checked(definition, "The workflow definition"));
    this.putData(Object.entries(data).map(([key, value]): [string, StoredValue] => [key, { value }]));
    for (const [id, e] of events) this.putEvent(id, e);
  }

  /** Writes a decision (the control row, the rows it changed, its history, its owed work) inside the caller's transaction. */
  write(decision: Decision, now: number): void {
    this.tables.sql.exec(`UPDATE control SET state = ? WHERE id = 1`, this.tables.checked(JSON.stringify(decision.state), "The job's control row"));
    const { changes } = decision;
    this.putData(changes.data);
    this.insertChildren(changes.newChildren);
    for (const c of changes.cancelWaiting) {
      if (!this.tables.has("child")) break;
      this.tables.sql.exec(`UPDATE child SET status = 'CANCELLED' WHERE step = ? AND step_attempt = ? AND status = 'WAITING'`, c.stepName, c.attempt);
    }
    this.updateChildren([...changes.children.values()]);
    for (const [id, e] of changes.events) this.putEvent(id, e);
    this.insertHistory(decision.history);
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
    this.tables.bulk(`INSERT OR REPLACE INTO data (key, value) SELECT value ->> 0, value ->> 1 FROM json_each(?) ORDER BY key`, rows);
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

  /** The whole execution data, references assembled (GetWorkflowState, a rollover carrying it all). */
  executionData(): Record<string, unknown> {
    const assembled = new RefCache(this);
    const out: Record<string, unknown> = {};
    for (const key of this.dataKeys()) {
      const stored = this.data(key)!;
      Object.defineProperty(out, key, { value: assembled.value(stored), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }

  /** One execution-data value, a reference assembled. */
  value(key: string): unknown {
    const stored = this.data(key);
    return stored === undefined ? undefined : new RefCache(this).value(stored);
  }

  // ---- children --------------------------------------------------------------------------------

  private insertChildren(children: NewChild[]): void {
    if (children.length === 0) return;
    this.tables.ensure("child");
    this.tables.bulk(
      `INSERT INTO child (job_id, step, step_attempt, idx, key, spec, status, superseded, units)
       SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7, value ->> 8
       FROM json_each(?) ORDER BY key`,
      children.map(({ row }) => [
        row.jobId,
        row.stepName,
        row.stepAttempt,
        row.childIndex,
        row.key,
        JSON.stringify({ workflowRef: row.workflowRef, workflowVersion: row.workflowVersion }),
        row.status,
        row.superseded ? 1 : 0,
        row.units,
      ]),
    );
    const inputs = children.filter((c) => c.input !== undefined);
    if (inputs.length === 0) return;
    this.tables.ensure("child_input");
    this.tables.bulk(
      `INSERT OR REPLACE INTO child_input (job_id, json) SELECT value ->> 0, value ->> 1 FROM json_each(?)`,
      inputs.map(({ row, input }) => [row.jobId, this.tables.checked(JSON.stringify(input), `The input of child ${row.key}`)]),
    );
  }

  private updateChildren(rows: ChildRow[]): void {
    if (rows.length === 0) return;
    this.tables.bulk(
      `UPDATE child SET step_attempt = u.step_attempt, status = u.status, superseded = u.superseded, workflow_name = u.workflow_name,
         output = u.output, error = u.error, units = u.units
       FROM (SELECT value ->> 0 AS job_id, value ->> 1 AS step_attempt, value ->> 2 AS status, value ->> 3 AS superseded,
               value ->> 4 AS workflow_name, value ->> 5 AS output, value ->> 6 AS error, value ->> 7 AS units FROM json_each(?)) AS u
       WHERE child.job_id = u.job_id`,
      rows.map((row) => [
        row.jobId,
        row.stepAttempt,
        row.status,
        row.superseded ? 1 : 0,
        row.workflowName ?? null,
        row.output === undefined ? null : this.tables.checked(JSON.stringify(row.output), `The output of child ${row.key}`),
        row.error ? this.tables.checked(JSON.stringify(row.error), `The error of child ${row.key}`) : null,
        row.units,
      ]),
    );
  }

  children(stepName: string, attempt: number): ChildRow[] {
    if (!this.tables.has("child")) return [];
    return this.tables.sql
      .exec<ChildDbRow>(`SELECT * FROM child WHERE step = ? AND step_attempt = ? AND superseded = 0 ORDER BY idx`, stepName, attempt)
      .toArray()
      .map(childFromDb);
  }

  child(jobId: string): ChildRow | undefined {
    if (!this.tables.has("child")) return undefined;
    const row = this.tables.sql.exec<ChildDbRow>(`SELECT * FROM child WHERE job_id = ?`, jobId).toArray()[0];
    return row && childFromDb(row);
  }

  waitingChildren(stepName: string, attempt: number, limit: number): ChildRow[] {
    if (!this.tables.has("child")) return [];
    return this.tables.sql
      .exec<ChildDbRow>(
        `SELECT * FROM child WHERE step = ? AND step_attempt = ? AND status = 'WAITING' AND superseded = 0 ORDER BY idx LIMIT ?`,
        stepName,
        attempt,
        limit,
      )
      .toArray()
      .map(childFromDb);
  }

  activeChildJobIds(stepName: string, attempt: number): string[] {
    if (!this.tables.has("child")) return [];
    return this.tables.sql
      .exec<{ job_id: string }>(`SELECT job_id FROM child WHERE step = ? AND step_attempt = ? AND status = 'STARTING' AND superseded = 0`, stepName, attempt)
      .toArray()
      .map((r) => r.job_id);
  }

  /** Children's rows and the inputs they start with (for the work that creates them), by job id. */
  childrenToStart(jobIds: string[]): Map<string, { row: ChildRow; input: unknown }> {
    const out = new Map<string, { row: ChildRow; input: unknown }>();
    if (!this.tables.has("child") || jobIds.length === 0) return out;
    const input = this.tables.has("child_input") ? "child_input.json" : "NULL";
    const join = this.tables.has("child_input") ? "LEFT JOIN child_input USING (job_id)" : "";
    const rows = this.tables.sql
      .exec<ChildDbRow & { input: string | null }>(
        `SELECT child.*, ${input} AS input FROM child ${join} WHERE job_id IN (SELECT value FROM json_each(?))`,
        JSON.stringify(jobIds),
      )
      .toArray();
    for (const r of rows) out.set(r.job_id, { row: childFromDb(r), input: r.input === null ? undefined : JSON.parse(r.input) });
    return out;
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
    if (!this.tables.has("child") || jobIds.length === 0) return [];
    return this.tables.sql
      .exec<ChildDbRow>(`SELECT * FROM child WHERE job_id IN (SELECT value FROM json_each(?))`, JSON.stringify(jobIds))
      .toArray()
      .map(childFromDb);
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

  unconsumedEvents(): [string, ReceivedEvent][] {
    if (!this.tables.has("event")) return [];
    return this.tables.sql
      .exec<{ event_id: string; payload: string; received_at: number }>(`SELECT event_id, payload, received_at FROM event WHERE consumed = 0`)
      .toArray()
      .map((r) => [r.event_id, { payload: JSON.parse(r.payload), receivedAt: r.received_at, consumed: false }]);
  }

  // ---- history ---------------------------------------------------------------------------------

  private insertBlob(json: string, what: string): number {
    this.tables.ensure("blob");
    this.tables.sql.exec(`INSERT INTO blob (json) VALUES (?)`, this.tables.checked(json, what));
    return this.tables.sql.exec<{ id: number }>(`SELECT last_insert_rowid() AS id`).one().id;
  }

  /** A history payload as stored: a reference, inline JSON, or a blob for anything over a few KiB. */
  private payloadColumn(value: unknown, ref: ChildrenRef | undefined, what: string): string | null {
    if (ref) return REF_TAG + JSON.stringify(ref);
    if (value === undefined) return null;
    const json = JSON.stringify(value);
    if (!exceedsBytes(json, HISTORY_INLINE_PAYLOAD_BYTES)) return JSON_TAG + json;
    return BLOB_TAG + this.insertBlob(json, what);
  }

  /** Appends history items, in order, in bulk. */
  private insertHistory(items: HistoryDraft[]): void {
    if (items.length === 0) return;
    this.tables.ensure("history");
    const rows = items.map((h) => {
      const { input, inputRef, output, ...rest } = h;
      const item = { ...rest, output: { status: output.status } };
      const what = `The history of step "${h.stepName}"`;
      return [
        this.tables.checked(JSON.stringify(item), what),
        this.payloadColumn(input ?? null, inputRef, what),
        this.payloadColumn(output.payload, output.payloadRef, what),
      ];
    });
    this.tables.bulk(`INSERT INTO history (item, input, output) SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?) ORDER BY key`, rows);
  }

  /** The run's history, oldest first, its payloads assembled. */
  history(): HistoryItem[] {
    if (!this.tables.has("history")) return [];
    const cache = new RefCache(this);
    const read = (column: string | null): { has: boolean; value?: unknown } => {
      if (column === null) return { has: false };
      const body = column.slice(1);
      switch (column[0]) {
        case REF_TAG:
          return { has: true, value: cache.value({ ref: JSON.parse(body) as ChildrenRef }) };
        case BLOB_TAG:
          return { has: true, value: JSON.parse(this.tables.sql.exec<{ json: string }>(`SELECT json FROM blob WHERE id = ?`, Number(body)).one().json) };
        default:
          return { has: true, value: JSON.parse(body) };
      }
    };
    // Rows are read one page at a time: no cursor stays open while blobs and references are read.
    const items: HistoryItem[] = [];
    let after = 0;
    for (;;) {
      const page = this.tables.sql
        .exec<{ seq: number; item: string; input: string | null; output: string | null }>(`SELECT * FROM history WHERE seq > ? ORDER BY seq LIMIT 500`, after)
        .toArray();
      for (const row of page) {
        const item = JSON.parse(row.item) as Omit<HistoryItem, "input">;
        const input = read(row.input);
        const output = read(row.output);
        items.push({ ...item, input: input.has ? input.value : null, output: output.has ? { ...item.output, payload: output.value } : item.output });
      }
      if (page.length < 500) return items;
      after = page[page.length - 1]!.seq;
    }
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

/** Assembles stored references, each once per read. */
class RefCache {
  private readonly done = new Map<string, unknown>();
  constructor(private readonly view: Pick<JobView, "children">) {}

  value(stored: StoredValue): unknown {
    if ("value" in stored) return stored.value;
    const { stepName, attempt } = stored.ref.children;
    const key = `${stepName}\u0000${attempt}`;
    if (!this.done.has(key)) this.done.set(key, childResults(this.view.children(stepName, attempt)));
    return this.done.get(key);
  }
}
