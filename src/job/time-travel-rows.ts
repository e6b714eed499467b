/**
 * The rows of a job run that pausing and rerunning need, beside the store's own (store.ts owns the
 * run's tables; this module adds SQL over the same `SqlTables`, as work-queue.ts does):
 *
 *   meta 'parent_pause'   a parent's pause word that reached a child before the child existed
 *   start_data            the execution data a run started with, when it started with more than its
 *                         input (a rollover carrying everything, a rerun): a later rerun of the run
 *                         needs the values that the run's own steps have since overwritten
 *   meta 'start_previous' the step that had run last when such a run started
 */
import type { PauseWord } from "../engine/pause";
import type { Cell, DataCell, HistoryFact, ValueSource } from "../engine/rerun-point";
import type { ChildrenRef } from "../engine/types";
import type { ChildRowCopy, RerunMade } from "./rerun-types";
import type { ChildTable } from "./child-rows";
import type { SqlTables } from "./sql-tables";
import { BLOB_TAG, JSON_TAG, REF_TAG } from "./stored-tags";

/** History rows read per query while a rerun's point is found: no cursor stays open long. */
const FACTS_PAGE = 500;

/** A stored payload's tag, its reference, whether it is JSON null, and its size in bytes (blobs measured where they are). */
const cellColumns = (column: "input" | "output", blobs: boolean) => `
  substr(${column}, 1, 1) AS ${column}_tag,
  CASE WHEN substr(${column}, 1, 1) = '${REF_TAG}' THEN substr(${column}, 2) END AS ${column}_ref,
  ${column} IS '${JSON_TAG}null' AS ${column}_null,
  CASE WHEN substr(${column}, 1, 1) = '${BLOB_TAG}'
    THEN ${blobs ? `(SELECT length(CAST(json AS BLOB)) FROM blob WHERE id = CAST(substr(${column}, 2) AS INTEGER))` : "0"}
    ELSE length(CAST(${column} AS BLOB)) - 1 END AS ${column}_bytes`;

/** A row carrying `cellColumns` of both payload columns. */
type CellRow = Record<string, string | number | null>;

function cellOf(row: CellRow, column: "input" | "output"): Cell {
  const tag = row[`${column}_tag`];
  if (tag === null || tag === undefined || tag === "") return { kind: "none" };
  if (tag === REF_TAG) return { kind: "ref", ref: JSON.parse(String(row[`${column}_ref`])) as ChildrenRef };
  return { kind: "value", bytes: Number(row[`${column}_bytes`] ?? 0), isNull: row[`${column}_null`] === 1 };
}

/** A data row's stored form as a cell (a reference, or a JSON value of its size). */
function storedCell(value: string): Exclude<Cell, { kind: "none" }> {
  if (value[0] === REF_TAG) return { kind: "ref", ref: JSON.parse(value.slice(1)) as ChildrenRef };
  return { kind: "value", bytes: new TextEncoder().encode(value).byteLength - 1, isNull: value === `${JSON_TAG}null` };
}


/**
 * Beside the store's own rows (see the header). The child table's SQL stays in child-rows.ts: a
 * rerun's copy of child rows goes through it.
 */
export class TimeTravelRows {
  constructor(
    private readonly t: SqlTables,
    private readonly children: ChildTable,
  ) {}

  // ---- a parent's pause that overtook the child's start ------------------------------------------

  /** Keeps the parent's latest word for a child not created yet (as a tombstone keeps a cancel). */
  keepParentPause(word: PauseWord): void {
    this.t.transaction(() => {
      this.t.ensure("meta");
      const kept = this.parentPause();
      if (kept && kept.seq >= word.seq) return;
      this.t.sql.exec(`INSERT OR REPLACE INTO meta (key, value) VALUES ('parent_pause', ?)`, JSON.stringify(word));
    });
  }

  /** The parent's word kept before the child existed, if any. */
  parentPause(): PauseWord | undefined {
    if (!this.t.has("meta")) return undefined;
    const row = this.t.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'parent_pause'`).toArray()[0];
    return row ? (JSON.parse(row.value) as PauseWord) : undefined;
  }

  // ---- what a run started with ---------------------------------------------------------------------

  /**
   * Inside the transaction of a run's first decision, before it: copies the execution data the run
   * starts with, and the step that ran before, so a rerun of this run can rebuild its data at any
   * step (SQL to SQL: no value passes through the isolate). A rerun calls it over the rows it copied;
   * a continued run once it has received all it inherits (inheritance.ts), its references reading
   * the child rows it received with them.
   */
  keepStartData(previousStepName: string | undefined): void {
    this.t.ensure("start_data");
    this.t.ensure("meta");
    if (this.t.has("data")) this.t.sql.exec(`INSERT OR REPLACE INTO start_data (key, value) SELECT key, value FROM data`);
    if (previousStepName !== undefined) {
      this.t.sql.exec(`INSERT OR REPLACE INTO meta (key, value) VALUES ('start_previous', ?)`, previousStepName);
    }
  }

  /** Whether the run kept what it started with (else it started with its workflowInput alone). */
  hasStartData(): boolean {
    return this.t.has("start_data");
  }

  /** The step that had run last when the run started, if it kept its start. */
  startPreviousStep(): string | undefined {
    if (!this.t.has("meta")) return undefined;
    return this.t.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'start_previous'`).toArray()[0]?.value;
  }

  // ---- the reruns made of this job -----------------------------------------------------------------

  /** Remembers the latest rerun made of this run (lineage for RerunJobs; the job itself is unchanged). */
  keepRerunMade(made: RerunMade): void {
    this.t.transaction(() => {
      this.t.ensure("meta");
      this.t.sql.exec(`INSERT OR REPLACE INTO meta (key, value) VALUES ('rerun_made', ?)`, JSON.stringify(made));
    });
  }

  /** The latest rerun made of this run, once it told the run so. */
  rerunMade(): RerunMade | undefined {
    if (!this.t.has("meta")) return undefined;
    const row = this.t.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'rerun_made'`).toArray()[0];
    return row ? (JSON.parse(row.value) as RerunMade) : undefined;
  }

  // ---- reading a source run ------------------------------------------------------------------------

  /** Every history item's facts, oldest first, without reading a payload. */
  historyFacts(): HistoryFact[] {
    if (!this.t.has("history")) return [];
    type Row = CellRow & { seq: number; step: string; source: string; status: HistoryFact["status"]; attempt: number | null };
    const facts: HistoryFact[] = [];
    // A run with no large payload has no blob table (tables are created by their first write).
    const blobs = this.t.has("blob");
    for (let after = 0; ; ) {
      const page = this.t.sql
        .exec<Row>(
          `SELECT seq, item ->> '$.stepName' AS step, item ->> '$.historySource' AS source, item ->> '$.output.status' AS status,
             item ->> '$.attempt' AS attempt, ${cellColumns("input", blobs)}, ${cellColumns("output", blobs)}
           FROM history WHERE seq > ? ORDER BY seq LIMIT ?`,
          after,
          FACTS_PAGE,
        )
        .toArray();
      for (const r of page) {
        facts.push({
          seq: r.seq,
          stepName: r.step,
          external: r.source === "external",
          status: r.status,
          ...(r.attempt !== null ? { attempt: r.attempt } : {}),
          input: cellOf(r, "input"),
          output: cellOf(r, "output"),
        });
      }
      if (page.length < FACTS_PAGE) return facts;
      after = page[page.length - 1]!.seq;
    }
  }

  /** The rows of `table` as cells, by key (their values stay in SQLite). */
  dataCells(table: "data" | "start_data"): Map<string, DataCell> {
    const out = new Map<string, DataCell>();
    if (!this.t.has(table)) return out;
    for (const r of this.t.sql.exec<{ key: string; value: string }>(`SELECT key, value FROM ${table}`).toArray()) {
      out.set(r.key, { cell: storedCell(r.value), from: table === "data" ? { data: r.key } : { startData: r.key } });
    }
    return out;
  }

  /** The JSON text stored at `from`, or undefined when it holds no JSON value there (any more). */
  readValue(from: ValueSource): string | undefined {
    let stored: string | null | undefined;
    if ("history" in from) {
      const column = from.column === "input" ? "input" : "output";
      stored = this.t.has("history") ? this.t.sql.exec<{ v: string | null }>(`SELECT ${column} AS v FROM history WHERE seq = ?`, from.history).toArray()[0]?.v : undefined;
    } else {
      const [table, key] = "data" in from ? (["data", from.data] as const) : (["start_data", from.startData] as const);
      stored = this.t.has(table) ? this.t.sql.exec<{ v: string }>(`SELECT value AS v FROM ${table} WHERE key = ?`, key).toArray()[0]?.v : undefined;
    }
    if (!stored) return undefined;
    if (stored[0] === JSON_TAG) return stored.slice(1);
    if (stored[0] === BLOB_TAG) return this.t.sql.exec<{ json: string }>(`SELECT json FROM blob WHERE id = ?`, Number(stored.slice(1))).toArray()[0]?.json;
    return undefined;
  }

  // ---- writing a rerun's rows before it starts ------------------------------------------------------

  /** Forgets what an interrupted copy left (the run has no control row yet, so nothing else is here). */
  clearCopy(): void {
    this.t.transaction(() => {
      for (const table of ["data", "start_data"] as const) if (this.t.has(table)) this.t.sql.exec(`DELETE FROM ${table}`);
      this.children.clear();
    });
  }

  /**
   * Writes copied values (JSON text) and references as execution data, in one commit. A value whose
   * row would pass the 2 MB a bound string may have is bound as it is, not escaped into the bulk array.
   */
  writeData(values: { key: string; json: string }[], refs: { key: string; ref: ChildrenRef }[]): void {
    if (values.length === 0 && refs.length === 0) return;
    this.t.transaction(() => {
      this.t.ensure("data");
      const rows = [
        ...values.map((v) => [v.key, this.t.checked(JSON_TAG + v.json, `Execution data "${v.key}"`)]),
        ...refs.map((r) => [r.key, REF_TAG + JSON.stringify(r.ref)]),
      ];
      this.t.bulkLarge(`INSERT OR REPLACE INTO data (key, value) SELECT value ->> 0, value ->> 1 FROM json_each(?)`, `INSERT OR REPLACE INTO data (key, value) VALUES (?1, ?2)`, rows);
    });
  }

  /** Writes a page of copied child rows, in one commit (child-rows.ts `writeCopies`). */
  writeChildRows(rows: ChildRowCopy[]): void {
    if (rows.length === 0) return;
    this.t.transaction(() => this.children.writeCopies(rows));
  }
}
