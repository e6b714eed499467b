/**
 * Where a rerun begins in its source's history, and the execution data there: loops, retries,
 * polls, a step cancelled mid-attempt, a transition that failed after its step, and the pages the
 * copy takes.
 */
import { describe, expect, it } from "vitest";
import { dataAt, rerunPoint, type Cell, type DataCell, type HistoryFact } from "../../../src/engine/rerun-point";
import { copyPages } from "../../../src/job/rerun-source";
import { RERUN_COPY_PAGE_BYTES, RERUN_MAX_COPY_PAGES } from "../../../src/limits";

const value = (bytes = 10, isNull = false) => ({ kind: "value" as const, bytes, isNull });
const none: Cell = { kind: "none" };

/** A history built from `[step, status]` pairs, sequence numbers from 1, attempts counted per step. */
function history(...items: [string, HistoryFact["status"] | "external", Partial<HistoryFact>?][]): HistoryFact[] {
  const attempts = new Map<string, number>();
  return items.map(([stepName, status, extra], i) => {
    if (status === "external") return { seq: i + 1, stepName, external: true, status: "success", input: value(4, true), output: value(), ...extra };
    const attempt = (attempts.get(stepName) ?? 0) + 1;
    attempts.set(stepName, attempt);
    return { seq: i + 1, stepName, external: false, status, attempt, input: value(), output: status === "failure" ? none : value(), ...extra };
  });
}

const start = new Map<string, DataCell>([["workflowInput", { cell: value(), from: { data: "workflowInput" } }]]);
const where = (data: Map<string, DataCell>) => Object.fromEntries([...data].map(([k, d]) => [k, d.from]));

describe("rerunPoint", () => {
  it.each([
    ["a step's only execution", history(["a", "success"], ["b", "success"], ["c", "failure"]), "b", {}, 1],
    ["the latest iteration of a loop", history(["a", "success"], ["loop", "success"], ["a", "success"], ["loop", "success"], ["end", "failure"]), "loop", {}, 3],
    ["the first try of a retried execution", history(["a", "success"], ["b", "failure"], ["b", "failure"], ["b", "success"]), "b", {}, 1],
    ["the first poll of a polled execution", history(["a", "success"], ["p", "successful_but_incomplete"], ["p", "successful_but_incomplete"], ["p", "success"]), "p", {}, 1],
    ["the failed step, over its retries, events between them", history(["a", "success"], ["w", "failure"], ["go", "external"], ["w", "failure"]), "w", { stepName: "w", attempt: 3 }, 1],
    ["a step that completed before its transition failed", history(["a", "success"], ["b", "success"]), "b", { stepName: "b", attempt: 1 }, 1],
    ["a step cancelled in its first attempt (nothing recorded yet)", history(["a", "success"]), "b", { stepName: "b", attempt: 1 }, 1],
    ["a loop's new execution cancelled before it recorded anything", history(["b", "success"], ["b", "success"]), "b", { stepName: "b", attempt: 3 }, 2],
  ])("begins at %s", (_name, facts, fromStep, stop, expected) => {
    expect(rerunPoint(facts, fromStep, stop)).toBe(expected);
  });

  it("answers null for a step that did not run", () => {
    expect(rerunPoint(history(["a", "success"], ["b", "failure"]), "c", { stepName: "b", attempt: 1 })).toBeNull();
  });
});

describe("dataAt", () => {
  it("takes each key from the last item before the point that wrote it, and the step that completed last", () => {
    const facts = history(["a", "success"], ["loop", "success"], ["a", "success"], ["loop", "success"], ["end", "failure"]);
    const { data, previousStepName } = dataAt(facts, 3, start, undefined);
    expect(where(data)).toEqual({
      workflowInput: { data: "workflowInput" },
      aInput: { history: 3, column: "input" },
      aOutput: { history: 3, column: "output" },
      loopInput: { history: 2, column: "input" },
      loopOutput: { history: 2, column: "output" },
    });
    expect(previousStepName).toBe("a");
  });

  it("keeps a failed attempt's input only when it computed one, removes an output a result without payload removed, and marks a poll's result", () => {
    const facts = history(
      ["a", "success"],
      ["t", "failure", { input: value(4, true) }],
      ["u", "failure", { input: value(30) }],
      ["p", "successful_but_incomplete"],
      ["a", "success", { output: none }],
    );
    const { data, previousStepName } = dataAt(facts, facts.length, new Map([...start, ["tInput", { cell: value(), from: { startData: "tInput" } }]]), "before");
    expect(where(data)).toEqual({
      workflowInput: { data: "workflowInput" },
      tInput: { startData: "tInput" },
      uInput: { history: 3, column: "input" },
      pInput: { history: 4, column: "input" },
      pOutput: { history: 4, column: "output" },
      aInput: { history: 5, column: "input" },
    });
    expect(data.get("pOutput")?.incomplete).toBe(true);
    expect(previousStepName).toBe("a");
    expect(dataAt(facts, 0, start, "before").previousStepName).toBe("before");
  });

  it("keeps a reference as a reference", () => {
    const ref: Cell = { kind: "ref", ref: { children: { stepName: "fan", attempt: 1, count: 3 } } };
    const { data } = dataAt(history(["fan", "success", { output: ref }]), 1, start, undefined);
    expect(data.get("fanOutput")?.cell).toEqual(ref);
  });
});

describe("copyPages", () => {
  const values = (n: number, bytes: number) => new Map<string, DataCell>(Array.from({ length: n }, (_, i) => [`k${i}`, { cell: value(bytes), from: { data: `k${i}` } }]));
  const fan: DataCell = { cell: { kind: "ref", ref: { children: { stepName: "fan", attempt: 2, count: 10 } } }, from: { data: "fanOutput" } };

  it("puts values in pages of at most RERUN_COPY_PAGE_BYTES, then each reference's child ranges", () => {
    const data = values(9, 1024 * 1024);
    data.set("fanOutput", fan);
    data.set("fanInputAlias", fan);
    const pages = copyPages(data, (stepName, attempt) => (stepName === "fan" && attempt === 2 ? [{ fromIndex: 0, toIndex: 4 }, { fromIndex: 5, toIndex: 9 }] : []));
    const perPage = Math.floor(RERUN_COPY_PAGE_BYTES / (1024 * 1024));
    expect(pages.filter((p) => "values" in p).map((p) => ("values" in p ? p.values.length : 0))).toEqual([perPage, perPage, 9 - 2 * perPage]);
    // The same children, referenced twice, are copied once.
    expect(pages.filter((p) => "children" in p)).toEqual([
      { children: { stepName: "fan", attempt: 2, fromIndex: 0, toIndex: 4 } },
      { children: { stepName: "fan", attempt: 2, fromIndex: 5, toIndex: 9 } },
    ]);
  });

  it(`copies in at most ${RERUN_MAX_COPY_PAGES} requests, and refuses one more with 413`, () => {
    const ranges = (n: number) => () => Array.from({ length: n }, (_, i) => ({ fromIndex: i, toIndex: i }));
    expect(copyPages(new Map([["fanOutput", fan]]), ranges(RERUN_MAX_COPY_PAGES))).toHaveLength(RERUN_MAX_COPY_PAGES);
    expect(() => copyPages(new Map([["fanOutput", fan]]), ranges(RERUN_MAX_COPY_PAGES + 1))).toThrow(expect.objectContaining({ code: "PayloadTooLarge" }));
  });
});
