/**
 * The `child` and `child_input` tables of a job run: one row per child job, and each child's input
 * until the child holds it. What makes this more than a table is size: a fan-out's children may
 * hold 1,000 outputs of 100 KB, so nothing here reads all of them at once. A decision reads rows
 * without their output and error; a runChildJob step's results are read up to a byte budget
 * (stopping at the first row past it), counted from stored lengths (nothing parsed), or a page at
 * a time. Rows are copied as stored, a bounded page at a time, to a rerun (time-travel-rows.ts) and
 * to a run that continues this one (inheritance.ts).
 */
import { childResult } from "../engine/overlay";
import type { ChildRow, NewChild } from "../engine/types";
import { utf8Length } from "../json-size";
import type { ChildRowCopy } from "./rerun-types";
import type { SqlTables } from "./sql-tables";

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
  output?: string | null;
  error?: string | null;
  units: number;
};

/** Every column, as a copied row carries them (inheritance.ts). */
export const CHILD_COLUMNS = ["job_id", "step", "step_attempt", "idx", "key", "spec", "status", "superseded", "workflow_name", "output", "error", "units"] as const;

/** A child row as stored, every column (a continued run inherits it so). */
export type StoredChildRow = Record<string, string | number | null>;

/** Every column but the payloads: what a decision reads (it never needs a child's output or error). */
const LIGHT = `job_id, step, step_attempt, idx, key, spec, status, superseded, workflow_name, units`;

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
    ...(r.output !== null && r.output !== undefined ? { output: JSON.parse(r.output) } : {}),
    ...(r.error !== null && r.error !== undefined ? { error: JSON.parse(r.error) } : {}),
    units: r.units,
  };
}

/** A child's entry in its step's results, as JSON bytes, from its small columns and its payloads' stored lengths. */
function resultBytes(r: ChildDbRow, outputBytes: number | null, errorBytes: number | null): number {
  const row = childFromDb({ ...r, output: null, error: null });
  // Placeholders (one byte each) where the payloads go: the entry is the rest plus their stored lengths.
  const envelope = JSON.stringify({ ...childResult(row), ...(outputBytes !== null ? { output: 0 } : {}), ...(errorBytes !== null ? { error: 0 } : {}) });
  return utf8Length(envelope) + (outputBytes === null ? 0 : outputBytes - 1) + (errorBytes === null ? 0 : errorBytes - 1);
}

/** The bytes of `{"results":[…],"succeeded":s,"failed":f}` around entries of `entryBytes` in all. */
export function resultsEnvelopeBytes(count: number, succeeded: number, entryBytes: number): number {
  return utf8Length(JSON.stringify({ results: [], succeeded, failed: count - succeeded })) + entryBytes + Math.max(0, count - 1);
}

/** A page of a step attempt's results: entries from child index `from` on, and where the next page starts. */
export interface ResultsPage {
  results: ReturnType<typeof childResult>[];
  succeeded: number;
  failed: number;
  next?: number;
}

export class ChildTable {
  constructor(private readonly t: SqlTables) {}

  /** Inserts new children and their inputs (inside the caller's transaction). */
  insert(children: NewChild[]): void {
    if (children.length === 0) return;
    this.t.ensure("child");
    this.t.bulk(
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
    this.t.ensure("child_input");
    // Listed children share the step's input object: its JSON is made once, not once per child.
    const texts = new Map<unknown, string>();
    const text = (input: unknown, key: string): string => {
      let json = texts.get(input);
      if (json === undefined) {
        json = this.t.checked(JSON.stringify(input), `The input of child ${key}`);
        if (input !== null && typeof input === "object") texts.set(input, json);
      }
      return json;
    };
    this.t.bulkLarge(
      `INSERT OR REPLACE INTO child_input (job_id, json) SELECT value ->> 0, value ->> 1 FROM json_each(?)`,
      `INSERT OR REPLACE INTO child_input (job_id, json) VALUES (?1, ?2)`,
      inputs.map(({ row, input }) => [row.jobId, text(input, row.key)]),
    );
  }

  /**
   * Writes changed rows. A row read without its payloads (as a decision reads it) leaves the stored
   * output and error as they are: a child's outcome is recorded once and never cleared.
   */
  update(rows: ChildRow[]): void {
    if (rows.length === 0) return;
    this.t.bulkLarge(
      `UPDATE child SET step_attempt = u.step_attempt, status = u.status, superseded = u.superseded, workflow_name = u.workflow_name,
         output = COALESCE(u.output, child.output), error = COALESCE(u.error, child.error), units = u.units
       FROM (SELECT value ->> 0 AS job_id, value ->> 1 AS step_attempt, value ->> 2 AS status, value ->> 3 AS superseded,
               value ->> 4 AS workflow_name, value ->> 5 AS output, value ->> 6 AS error, value ->> 7 AS units FROM json_each(?)) AS u
       WHERE child.job_id = u.job_id`,
      `UPDATE child SET step_attempt = ?2, status = ?3, superseded = ?4, workflow_name = ?5, output = COALESCE(?6, output), error = COALESCE(?7, error), units = ?8
       WHERE job_id = ?1`,
      rows.map((row) => [
        row.jobId,
        row.stepAttempt,
        row.status,
        row.superseded ? 1 : 0,
        row.workflowName ?? null,
        row.output === undefined ? null : this.t.checked(JSON.stringify(row.output), `The output of child ${row.key}`),
        row.error ? this.t.checked(JSON.stringify(row.error), `The error of child ${row.key}`) : null,
        row.units,
      ]),
    );
    // Superseded before it started, a child needs no input.
    this.forgetInputs(rows.filter((r) => r.superseded).map((r) => r.jobId));
  }

  /** Marks a step attempt's WAITING children CANCELLED, and drops the inputs they will never need. */
  cancelWaiting(stepName: string, attempt: number): void {
    if (!this.t.has("child")) return;
    if (this.t.has("child_input")) {
      this.t.sql.exec(
        `DELETE FROM child_input WHERE job_id IN (SELECT job_id FROM child WHERE step = ? AND step_attempt = ? AND status = 'WAITING')`,
        stepName,
        attempt,
      );
    }
    this.t.sql.exec(`UPDATE child SET status = 'CANCELLED' WHERE step = ? AND step_attempt = ? AND status = 'WAITING'`, stepName, attempt);
  }

  /**
   * Deletes the inputs of these children: each holds its own once its start succeeded (it is its
   * `workflowInput`), and one cancelled or superseded before it started never needs it. A looping
   * fan-out of listed children, each given the whole step input, would otherwise keep a copy of
   * every input it ever gave.
   */
  forgetInputs(jobIds: string[]): void {
    if (jobIds.length === 0 || !this.t.has("child_input")) return;
    this.t.bulk(`DELETE FROM child_input WHERE job_id IN (SELECT value ->> 0 FROM json_each(?))`, jobIds.map((id) => [id]));
  }

  // ---- what a decision reads: rows without their payloads ---------------------------------------

  /** A step attempt's current children (superseded ones left out), in order, without output or error. */
  stubs(stepName: string, attempt: number): ChildRow[] {
    if (!this.t.has("child")) return [];
    return this.t.sql
      .exec<ChildDbRow>(`SELECT ${LIGHT} FROM child WHERE step = ? AND step_attempt = ? AND superseded = 0 ORDER BY idx`, stepName, attempt)
      .toArray()
      .map(childFromDb);
  }

  /** One child's row, without output or error. */
  stub(jobId: string): ChildRow | undefined {
    if (!this.t.has("child")) return undefined;
    const row = this.t.sql.exec<ChildDbRow>(`SELECT ${LIGHT} FROM child WHERE job_id = ?`, jobId).toArray()[0];
    return row && childFromDb(row);
  }

  /** Many children's rows by job id, without output or error; unknown ids are left out. */
  stubsById(jobIds: string[]): ChildRow[] {
    if (!this.t.has("child") || jobIds.length === 0) return [];
    return this.t.sql
      .exec<ChildDbRow>(`SELECT ${LIGHT} FROM child WHERE job_id IN (SELECT value FROM json_each(?))`, JSON.stringify(jobIds))
      .toArray()
      .map(childFromDb);
  }

  waiting(stepName: string, attempt: number, limit: number): ChildRow[] {
    if (!this.t.has("child")) return [];
    return this.t.sql
      .exec<ChildDbRow>(
        `SELECT ${LIGHT} FROM child WHERE step = ? AND step_attempt = ? AND status = 'WAITING' AND superseded = 0 ORDER BY idx LIMIT ?`,
        stepName,
        attempt,
        limit,
      )
      .toArray()
      .map(childFromDb);
  }

  activeJobIds(stepName: string, attempt: number): string[] {
    if (!this.t.has("child")) return [];
    return this.t.sql
      .exec<{ job_id: string }>(`SELECT job_id FROM child WHERE step = ? AND step_attempt = ? AND status = 'STARTING' AND superseded = 0`, stepName, attempt)
      .toArray()
      .map((r) => r.job_id);
  }

  // ---- results: read up to a budget, measured, or paged ----------------------------------------

  /** A step attempt's current children with their payloads, in order (tests and small reads; see `within`). */
  all(stepName: string, attempt: number): ChildRow[] {
    if (!this.t.has("child")) return [];
    return this.t.sql
      .exec<ChildDbRow>(`SELECT * FROM child WHERE step = ? AND step_attempt = ? AND superseded = 0 ORDER BY idx`, stepName, attempt)
      .toArray()
      .map(childFromDb);
  }

  /**
   * The stored outputs and errors of these children, or `{over}` as soon as they pass `maxBytes`
   * (the rows after the one that passed it are never read). `over` is what was counted by then.
   */
  payloads(jobIds: string[], maxBytes: number): { payloads: Map<string, Pick<ChildRow, "output" | "error">> } | { over: number } {
    const payloads = new Map<string, Pick<ChildRow, "output" | "error">>();
    if (!this.t.has("child") || jobIds.length === 0) return { payloads };
    const raw: { job_id: string; output: string | null; error: string | null }[] = [];
    let bytes = 0;
    const cursor = this.t.sql.exec<{ job_id: string; output: string | null; error: string | null }>(
      `SELECT job_id, output, error FROM child WHERE job_id IN (SELECT value FROM json_each(?)) AND (output IS NOT NULL OR error IS NOT NULL)`,
      JSON.stringify(jobIds),
    );
    for (const r of cursor) {
      // A UTF-16 unit is at least one UTF-8 byte: counting units never stops early by mistake.
      bytes += (r.output?.length ?? 0) + (r.error?.length ?? 0);
      if (bytes > maxBytes) return { over: bytes };
      raw.push(r);
    }
    for (const r of raw) {
      payloads.set(r.job_id, { ...(r.output !== null ? { output: JSON.parse(r.output) } : {}), ...(r.error !== null ? { error: JSON.parse(r.error) } : {}) });
    }
    return { payloads };
  }

  /** The exact JSON bytes of a step attempt's results (`childResults`), from stored lengths: no payload is read into memory. */
  resultsBytes(stepName: string, attempt: number): number {
    if (!this.t.has("child")) return resultsEnvelopeBytes(0, 0, 0);
    let count = 0;
    let succeeded = 0;
    let entries = 0;
    const cursor = this.t.sql.exec<ChildDbRow & { ob: number | null; eb: number | null }>(
      `SELECT ${LIGHT}, LENGTH(CAST(output AS BLOB)) AS ob, LENGTH(CAST(error AS BLOB)) AS eb
       FROM child WHERE step = ? AND step_attempt = ? AND superseded = 0 ORDER BY idx`,
      stepName,
      attempt,
    );
    for (const r of cursor) {
      count += 1;
      if (r.status === "SUCCEEDED") succeeded += 1;
      entries += resultBytes(r, r.ob, r.eb);
    }
    return resultsEnvelopeBytes(count, succeeded, entries);
  }

  /**
   * The results of a step attempt from child index `from` on, as many as fit in `maxBytes` of JSON
   * (at least one), with the step's totals and the index the next page starts at, if any.
   */
  resultsPage(stepName: string, attempt: number, from: number, maxBytes: number): ResultsPage {
    const totals = this.t.has("child")
      ? this.t.sql
          .exec<{ n: number; ok: number | null }>(
            `SELECT COUNT(*) AS n, SUM(status = 'SUCCEEDED') AS ok FROM child WHERE step = ? AND step_attempt = ? AND superseded = 0`,
            stepName,
            attempt,
          )
          .one()
      : { n: 0, ok: 0 };
    const succeeded = totals.ok ?? 0;
    const page: ResultsPage = { results: [], succeeded, failed: totals.n - succeeded };
    if (!this.t.has("child")) return page;
    let bytes = resultsEnvelopeBytes(0, succeeded, 0);
    // Lengths first, so the row that does not fit is never read whole.
    const cursor = this.t.sql.exec<ChildDbRow & { ob: number | null; eb: number | null }>(
      `SELECT ${LIGHT}, LENGTH(CAST(output AS BLOB)) AS ob, LENGTH(CAST(error AS BLOB)) AS eb
       FROM child WHERE step = ? AND step_attempt = ? AND superseded = 0 AND idx >= ? ORDER BY idx`,
      stepName,
      attempt,
      from,
    );
    for (const r of cursor) {
      const entry = resultBytes(r, r.ob, r.eb) + (page.results.length > 0 ? 1 : 0);
      if (page.results.length > 0 && bytes + entry > maxBytes) {
        page.next = r.idx;
        break;
      }
      const full = this.t.sql.exec<ChildDbRow>(`SELECT * FROM child WHERE job_id = ?`, r.job_id).one();
      page.results.push(childResult(childFromDb(full)));
      bytes += entry;
    }
    return page;
  }

  /**
   * The rows and inputs of children to start, by job id, up to `maxInputBytes` of inputs (at least
   * one child): 200 starts of children given a 1 MiB input each would be 200 MiB in one pass. The
   * ones left for a later pass are in `deferred`.
   */
  toStart(jobIds: string[], maxInputBytes: number): { rows: Map<string, { row: ChildRow; input: unknown }>; deferred: Set<string> } {
    const rows = new Map<string, { row: ChildRow; input: unknown }>();
    const deferred = new Set<string>();
    if (!this.t.has("child") || jobIds.length === 0) return { rows, deferred };
    const hasInputs = this.t.has("child_input");
    const sizes = this.t.sql
      .exec<ChildDbRow & { ib: number | null }>(
        `SELECT ${LIGHT}, ${hasInputs ? "LENGTH(CAST(child_input.json AS BLOB))" : "NULL"} AS ib
         FROM child ${hasInputs ? "LEFT JOIN child_input USING (job_id)" : ""} WHERE job_id IN (SELECT value FROM json_each(?))`,
        JSON.stringify(jobIds),
      )
      .toArray();
    let bytes = 0;
    for (const r of sizes) {
      if (rows.size > 0 && bytes + (r.ib ?? 0) > maxInputBytes) {
        deferred.add(r.job_id);
        continue;
      }
      bytes += r.ib ?? 0;
      const input =
        r.ib === null ? undefined : JSON.parse(this.t.sql.exec<{ json: string }>(`SELECT json FROM child_input WHERE job_id = ?`, r.job_id).one().json);
      rows.set(r.job_id, { row: childFromDb(r), input });
    }
    return { rows, deferred };
  }

  // ---- copies, as stored: a rerun's (time-travel-rows.ts) and a continued run's (inheritance.ts) ----

  /**
   * A step attempt's current children split into index ranges of at most `maxBytes` of stored row
   * and `maxRows` rows each (a row alone may be larger: it was stored, so it fits a message).
   * Measured from stored lengths: no payload is read.
   */
  copyRanges(stepName: string, attempt: number, maxBytes: number, maxRows: number): { fromIndex: number; toIndex: number }[] {
    if (!this.t.has("child")) return [];
    const rows = this.t.sql
      .exec<{ idx: number; bytes: number }>(
        `SELECT idx, length(CAST(spec AS BLOB)) + coalesce(length(CAST(output AS BLOB)), 0) + coalesce(length(CAST(error AS BLOB)), 0)
           + length(CAST(key AS BLOB)) + 200 AS bytes
         FROM child WHERE step = ? AND step_attempt = ? AND superseded = 0 ORDER BY idx`,
        stepName,
        attempt,
      )
      .toArray();
    const ranges: { fromIndex: number; toIndex: number }[] = [];
    let current: { fromIndex: number; toIndex: number; bytes: number; rows: number } | undefined;
    for (const r of rows) {
      if (current && (current.bytes + r.bytes > maxBytes || current.rows >= maxRows)) {
        ranges.push({ fromIndex: current.fromIndex, toIndex: current.toIndex });
        current = undefined;
      }
      current ??= { fromIndex: r.idx, toIndex: r.idx, bytes: 0, rows: 0 };
      current.toIndex = r.idx;
      current.bytes += r.bytes;
      current.rows += 1;
    }
    if (current) ranges.push({ fromIndex: current.fromIndex, toIndex: current.toIndex });
    return ranges;
  }

  /** A range of a step attempt's current children, as stored (one page of a rerun's copy: see `copyRanges`). */
  copyRows(stepName: string, attempt: number, fromIndex: number, toIndex: number): ChildRowCopy[] {
    if (!this.t.has("child")) return [];
    return this.t.sql
      .exec<ChildRowCopy>(
        `SELECT job_id, step, step_attempt, idx, key, spec, status, workflow_name, output, error FROM child
         WHERE step = ? AND step_attempt = ? AND superseded = 0 AND idx BETWEEN ? AND ? ORDER BY idx`,
        stepName,
        attempt,
        fromIndex,
        toIndex,
      )
      .toArray();
  }

  /**
   * Writes a rerun's copied rows (inside the caller's transaction): the children's results as the
   * source assembled them. They are ended rows of another job's children, so they carry no units:
   * the rerun ran none of them. A row whose payload would pass the 2 MB a bound string may have is
   * bound as it is, not escaped into the bulk array.
   */
  writeCopies(rows: ChildRowCopy[]): void {
    if (rows.length === 0) return;
    this.t.ensure("child");
    this.t.bulkLarge(
      `INSERT OR REPLACE INTO child (job_id, step, step_attempt, idx, key, spec, status, superseded, workflow_name, output, error, units)
       SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, 0, value ->> 7, value ->> 8, value ->> 9, 0
       FROM json_each(?)`,
      `INSERT OR REPLACE INTO child (job_id, step, step_attempt, idx, key, spec, status, superseded, workflow_name, output, error, units)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?9, ?10, 0)`,
      rows.map((r) => [
        r.job_id,
        r.step,
        r.step_attempt,
        r.idx,
        r.key,
        r.spec,
        r.status,
        r.workflow_name,
        r.output === null ? null : this.t.checked(r.output, `The output of copied child ${r.job_id}`),
        r.error === null ? null : this.t.checked(r.error, `The error of copied child ${r.job_id}`),
      ]),
    );
  }

  /** Deletes every row and input (what a rerun's interrupted copy left, before its run exists). */
  clear(): void {
    for (const table of ["child", "child_input"] as const) if (this.t.has(table)) this.t.sql.exec(`DELETE FROM ${table}`);
  }

  /**
   * The current children of these (step, attempt) pairs with job ids after `after`, in job id
   * order, with an upper bound of each row's stored size (its payloads plus room for the rest).
   */
  sizesOf(pairs: [string, number][], after: string): { job_id: string; n: number }[] {
    if (!this.t.has("child") || pairs.length === 0) return [];
    return this.t.sql
      .exec<{ job_id: string; n: number }>(
        `SELECT job_id, COALESCE(LENGTH(CAST(output AS BLOB)), 0) + COALESCE(LENGTH(CAST(error AS BLOB)), 0) + 500 AS n FROM child
         WHERE superseded = 0 AND job_id > ? AND EXISTS (SELECT 1 FROM json_each(?) r WHERE r.value ->> 0 = child.step AND r.value ->> 1 = child.step_attempt)
         ORDER BY job_id`,
        after,
        JSON.stringify(pairs),
      )
      .toArray();
  }

  /** One row as stored, every column (read once it is known to fit: see `sizesOf`). */
  stored(jobId: string): StoredChildRow {
    return { ...this.t.sql.exec<StoredChildRow>(`SELECT ${CHILD_COLUMNS.join(", ")} FROM child WHERE job_id = ?`, jobId).one() };
  }

  /**
   * Writes rows as stored (inside the caller's transaction; a row written twice is the same row).
   * One statement per row, its values bound as they are: a value of up to 1 MiB escaped into a JSON
   * array could pass the 2 MB a SQLite string may have on Cloudflare.
   */
  writeStored(rows: StoredChildRow[]): void {
    if (rows.length === 0) return;
    this.t.ensure("child");
    for (const row of rows) {
      const values = CHILD_COLUMNS.map((c) => {
        const v = row[c] ?? null;
        return typeof v === "string" ? this.t.checked(v, `The ${c} of inherited child ${String(row.job_id)}`) : v;
      });
      this.t.sql.exec(`INSERT OR REPLACE INTO child (${CHILD_COLUMNS.join(", ")}) VALUES (${CHILD_COLUMNS.map(() => "?").join(", ")})`, ...values);
    }
  }
}
