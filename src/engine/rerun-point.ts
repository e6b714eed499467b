/**
 * Where a rerun begins in its source's history, and the execution data as it stood there. Pure:
 * the history is given as facts (each item's step, status and where its payloads are), and the
 * answer says where each value of the data is, not what it is, so the caller copies values from
 * row to row without holding them all.
 *
 * The data at a point of the history is the run's start data with every item before that point
 * applied in order, as the engine wrote them (decide.ts): an attempt that got as far as computing
 * its input wrote `<step>Input`; an attempt that produced a result (final or incomplete) wrote
 * `<step>Output`, or removed it for a result without payload; a completed step became the
 * `previousStepName`. A later item overwriting a key (a loop) wins over an earlier one, so a point
 * inside a loop sees the values of the iterations before it, not those after.
 */
import type { ChildrenRef } from "./types";

/** A history payload as stored: none, a JSON value (inline or in a blob) of `bytes`, or a reference to child rows. */
export type Cell = { kind: "none" } | { kind: "value"; bytes: number; isNull: boolean } | { kind: "ref"; ref: ChildrenRef };

/** One history item, without its payloads. */
export interface HistoryFact {
  seq: number;
  stepName: string;
  external: boolean;
  status: "success" | "failure" | "successful_but_incomplete";
  attempt?: number;
  input: Cell;
  output: Cell;
}

/** Where a value of the data is: in a history item's payload, or in a row the run started with or holds. */
export type ValueSource = { history: number; column: "input" | "output" } | { startData: string } | { data: string };

/** One key of the data at the point: its stored form and where it is read from. */
export interface DataCell {
  cell: Exclude<Cell, { kind: "none" }>;
  from: ValueSource;
  /** An incomplete result (a poll's payload): the engine never checks it against the output schema. */
  incomplete?: boolean;
}

/** How the source run stopped: the step it stopped in, and that step's latest attempt number. */
export interface StopPoint {
  stepName?: string;
  attempt?: number;
}

/**
 * The index in `facts` where the latest execution of `fromStep` began (the items before it are what
 * had happened by then), or null when the step did not run in this history.
 *
 * An execution is the run of attempts that retries and polls chain together: it begins after the
 * step's last completed attempt. When the run stopped inside `fromStep` (`stop`), that execution may
 * have recorded nothing yet (cancelled mid-attempt): it began at the end of the history.
 */
export function rerunPoint(facts: HistoryFact[], fromStep: string, stop: StopPoint): number | null {
  const engine = facts.map((f, i) => ({ f, i })).filter(({ f }) => !f.external);
  const executionStart = (last: number): number => {
    let start = engine[last]!.i;
    for (let j = last - 1; j >= 0; j--) {
      const { f, i } = engine[j]!;
      if (f.stepName !== fromStep || f.status === "success") break;
      start = i;
    }
    return start;
  };
  if (stop.stepName === fromStep) {
    const last = engine.length - 1;
    const item = engine[last]?.f;
    if (!item || item.stepName !== fromStep) return facts.length;
    // A completed attempt that is not the step's latest: a new execution began and recorded nothing.
    if (item.status === "success" && stop.attempt !== undefined && item.attempt !== stop.attempt) return facts.length;
    return executionStart(last);
  }
  for (let j = engine.length - 1; j >= 0; j--) if (engine[j]!.f.stepName === fromStep) return executionStart(j);
  return null;
}

/**
 * The execution data and previous step before `facts[point]`: `start` (what the run started with)
 * with every engine item before the point applied.
 */
export function dataAt(
  facts: HistoryFact[],
  point: number,
  start: Map<string, DataCell>,
  startPreviousStep: string | undefined,
): { data: Map<string, DataCell>; previousStepName?: string } {
  const data = new Map(start);
  let previousStepName = startPreviousStep;
  for (const f of facts.slice(0, point)) {
    if (f.external) continue;
    const seq = f.seq;
    // A failed attempt with a null input may have failed before computing it: it wrote nothing then.
    const wroteInput = f.status !== "failure" || (f.input.kind !== "none" && !(f.input.kind === "value" && f.input.isNull));
    if (wroteInput && f.input.kind !== "none") data.set(`${f.stepName}Input`, { cell: f.input, from: { history: seq, column: "input" } });
    if (f.status !== "failure") {
      const key = `${f.stepName}Output`;
      if (f.output.kind === "none") data.delete(key);
      else data.set(key, { cell: f.output, from: { history: seq, column: "output" }, ...(f.status === "successful_but_incomplete" ? { incomplete: true } : {}) });
    }
    if (f.status === "success") previousStepName = f.stepName;
  }
  return { data, ...(previousStepName !== undefined ? { previousStepName } : {}) };
}
