/**
 * The API's reads of a run's execution data and history, bounded whatever the run holds. A value
 * is measured from its stored length before it is read (a runChildJob step's results from its
 * children's rows, nothing parsed), and only what fits an answer is read:
 *
 * - GetWorkflowState shows the execution data and a page of the history within MAX_ANSWER_BYTES;
 *   a value over ANSWER_VALUE_SHARE_BYTES (or past ANSWER_DATA_BYTES of execution data) is a marker
 *   `{"canopyOmitted": {bytes, read}}`, `read` being the path that reads it whole.
 * - GetExecutionDataValue reads one value: whole (it is at most MAX_PAYLOAD_BYTES), or for a
 *   step's children's results, a page of at most MAX_ANSWER_BYTES.
 * - GetWorkflowStateMetadata's contentLengthBytes is the whole state's size, summed from stored
 *   lengths, never assembled.
 */
import { childResults } from "../engine/overlay";
import type { ChildrenRef, HistoryItem, JobState, StoredValue } from "../engine/types";
import { utf8Length } from "../json-size";
import { ANSWER_DATA_BYTES, ANSWER_VALUE_SHARE_BYTES, MAX_ANSWER_BYTES } from "../limits";
import type { ChildTable } from "./child-rows";
import type { OmittedMarker, ValuePage, WorkflowStatePage } from "./messages";
import type { JobStore } from "./store";
import { BLOB_TAG, REF_TAG } from "./stored-tags";

/** Where an answer's `read` paths point: the job and run the answer is about. */
export interface ReadLinks {
  organizationId: string;
  jobId: string;
  runNumber: number;
}

type HistoryRow = { seq: number; item: string; input: string | null; output: string | null };
/** A stored column's text after its tag, and its tag. */
type Column = { tag: string; body: string };

/** The entry a history column (or a data row) holds: `null` for none. */
function column(text: string | null): Column | null {
  return text === null ? null : { tag: text[0]!, body: text.slice(1) };
}

/** A page token is the position to go on from, as a decimal string; anything else is refused. */
export function parsePageToken(token: string | undefined): number | null {
  if (token === undefined) return 0;
  return /^\d{1,15}$/.test(token) ? Number(token) : null;
}

export class StateReader {
  private readonly children: ChildTable;
  /** Sizes of step results measured in this read, by reference. */
  private readonly refBytes = new Map<string, number>();

  constructor(private readonly store: JobStore) {
    this.children = store.childRows;
  }

  // ---- one value ------------------------------------------------------------------------------

  /** The exact JSON bytes of a stored value, from stored lengths. */
  private storedBytes(key: string): number | undefined {
    const t = this.store.tables;
    if (!t.has("data")) return undefined;
    const row = t.sql
      .exec<{ bytes: number; ref: string | null }>(
        `SELECT LENGTH(CAST(value AS BLOB)) - 1 AS bytes, CASE WHEN substr(value, 1, 1) = '${REF_TAG}' THEN substr(value, 2) END AS ref FROM data WHERE key = ?`,
        key,
      )
      .toArray()[0];
    if (!row) return undefined;
    return row.ref === null ? row.bytes : this.resultsBytes(JSON.parse(row.ref) as ChildrenRef);
  }

  /** The JSON bytes of a step's results, measured once per reader. */
  private resultsBytes(ref: ChildrenRef): number {
    const { stepName, attempt } = ref.children;
    const key = `${stepName}\u0000${attempt}`;
    let bytes = this.refBytes.get(key);
    if (bytes === undefined) {
      bytes = this.children.resultsBytes(stepName, attempt);
      this.refBytes.set(key, bytes);
    }
    return bytes;
  }

  /** A stored value read whole: call only for one known to be small (see `storedBytes`). */
  private readWhole(stored: StoredValue): unknown {
    if ("value" in stored) return stored.value;
    const { stepName, attempt } = stored.ref.children;
    return childResults(this.children.all(stepName, attempt));
  }

  /**
   * The value under `key` when its JSON is at most `maxBytes`, or its size when it is more;
   * undefined when the run has no such key.
   */
  valueWithin(key: string, maxBytes: number): { value: unknown } | { tooLarge: number } | undefined {
    const bytes = this.storedBytes(key);
    if (bytes === undefined) return undefined;
    if (bytes > maxBytes) return { tooLarge: bytes };
    return { value: this.readWhole(this.store.data(key)!) };
  }

  /** A step's results (a reference) when their JSON is at most `maxBytes`, or their size when it is more. */
  resultsWithin(ref: ChildrenRef, maxBytes: number): { value: unknown } | { tooLarge: number } {
    const bytes = this.resultsBytes(ref);
    if (bytes > maxBytes) return { tooLarge: bytes };
    return { value: this.readWhole({ ref }) };
  }

  /** GetExecutionDataValue: the value under `key`, or a page of it; undefined when there is no such key. */
  dataValue(key: string, from: number): ValuePage | undefined {
    const stored = this.store.data(key);
    if (!stored) return undefined;
    if ("value" in stored) return { value: stored.value };
    return this.resultsPage(stored.ref, from);
  }

  /** A page of a step's results from child index `from`, within MAX_ANSWER_BYTES. */
  private resultsPage(ref: ChildrenRef, from: number): ValuePage {
    const { stepName, attempt } = ref.children;
    const page = this.children.resultsPage(stepName, attempt, from, MAX_ANSWER_BYTES);
    return { value: { results: page.results, succeeded: page.succeeded, failed: page.failed }, ...(page.next !== undefined ? { nextPageToken: String(page.next) } : {}) };
  }

  /** A history item's input or output payload, or a page of it; undefined when there is no such item or payload. */
  historyValue(itemId: string, part: "input" | "output", from: number): ValuePage | undefined {
    const row = this.historyRow(itemId);
    if (!row) return undefined;
    const col = column(part === "input" ? row.input : row.output);
    if (col === null) return part === "input" ? { value: null } : undefined;
    if (col.tag === REF_TAG) return this.resultsPage(JSON.parse(col.body) as ChildrenRef, from);
    return { value: JSON.parse(col.tag === BLOB_TAG ? this.blob(Number(col.body)) : col.body) };
  }

  private historyRow(itemId: string): HistoryRow | undefined {
    const t = this.store.tables;
    const seq = Number(itemId.split(".")[1]);
    if (!t.has("history") || !Number.isSafeInteger(seq)) return undefined;
    const row = t.sql.exec<HistoryRow>(`SELECT * FROM history WHERE seq = ?`, seq).toArray()[0];
    return row && (JSON.parse(row.item) as { id: string }).id === itemId ? row : undefined;
  }

  private blob(id: number): string {
    return this.store.tables.sql.exec<{ json: string }>(`SELECT json FROM blob WHERE id = ?`, id).one().json;
  }

  private blobBytes(id: number): number {
    return this.store.tables.sql.exec<{ n: number }>(`SELECT LENGTH(CAST(json AS BLOB)) AS n FROM blob WHERE id = ?`, id).one().n;
  }

  /** The JSON bytes of a history column's payload, from stored lengths. */
  private columnBytes(col: Column): number {
    if (col.tag === REF_TAG) return this.resultsBytes(JSON.parse(col.body) as ChildrenRef);
    if (col.tag === BLOB_TAG) return this.blobBytes(Number(col.body));
    return utf8Length(col.body);
  }

  // ---- GetWorkflowState -------------------------------------------------------------------------

  /** The data keys, in order, with each value's size. */
  private dataSizes(): { key: string; bytes: number }[] {
    return this.store
      .dataKeys()
      .sort()
      .map((key) => ({ key, bytes: this.storedBytes(key)! }));
  }

  /**
   * GetWorkflowState for run `state`: its execution data (large values as markers) and its history
   * from the item after `after`, as much as fits in MAX_ANSWER_BYTES (at least one item).
   */
  statePage(state: JobState, after: number, links: ReadLinks): WorkflowStatePage {
    const base = `/organizations/${links.organizationId}/jobs/${links.jobId}/state`;
    const run = `?runNumber=${links.runNumber}`;
    const omitted: string[] = [];
    const marker = (bytes: number, read: string, where: string): OmittedMarker => {
      omitted.push(where);
      return { canopyOmitted: { bytes, read } };
    };
    const executionData: Record<string, unknown> = {};
    let dataBytes = 0;
    for (const { key, bytes } of this.dataSizes()) {
      const fits = bytes <= ANSWER_VALUE_SHARE_BYTES && dataBytes + bytes <= ANSWER_DATA_BYTES;
      const value = fits ? this.readWhole(this.store.data(key)!) : marker(bytes, `${base}/data/${encodeURIComponent(key)}${run}`, `executionData.${key}`);
      Object.defineProperty(executionData, key, { value, enumerable: true, writable: true, configurable: true });
      dataBytes += fits ? bytes : JSON.stringify(value).length;
    }
    const next = nextStepName(state);
    const page: WorkflowStatePage = { state: { ...(next ? { nextStepName: next } : {}), executionData, executionHistory: [] } };
    let used = utf8Length(JSON.stringify(page)) + 256;
    const history = page.state.executionHistory;
    const t = this.store.tables;
    if (!t.has("history")) return finish(page, omitted);
    let cursor = after;
    for (;;) {
      // A few rows at a time: no cursor stays open while blobs and references are read.
      const rows = t.sql.exec<HistoryRow>(`SELECT * FROM history WHERE seq > ? ORDER BY seq LIMIT 50`, cursor).toArray();
      for (const row of rows) {
        const item = JSON.parse(row.item) as Omit<HistoryItem, "input">;
        const at = history.length;
        const payload = (col: Column | null, part: "input" | "output", where: string): { has: boolean; value?: unknown } => {
          if (col === null) return { has: false };
          const bytes = this.columnBytes(col);
          if (bytes > ANSWER_VALUE_SHARE_BYTES) return { has: true, value: marker(bytes, `${base}/history/${item.id}/${part}${run}`, where) };
          if (col.tag === REF_TAG) return { has: true, value: this.readWhole({ ref: JSON.parse(col.body) as ChildrenRef }) };
          return { has: true, value: JSON.parse(col.tag === BLOB_TAG ? this.blob(Number(col.body)) : col.body) };
        };
        const omittedBefore = omitted.length;
        const input = payload(column(row.input), "input", `executionHistory.${at}.input`);
        const output = payload(column(row.output), "output", `executionHistory.${at}.output.payload`);
        const full: HistoryItem = { ...item, input: input.has ? input.value : null, output: output.has ? { ...item.output, payload: output.value } : item.output };
        const bytes = utf8Length(JSON.stringify(full)) + 1;
        if (history.length > 0 && used + bytes > MAX_ANSWER_BYTES) {
          omitted.length = omittedBefore;
          page.nextPageToken = String(cursor);
          return finish(page, omitted);
        }
        history.push(full);
        used += bytes;
        cursor = row.seq;
      }
      if (rows.length < 50) return finish(page, omitted);
    }
  }

  /**
   * The bytes of the whole state as one JSON text (`{"state": …}` with every value and every
   * history item whole), summed from stored lengths: GetWorkflowStateMetadata's contentLengthBytes.
   */
  stateBytes(state: JobState): number {
    const next = nextStepName(state);
    let bytes = utf8Length(JSON.stringify({ state: { ...(next ? { nextStepName: next } : {}), executionData: {}, executionHistory: [] } }));
    const data = this.dataSizes();
    for (const { key, bytes: valueBytes } of data) bytes += utf8Length(JSON.stringify(key)) + 1 + valueBytes;
    bytes += Math.max(0, data.length - 1);
    const t = this.store.tables;
    if (!t.has("history")) return bytes;
    let items = 0;
    let cursor = 0;
    for (;;) {
      const rows = t.sql.exec<HistoryRow>(`SELECT * FROM history WHERE seq > ? ORDER BY seq LIMIT 200`, cursor).toArray();
      for (const row of rows) {
        const item = JSON.parse(row.item) as Omit<HistoryItem, "input">;
        const input = column(row.input);
        const output = column(row.output);
        // Placeholders (one byte each) where the payloads go.
        const shape = { ...item, input: 0, output: { ...item.output, ...(output ? { payload: 0 } : {}) } };
        bytes += utf8Length(JSON.stringify(shape)) - 1 + (input ? this.columnBytes(input) : 4) + (output ? this.columnBytes(output) - 1 : 0);
        items += 1;
        cursor = row.seq;
      }
      if (rows.length < 200) break;
    }
    return bytes + Math.max(0, items - 1);
  }
}

function finish(page: WorkflowStatePage, omitted: string[]): WorkflowStatePage {
  if (omitted.length > 0) page.omittedValues = omitted;
  return page;
}

/** The step a run runs next: its current step, or the step a FAILED or CANCELLED run resumes at. */
function nextStepName(state: JobState): string | undefined {
  return state.current?.name ?? (state.status === "FAILED" || state.status === "CANCELLED" ? state.resumeStepName : undefined);
}
