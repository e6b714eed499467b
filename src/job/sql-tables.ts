/**
 * The tables of a job run's SQLite and the rules every write follows: a table is created by the
 * first write that needs it, a write transaction is one durable commit, nothing over
 * MAX_STORED_VALUE_BYTES reaches SQLite, and many rows go in as one statement.
 */
import { exceedsBytes } from "../engine/payload";
import { utf8Length } from "../json-size";
import { MAX_BOUND_STRING_BYTES, MAX_STORED_VALUE_BYTES } from "../limits";

const SCHEMA_VERSION = 2;

/** JSON handed to SQLite in one bulk statement: well under the 2 MB a string may have on Cloudflare. */
const BULK_CHUNK_CHARS = 512 * 1024;

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
  // Metrics on their way to the job index (metrics-outbox.ts): events, children's flush keys and their
  // increments folded per bucket, sealed flushes.
  metric: `CREATE TABLE metric (key TEXT PRIMARY KEY, event TEXT NOT NULL)`,
  metric_in: `CREATE TABLE metric_in (key TEXT PRIMARY KEY)`,
  metric_sum: `CREATE TABLE metric_sum (
      workflow_id TEXT NOT NULL, metric TEXT NOT NULL, hour_start INTEGER NOT NULL, n INTEGER NOT NULL, total REAL NOT NULL, peak REAL NOT NULL,
      PRIMARY KEY (workflow_id, metric, hour_start)
    ) WITHOUT ROWID`,
  metric_out: `CREATE TABLE metric_out (key TEXT PRIMARY KEY, body TEXT NOT NULL, created_at INTEGER NOT NULL)`,
  tombstone: `CREATE TABLE tombstone (id INTEGER PRIMARY KEY CHECK (id = 1), reason TEXT NOT NULL)`,
  // The execution data a run started with, when more than its input (time-travel-rows.ts).
  start_data: `CREATE TABLE start_data (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
  // The deletion of a top-level job's tree (retire.ts); its retention deadline is a `meta` key.
  retire: `CREATE TABLE retire (
      id INTEGER PRIMARY KEY CHECK (id = 1), reason TEXT NOT NULL, phase TEXT NOT NULL, cursor TEXT NOT NULL DEFAULT '',
      failures INTEGER NOT NULL DEFAULT 0, started_at INTEGER NOT NULL
    )`,
  retire_queue: `CREATE TABLE retire_queue (
      name TEXT PRIMARY KEY, job_id TEXT NOT NULL, cursor TEXT NOT NULL DEFAULT '', runs_known INTEGER NOT NULL DEFAULT 1,
      done INTEGER NOT NULL DEFAULT 0, due_at INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX retire_queue_due ON retire_queue (done, due_at)`,
} as const;

export type Table = keyof typeof TABLES;

/** A value too large for a SQLite row on Cloudflare: the commit is refused before SQLite sees it. */
export class StoredValueTooLargeError extends Error {
  readonly code = "PAYLOAD_TOO_LARGE";
  constructor(what: string, bytes: number) {
    super(`${what} would store ${bytes} bytes in one value; the limit is ${MAX_STORED_VALUE_BYTES} bytes.`);
  }
}

export class SqlTables {
  /**
   * The tables that exist. An object asked about a job that never existed has none and writes
   * none; a read of a table not yet created finds nothing.
   */
  private present: Set<string>;
  /** Durable commits (write transactions) by this instance: reported by the benchmark. */
  commits = 0;

  constructor(private readonly storage: DurableObjectStorage) {
    this.present = new Set(this.sql.exec<{ name: string }>(`SELECT name FROM sqlite_master WHERE type = 'table'`).toArray().map((r) => r.name));
  }

  get sql(): SqlStorage {
    return this.storage.sql;
  }

  /** Forgets the schema after the storage was deleted: the object is empty again. */
  reset(): void {
    this.present = new Set();
  }

  has(table: Table): boolean {
    return this.present.has(table);
  }

  /** Creates `table` if need be (inside the caller's transaction). */
  ensure(table: Table): void {
    if (this.present.has(table)) return;
    this.sql.exec(TABLES[table]);
    this.present.add(table);
    if (table === "meta") this.sql.exec(`INSERT INTO meta (key, value) VALUES ('schema_version', ?)`, String(SCHEMA_VERSION));
  }

  /** Refuses a value too large for a row on Cloudflare, before SQLite sees it. */
  checked(text: string, what: string): string {
    if (exceedsBytes(text, MAX_STORED_VALUE_BYTES)) throw new StoredValueTooLargeError(what, utf8Length(text));
    return text;
  }

  /**
   * Runs `fn` in one write transaction (one durable commit). Tables it creates are created in the
   * same commit; if it fails, the object is as it was, tables included.
   */
  transaction<T>(fn: () => T): T {
    this.commits += 1;
    const before = new Set(this.present);
    try {
      return this.storage.transactionSync(fn);
    } catch (e) {
      this.present = before;
      throw e;
    }
  }

  /**
   * Runs `sql`, which reads its rows from `json_each(?)`, over `rows`: one statement per chunk of at
   * most BULK_CHUNK_CHARS of JSON, however many rows. Each statement has a fixed cost that a fan-out
   * of 10,000 children would otherwise pay for every row.
   */
  bulk(sql: string, rows: unknown[][], ...params: (string | number)[]): void {
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

  /**
   * As `bulk`, for rows that may hold a whole stored value (up to MAX_STORED_VALUE_BYTES): a row
   * whose JSON would pass the 2 MB a bound SQLite string may have on Cloudflare (a 1 MiB value of
   * quotes or backslashes doubles when escaped into the array) runs through `oneRow` instead, its
   * values bound as they are (`?1`, `?2`, … in row order).
   */
  bulkLarge(sql: string, oneRow: string, rows: (string | number | null)[][]): void {
    const small: (string | number | null)[][] = [];
    for (const row of rows) {
      if (exceedsBytes(JSON.stringify(row), MAX_BOUND_STRING_BYTES)) this.sql.exec(oneRow, ...row);
      else small.push(row);
    }
    this.bulk(sql, small);
  }

  /** Bytes this Durable Object's SQLite holds. */
  databaseSize(): number {
    return this.sql.databaseSize;
  }

  /** Every table's largest stored value in bytes: what the size tests assert on. */
  largestValues(): Record<string, number> {
    if (this.present.size === 0) return {};
    const out: Record<string, number> = {};
    const tables = this.sql.exec<{ name: string }>(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'`).toArray();
    for (const { name } of tables) {
      const columns = this.sql.exec<{ name: string }>(`SELECT name FROM pragma_table_info(?)`, name).toArray();
      const sizes = columns.map((c) => `COALESCE(MAX(LENGTH(CAST("${c.name}" AS BLOB))), 0)`).join(", ");
      // MAX with two arguments or more is the scalar maximum; with one it would be a nested aggregate.
      const row = this.sql.exec(`SELECT MAX(0, ${sizes}) AS m FROM "${name}"`).toArray()[0] as { m: number | null } | undefined;
      out[name] = row?.m ?? 0;
    }
    return out;
  }
}
