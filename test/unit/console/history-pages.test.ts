/**
 * How the console holds a long run's history (console/src/api/history-pages.ts): pages merged by
 * item id, a live reload of the last page held that neither drops an earlier page nor duplicates an
 * item, the markers each page lists kept with their items, and the bound past which it reads no more.
 */
import { describe, expect, it } from "vitest";
import { historyFull, omittedMarker, withPage, type HeldHistory } from "../../../console/src/api/history-pages";
import type { HistoryItem, WorkflowState } from "../../../console/src/api/types";
import { CONSOLE_HISTORY_ITEMS, CONSOLE_HISTORY_PAGES } from "../../../src/limits";

function item(n: number, status: HistoryItem["output"]["status"] = "success", input: unknown = null): HistoryItem {
  const at = new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString();
  return { id: `1.${n}`, stepName: "tick", stepExecutorType: "/canopy/transform", historySource: "engine", input, output: { status }, startTimestamp: at, endTimestamp: at, errors: [], warnings: [] };
}
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => item(from + i));
function page(items: HistoryItem[], next?: string, omittedValues?: string[], executionData: Record<string, unknown> = {}): WorkflowState {
  return { state: { executionData, executionHistory: items }, ...(next ? { nextPageToken: next } : {}), ...(omittedValues ? { omittedValues } : {}) };
}
const ids = (h: HeldHistory) => h.items.map((i) => i.id);

describe("a run's history held page by page", () => {
  it("appends the next page, and a reload reads the last page again without dropping or duplicating an item", () => {
    let held = withPage(undefined, page(range(1, 3), "3"), undefined, "refresh");
    expect([ids(held), held.pages, held.tailToken, held.next]).toEqual([["1.1", "1.2", "1.3"], 1, undefined, "3"]);
    held = withPage(held, page(range(4, 6), "6"), "3", "more");
    held = withPage(held, page(range(7, 8)), "6", "more");
    expect([held.pages, held.tailToken, held.next]).toEqual([3, "6", undefined]);
    // The job went on: its last page, read again from the token it was read with, holds a changed
    // item and two new ones.
    held = withPage(held, page([item(7), item(8, "failure"), item(9), item(10)]), held.tailToken, "refresh");
    expect(ids(held)).toEqual(range(1, 10).map((h) => h.id));
    expect(held.items[7]!.output.status).toBe("failure");
    expect([held.pages, held.tailToken, held.next]).toEqual([3, "6", undefined]);
    // So much was added that the last page now goes on.
    held = withPage(held, page(range(7, 12), "12"), held.tailToken, "refresh");
    expect([ids(held).length, new Set(ids(held)).size, held.next]).toEqual([12, 12, "12"]);
  });

  it("keeps the markers each page lists with their items, and the execution data's of the last page read", () => {
    const big = { canopyOmitted: { bytes: 300_000, read: "/organizations/o/jobs/j/state/history/1.2/input?runNumber=1" } };
    const wf = { canopyOmitted: { bytes: 90_000, read: "/organizations/o/jobs/j/state/data/workflowInput?runNumber=1" } };
    let held = withPage(undefined, page([item(1), item(2, "success", big)], "2", ["executionData.workflowInput", "executionHistory.1.input"], { workflowInput: wf }), undefined, "refresh");
    expect([...held.omitted]).toEqual(["1.2/input"]);
    expect(omittedMarker(held.executionData.workflowInput, held.omittedData.has("workflowInput"))).toEqual(wf.canopyOmitted);
    // Index 0 of the second page is item 1.3.
    held = withPage(held, page([item(3, "success", big)], undefined, ["executionHistory.0.input"], { workflowInput: { small: true } }), "2", "more");
    expect([...held.omitted].sort()).toEqual(["1.2/input", "1.3/input"]);
    expect(held.omittedData.size).toBe(0);
    // Read again, the page no longer lists item 1.3's input: what it says replaces what was held.
    held = withPage(held, page([item(3)]), "2", "refresh");
    expect([...held.omitted]).toEqual(["1.2/input"]);
    // A value shaped like a marker that the API did not list is the job's own value.
    expect(omittedMarker(big, false)).toBeUndefined();
    expect(omittedMarker({ canopyOmitted: { bytes: "x" } }, true)).toBeUndefined();
  });

  it("is full at CONSOLE_HISTORY_ITEMS items or CONSOLE_HISTORY_PAGES pages, and not one before", () => {
    const base = withPage(undefined, page(range(1, 1), "1"), undefined, "refresh");
    const at = (items: number, pages: number): HeldHistory => ({ ...base, items: Array.from({ length: items }, (_, i) => item(i + 1)), pages });
    expect(historyFull(at(CONSOLE_HISTORY_ITEMS - 1, CONSOLE_HISTORY_PAGES - 1))).toBe(false);
    expect(historyFull(at(CONSOLE_HISTORY_ITEMS, 1))).toBe(true);
    expect(historyFull(at(10, CONSOLE_HISTORY_PAGES))).toBe(true);
  });
});
