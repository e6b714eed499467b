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
 *   inbox     children's reports not yet applied; child_index: their index rows not yet in D1
 *
 * A decision is committed with its history and owed work in one `transactionSync`, and nothing
 * larger than MAX_STORED_VALUE_BYTES is ever handed to SQLite (Cloudflare refuses values over
 * 2 MB; local workerd does not, so the check lives here). The store implements the engine's
 * `JobView`: each read is one indexed query.
 */
import { childEnded, childResults } from "../engine/overlay";
import { exceedsBytes } from "../engine/payload";
import { utf8Length } from "../json-size";
import type { ChildReportFact, ChildRow, ChildrenRef, Command, Decision, HistoryDraft, HistoryItem, JobState, JobView, NewChild, ReceivedEvent, StoredValue } from "../engine/types";
import { HISTORY_INLINE_PAYLOAD_BYTES, MAX_STORED_VALUE_BYTES } from "../limits";

/** JSON handed to SQLite in one bulk statement: well under the 2 MB a string may have on Cloudflare. */
const BULK_CHUNK_CHARS = 512 * 1024;
import type { JobSummary } from "./views";

const SCHEMA_VERSION = 2;

/** A value too large for a SQLite row on Cloudflare: the commit is refused before SQLite sees it. */
export class StoredValueTooLargeError extends Error {
  readonly code = "PAYLOAD_TOO_LARGE";
  constructor(what: string, bytes: number) {
    super(`${what} would store ${bytes} bytes in one value; the limit is ${MAX_STORED_VALUE_BYTES} bytes.`);
  }
}

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

export type WorkKind = "call" | "startChild" | "cancelChild" | "notifyParent" | "index" | "indexChildren" | "continueAsNew" | "purge";

type WorkRow = { id: string; kind: WorkKind; payload: string; due_at: number; attempts: number; version: number };

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

/** A child index row waiting to be written to D1. */
export interface PendingIndexRow {
  organizationId: string;
  job: JobSummary;
  seq: number;
}

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

/**
 * Each table is created the first time something is written to it, in the transaction that writes
 * it: creating a table is a schema change, and a one-step child, which needs five of them, should
 * not pay for twelve. (A new Durable Object's first commit is most of a child's cost locally.)
 */
const TABLES = {
  meta: `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
  control: `CREATE TABLE control (id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL)`,
  definition: `CREATE TABLE definition (id INTEGER PRIMARY KEY CHECK (id = 1), text TEXT NOT NULL)`,
  data: `CREATE TABLE data (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
  child: `CREATE TABLE child (
      job_id TEXT PRIMARY KEY, step TEXT NOT NULL, step_attempt INTEGER NOT NULL, idx INTEGER NOT NULL,
      key TEXT NOT NULL, spec TEXT NOT NULL, status TEXT NOT NULL, superseded INTEGER NOT NULL DEFAULT 0,
      workflow_name TEXT, output TEXT, error TEXT, units INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX child_by_step ON child (step, step_attempt, status, idx)`,
  child_input: `CREATE TABLE child_input (job_id TEXT PRIMARY KEY, json TEXT NOT NULL)`,
  blob: `CREATE TABLE blob (id INTEGER PRIMARY KEY, json TEXT NOT NULL)`,
  event: `CREATE TABLE event (event_id TEXT PRIMARY KEY, payload TEXT NOT NULL, received_at INTEGER NOT NULL, consumed INTEGER NOT NULL);
    CREATE INDEX event_unconsumed ON event (consumed)`,
  history: `CREATE TABLE history (seq INTEGER PRIMARY KEY, item TEXT NOT NULL, input TEXT, output TEXT)`,
  work: `CREATE TABLE work (
      id TEXT PRIMARY KEY, kind TEXT NOT NULL, payload TEXT NOT NULL,
      due_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, version INTEGER NOT NULL DEFAULT 0
    );
    -- (due_at, id): the order dueWork reads in, so a queue of 10,000 child starts is not sorted on every pass
    CREATE INDEX work_due ON work (due_at, id)`,
  inbox: `CREATE TABLE inbox (child_job_id TEXT PRIMARY KEY, report TEXT NOT NULL, ended INTEGER NOT NULL)`,
  child_index: `CREATE TABLE child_index (job_id TEXT PRIMARY KEY, row TEXT NOT NULL, seq INTEGER NOT NULL)`,
  tombstone: `CREATE TABLE tombstone (id INTEGER PRIMARY KEY CHECK (id = 1), reason TEXT NOT NULL)`,
} as const;

type Table = keyof typeof TABLES;

export class JobStore implements JobView {
  /**
   * The tables that exist. An object asked about a job that never existed has none and writes
   * none; a read of a table not yet created finds nothing.
   */
  private tables: Set<string>;
  /** Durable commits (write transactions) by this instance: reported by the benchmark. */
  commits = 0;

  constructor(private readonly storage: DurableObjectStorage) {
    this.tables = new Set(this.sql.exec<{ name: string }>(`SELECT name FROM sqlite_master WHERE type = 'table'`).toArray().map((r) => r.name));
  }

  private get sql(): SqlStorage {
    return this.storage.sql;
  }

  /** Forgets the schema after the storage was deleted: the object is empty again. */
  reinitialize(): void {
    this.tables = new Set();
  }

  private has(table: Table): boolean {
    return this.tables.has(table);
  }

  /** Creates `table` if need be (inside the caller's transaction). */
  private ensure(table: Table): void {
    if (this.tables.has(table)) return;
    this.sql.exec(TABLES[table]);
    this.tables.add(table);
    if (table === "meta") this.sql.exec(`INSERT INTO meta (key, value) VALUES ('schema_version', ?)`, String(SCHEMA_VERSION));
  }

  /** Refuses a value too large for a row on Cloudflare, before SQLite sees it. */
  private checked(text: string, what: string): string {
    if (exceedsBytes(text, MAX_STORED_VALUE_BYTES)) throw new StoredValueTooLargeError(what, utf8Length(text));
    return text;
  }

  /**
   * Runs `fn` in one write transaction (one durable commit). Tables it creates are created in the
   * same commit; if it fails, the object is as it was, tables included.
   */
  transaction<T>(fn: () => T): T {
    this.commits += 1;
    const before = new Set(this.tables);
    try {
      return this.storage.transactionSync(fn);
    } catch (e) {
      this.tables = before;
      throw e;
    }
  }

  // ---- the run ---------------------------------------------------------------------------------

  /** The control row and definition text, or null for a job that does not exist here. */
  load(): { state: JobState; definition: string } | null {
    if (!this.has("control")) return null;
    const state = this.sql.exec<{ state: string }>(`SELECT state FROM control WHERE id = 1`).toArray()[0];
    if (!state) return null;
    const definition = this.sql.exec<{ text: string }>(`SELECT text FROM definition WHERE id = 1`).one().text;
    return { state: JSON.parse(state.state) as JobState, definition };
  }

  /**
   * Creates the run with its first execution data and the events it inherits (a continued run),
   * inside the caller's transaction. Throws StoredValueTooLargeError when one of them is too large.
   */
  create(state: JobState, definition: string, data: Record<string, unknown>, events: [string, ReceivedEvent][]): void {
    for (const table of ["meta", "control", "definition"] as const) this.ensure(table);
    this.sql.exec(`INSERT INTO control (id, state) VALUES (1, ?)`, this.checked(JSON.stringify(state), "The job's control row"));
    this.sql.exec(`INSERT INTO definition (id, text) VALUES (1, ?)`, this.checked(definition, "The workflow definition"));
    this.putData(Object.entries(data).map(([key, value]): [string, StoredValue] => [key, { value }]));
    for (const [id, e] of events) this.putEvent(id, e);
  }

  /** Commits a decision: the control row, the rows it changed, its history and the work its commands need. */
  commit(decision: Decision, now: number, extra?: () => void): void {
    this.transaction(() => {
      this.write(decision, now);
      extra?.();
    });
  }

  /** Writes a decision inside the caller's transaction. */
  write(decision: Decision, now: number): void {
    this.sql.exec(`UPDATE control SET state = ? WHERE id = 1`, this.checked(JSON.stringify(decision.state), "The job's control row"));
    const { changes } = decision;
    this.putData(changes.data);
    this.insertChildren(changes.newChildren);
    for (const c of changes.cancelWaiting) {
      if (!this.has("child")) break;
      this.sql.exec(`UPDATE child SET status = 'CANCELLED' WHERE step = ? AND step_attempt = ? AND status = 'WAITING'`, c.stepName, c.attempt);
    }
    this.updateChildren([...changes.children.values()]);
    for (const [id, e] of changes.events) this.putEvent(id, e);
    this.insertHistory(decision.history);
    for (const c of decision.commands) this.enqueueCommand(c, now);
  }

  // ---- execution data --------------------------------------------------------------------------

  /**
   * Writes execution-data entries, in bulk (a chain of 500 pure steps writes 1,000 of them).
   */
  private putData(entries: Iterable<[string, StoredValue]>): void {
    const rows: [string, string][] = [];
    for (const [key, stored] of entries) {
      this.ensure("data");
      if ("value" in stored && stored.value === undefined) {
        this.sql.exec(`DELETE FROM data WHERE key = ?`, key);
        continue;
      }
      const text = "ref" in stored ? REF_TAG + JSON.stringify(stored.ref) : JSON_TAG + (stored.json ?? JSON.stringify(stored.value));
      rows.push([key, this.checked(text, `Execution data "${key}"`)]);
    }
    this.bulk(`INSERT OR REPLACE INTO data (key, value) SELECT value ->> 0, value ->> 1 FROM json_each(?) ORDER BY key`, rows);
  }

  dataKeys(): string[] {
    if (!this.has("data")) return [];
    return this.sql.exec<{ key: string }>(`SELECT key FROM data`).toArray().map((r) => r.key);
  }

  data(key: string): StoredValue | undefined {
    if (!this.has("data")) return undefined;
    const row = this.sql.exec<{ value: string }>(`SELECT value FROM data WHERE key = ?`, key).toArray()[0];
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
    this.ensure("child");
    this.bulk(
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
    this.ensure("child_input");
    this.bulk(
      `INSERT OR REPLACE INTO child_input (job_id, json) SELECT value ->> 0, value ->> 1 FROM json_each(?)`,
      inputs.map(({ row, input }) => [row.jobId, this.checked(JSON.stringify(input), `The input of child ${row.key}`)]),
    );
  }

  private updateChildren(rows: ChildRow[]): void {
    if (rows.length === 0) return;
    this.bulk(
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
        row.output === undefined ? null : this.checked(JSON.stringify(row.output), `The output of child ${row.key}`),
        row.error ? this.checked(JSON.stringify(row.error), `The error of child ${row.key}`) : null,
        row.units,
      ]),
    );
  }

  /**
   * Runs `sql`, which reads its rows from `json_each(?)`, over `rows`: one statement per chunk of at
   * most BULK_CHUNK_CHARS of JSON, however many rows. Each statement has a fixed cost that a fan-out
   * of 10,000 children would otherwise pay for every row.
   */
  private bulk(sql: string, rows: unknown[][], ...params: (string | number)[]): void {
    let chunk: string[] = [];
    let size = 0;
    const flush = () => {
      if (chunk.length > 0) this.sql.exec(sql, `[${chunk.join(",")}]`, ...params);
      chunk = [];
      size = 0;
    };
    for (const row of rows) {
      const json = JSON.stringify(row);
      if (size + json.length > BULK_CHUNK_CHARS) flush();
      chunk.push(json);
      size += json.length + 1;
    }
    flush();
  }

  children(stepName: string, attempt: number): ChildRow[] {
    if (!this.has("child")) return [];
    return this.sql
      .exec<ChildDbRow>(`SELECT * FROM child WHERE step = ? AND step_attempt = ? AND superseded = 0 ORDER BY idx`, stepName, attempt)
      .toArray()
      .map(childFromDb);
  }

  child(jobId: string): ChildRow | undefined {
    if (!this.has("child")) return undefined;
    const row = this.sql.exec<ChildDbRow>(`SELECT * FROM child WHERE job_id = ?`, jobId).toArray()[0];
    return row && childFromDb(row);
  }

  waitingChildren(stepName: string, attempt: number, limit: number): ChildRow[] {
    if (!this.has("child")) return [];
    return this.sql
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
    if (!this.has("child")) return [];
    return this.sql
      .exec<{ job_id: string }>(`SELECT job_id FROM child WHERE step = ? AND step_attempt = ? AND status = 'STARTING' AND superseded = 0`, stepName, attempt)
      .toArray()
      .map((r) => r.job_id);
  }

  /** Children's rows and the inputs they start with (for the work that creates them), by job id. */
  childrenToStart(jobIds: string[]): Map<string, { row: ChildRow; input: unknown }> {
    const out = new Map<string, { row: ChildRow; input: unknown }>();
    if (!this.has("child") || jobIds.length === 0) return out;
    const input = this.has("child_input") ? "child_input.json" : "NULL";
    const join = this.has("child_input") ? "LEFT JOIN child_input USING (job_id)" : "";
    const rows = this.sql
      .exec<ChildDbRow & { input: string | null }>(
        `SELECT child.*, ${input} AS input FROM child ${join} WHERE job_id IN (SELECT value FROM json_each(?))`,
        JSON.stringify(jobIds),
      )
      .toArray();
    for (const r of rows) out.set(r.job_id, { row: childFromDb(r), input: r.input === null ? undefined : JSON.parse(r.input) });
    return out;
  }

  childrenById(jobIds: string[]): ChildRow[] {
    if (!this.has("child") || jobIds.length === 0) return [];
    return this.sql
      .exec<ChildDbRow>(`SELECT * FROM child WHERE job_id IN (SELECT value FROM json_each(?))`, JSON.stringify(jobIds))
      .toArray()
      .map(childFromDb);
  }

  // ---- events ----------------------------------------------------------------------------------

  private putEvent(id: string, e: ReceivedEvent): void {
    this.ensure("event");
    this.sql.exec(
      `INSERT OR REPLACE INTO event (event_id, payload, received_at, consumed) VALUES (?, ?, ?, ?)`,
      id,
      this.checked(JSON.stringify(e.payload ?? null), `The payload of event "${id}"`),
      e.receivedAt,
      e.consumed ? 1 : 0,
    );
  }

  event(eventId: string): ReceivedEvent | undefined {
    if (!this.has("event")) return undefined;
    const row = this.sql
      .exec<{ payload: string; received_at: number; consumed: number }>(`SELECT payload, received_at, consumed FROM event WHERE event_id = ?`, eventId)
      .toArray()[0];
    return row && { payload: JSON.parse(row.payload), receivedAt: row.received_at, consumed: row.consumed === 1 };
  }

  unconsumedEvents(): [string, ReceivedEvent][] {
    if (!this.has("event")) return [];
    return this.sql
      .exec<{ event_id: string; payload: string; received_at: number }>(`SELECT event_id, payload, received_at FROM event WHERE consumed = 0`)
      .toArray()
      .map((r) => [r.event_id, { payload: JSON.parse(r.payload), receivedAt: r.received_at, consumed: false }]);
  }

  // ---- history ---------------------------------------------------------------------------------

  private insertBlob(json: string, what: string): number {
    this.ensure("blob");
    this.sql.exec(`INSERT INTO blob (json) VALUES (?)`, this.checked(json, what));
    return this.sql.exec<{ id: number }>(`SELECT last_insert_rowid() AS id`).one().id;
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
    this.ensure("history");
    const rows = items.map((h) => {
      const { input, inputRef, output, ...rest } = h;
      const item = { ...rest, output: { status: output.status } };
      const what = `The history of step "${h.stepName}"`;
      return [
        this.checked(JSON.stringify(item), what),
        this.payloadColumn(input ?? null, inputRef, what),
        this.payloadColumn(output.payload, output.payloadRef, what),
      ];
    });
    this.bulk(`INSERT INTO history (item, input, output) SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?) ORDER BY key`, rows);
  }

  /** The run's history, oldest first, its payloads assembled. */
  history(): HistoryItem[] {
    if (!this.has("history")) return [];
    const cache = new RefCache(this);
    const read = (column: string | null): { has: boolean; value?: unknown } => {
      if (column === null) return { has: false };
      const body = column.slice(1);
      switch (column[0]) {
        case REF_TAG:
          return { has: true, value: cache.value({ ref: JSON.parse(body) as ChildrenRef }) };
        case BLOB_TAG:
          return { has: true, value: JSON.parse(this.sql.exec<{ json: string }>(`SELECT json FROM blob WHERE id = ?`, Number(body)).one().json) };
        default:
          return { has: true, value: JSON.parse(body) };
      }
    };
    // Rows are read one page at a time: no cursor stays open while blobs and references are read.
    const items: HistoryItem[] = [];
    let after = 0;
    for (;;) {
      const page = this.sql
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
    if (!this.has("history")) return;
    this.transaction(() => {
      this.sql.exec(`DELETE FROM history`);
      if (this.has("blob")) this.sql.exec(`DELETE FROM blob`);
    });
  }

  // ---- work ------------------------------------------------------------------------------------

  private enqueueCommand(c: Command, now: number): void {
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
      case "log":
        return;
    }
  }

  /** One work item per child job (`<prefix>:<jobId>`, payload `{jobId}`), in bulk. */
  private enqueueMany(kind: WorkKind, prefix: string, jobIds: string[], dueAt: number): void {
    this.ensure("work");
    this.bulk(
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
    this.ensure("work");
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
    if (!this.has("work")) return [];
    return this.sql
      .exec<WorkRow>(`SELECT * FROM work WHERE due_at <= ? ORDER BY due_at, id LIMIT ?`, now, limit)
      .toArray()
      .map((r) => ({ id: r.id, kind: r.kind, payload: JSON.parse(r.payload), dueAt: r.due_at, attempts: r.attempts, version: r.version }));
  }

  /** The earliest due time of any queued work. */
  nextWorkDue(): number | undefined {
    if (!this.has("work")) return undefined;
    const row = this.sql.exec<{ t: number | null }>(`SELECT MIN(due_at) AS t FROM work`).toArray()[0];
    return row?.t ?? undefined;
  }

  /**
   * Settles one pass of work in one commit: removes the items done and keeps the reports that
   * came back with them (children that ended as they started) for the alarm to apply.
   */
  settleWork(done: WorkItem[], reports: ChildReportFact[]): void {
    // A run that dropped its storage while the pass ran (purged) has nothing left to settle.
    if (!this.has("work") || (done.length === 0 && reports.length === 0)) return;
    this.transaction(() => {
      this.receiveReports(reports);
      // Removed unless queued again meanwhile (a coalesced item's version grows, never shrinks).
      this.bulk(`DELETE FROM work WHERE (id, version) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?))`, done.map((i) => [i.id, i.version]));
    });
  }

  /** Removes a work item, whatever its version (its purpose was served another way). */
  dropWork(id: string): void {
    if (this.has("work")) this.sql.exec(`DELETE FROM work WHERE id = ?`, id);
  }

  /** Removes a finished work item; a coalesced one only if nothing newer was queued meanwhile. */
  done(item: WorkItem): void {
    if (!this.has("work")) return; // the run dropped its storage (purged) while the item ran
    this.sql.exec(`DELETE FROM work WHERE id = ? AND version <= ?`, item.id, item.version);
  }

  /** Puts a failed work item back with a later due time. */
  retryLater(item: WorkItem, dueAt: number): void {
    if (!this.has("work")) return;
    this.sql.exec(`UPDATE work SET attempts = attempts + 1, due_at = ? WHERE id = ? AND version = ?`, dueAt, item.id, item.version);
  }

  // ---- children's reports ----------------------------------------------------------------------

  /**
   * Keeps a child's report until the alarm applies it. A later report replaces an earlier one,
   * except that nothing replaces a report of the child's end.
   */
  receiveReport(report: ChildReportFact): void {
    this.receiveReports([report]);
  }

  /** Keeps many reports (see receiveReport), in bulk. */
  receiveReports(reports: ChildReportFact[]): void {
    if (reports.length === 0) return;
    this.ensure("inbox");
    this.bulk(
      `INSERT INTO inbox (child_job_id, report, ended) SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?) WHERE true
       ON CONFLICT (child_job_id) DO UPDATE SET report = excluded.report, ended = excluded.ended WHERE inbox.ended = 0`,
      reports.map((r) => [r.childJobId, this.checked(JSON.stringify(r), `The report of child ${r.childJobId}`), childEnded(r.status) ? 1 : 0]),
    );
  }

  /** Reports waiting to be applied. */
  inbox(limit: number): ChildReportFact[] {
    if (!this.has("inbox")) return [];
    return this.sql
      .exec<{ report: string }>(`SELECT report FROM inbox LIMIT ?`, limit)
      .toArray()
      .map((r) => JSON.parse(r.report) as ChildReportFact);
  }

  /** Whether reports wait to be applied. */
  hasInbox(): boolean {
    return this.has("inbox") && this.sql.exec(`SELECT 1 FROM inbox LIMIT 1`).toArray().length > 0;
  }

  /**
   * Inside the transaction that applied `reports`: removes them from the inbox and keeps their
   * index rows for D1, written later on their own path (the parent never waits on D1).
   */
  settleReports(reports: ChildReportFact[]): void {
    if (this.has("inbox")) {
      // A report that a newer one replaced meanwhile stays, for the next batch.
      this.bulk(
        `DELETE FROM inbox WHERE (child_job_id, report) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?))`,
        reports.map((r) => [r.childJobId, JSON.stringify(r)]),
      );
    }
    const indexed = reports.filter((r) => r.index);
    if (indexed.length === 0) return;
    this.ensure("child_index");
    this.bulk(
      `INSERT INTO child_index (job_id, row, seq) SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?) WHERE true
       ON CONFLICT (job_id) DO UPDATE SET row = excluded.row, seq = excluded.seq WHERE excluded.seq > child_index.seq`,
      indexed.map((r) => [r.childJobId, JSON.stringify(r.index), r.index!.seq]),
    );
    this.enqueue({ id: "index-children", kind: "indexChildren", payload: null, dueAt: Date.now(), coalesce: true });
  }

  /** Children's index rows not yet written to D1. */
  pendingChildIndex(limit: number): PendingIndexRow[] {
    if (!this.has("child_index")) return [];
    return this.sql
      .exec<{ row: string }>(`SELECT row FROM child_index LIMIT ?`, limit)
      .toArray()
      .map((r) => JSON.parse(r.row) as PendingIndexRow);
  }

  /** Forgets index rows once D1 has them (unless a newer one arrived meanwhile). */
  indexWritten(rows: PendingIndexRow[]): void {
    if (rows.length === 0) return;
    this.transaction(() => {
      // Unless a newer row arrived meanwhile (a row's seq only grows).
      this.bulk(`DELETE FROM child_index WHERE (job_id, seq) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?))`, rows.map((r) => [r.job.jobId, r.seq]));
    });
  }

  hasPendingChildIndex(): boolean {
    return this.has("child_index") && this.sql.exec(`SELECT 1 FROM child_index LIMIT 1`).toArray().length > 0;
  }

  // ---- the job's head and its runs --------------------------------------------------------------

  /** A cancel that arrived before the job existed: the job is created already cancelled. */
  tombstone(): string | null {
    if (!this.has("tombstone")) return null;
    return this.sql.exec<{ reason: string }>(`SELECT reason FROM tombstone WHERE id = 1`).toArray()[0]?.reason ?? null;
  }

  setTombstone(reason: string): void {
    this.transaction(() => {
      this.ensure("tombstone");
      this.sql.exec(`INSERT OR IGNORE INTO tombstone (id, reason) VALUES (1, ?)`, reason);
    });
  }

  /** On a job's head (run 1): the job's latest run. */
  currentRun(): number {
    if (!this.has("meta")) return 1;
    const row = this.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'current_run'`).toArray()[0];
    return row ? Number(row.value) : 1;
  }

  setCurrentRun(runNumber: number): void {
    this.transaction(() => {
      this.ensure("meta");
      this.sql.exec(`INSERT OR REPLACE INTO meta (key, value) VALUES ('current_run', ?)`, String(runNumber));
    });
  }

  /** Bytes this Durable Object's SQLite holds. */
  databaseSize(): number {
    return this.sql.databaseSize;
  }

  /** Every table's largest stored value in bytes: what the size tests assert on. */
  largestValues(): Record<string, number> {
    if (this.tables.size === 0) return {};
    const out: Record<string, number> = {};
    const tables = this.sql.exec<{ name: string }>(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'`).toArray();
    for (const { name } of tables) {
      const columns = this.sql.exec<{ name: string }>(`SELECT name FROM pragma_table_info(?)`, name).toArray();
      const sizes = columns.map((c) => `COALESCE(MAX(LENGTH(CAST("${c.name}" AS BLOB))), 0)`).join(", ");
      const row = this.sql.exec(`SELECT MAX(${sizes}) AS m FROM "${name}"`).toArray()[0] as { m: number | null } | undefined;
      out[name] = row?.m ?? 0;
    }
    return out;
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
