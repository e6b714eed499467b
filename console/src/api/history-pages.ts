/**
 * A run's history as the console holds it: the GetWorkflowState pages it has read, merged by item id.
 * Pure, so what a live reload does to loaded pages is tested without a browser
 * (test/unit/console/history-pages.test.ts).
 *
 * A page is read again from the token it was read with: a reload re-reads the last page held (where a
 * running job's items change and new ones appear), never the pages before it, so it neither drops a
 * loaded page nor duplicates an item (items are matched by id).
 */
import { CONSOLE_HISTORY_ITEMS, CONSOLE_HISTORY_PAGES } from "../../../src/limits";
import type { HistoryItem, WorkflowState } from "./types";

/** What GetWorkflowState shows in place of a value it left out: its size and the path that reads it. */
export interface Omitted {
  bytes: number;
  read: string;
}

export interface HeldHistory {
  items: HistoryItem[];
  /** `${itemId}/input` and `${itemId}/output`: each payload the API showed as a marker. */
  omitted: ReadonlySet<string>;
  /** The execution data of the last page read (every page carries it). */
  executionData: Record<string, unknown>;
  /** Keys of the execution data the API showed as markers. */
  omittedData: ReadonlySet<string>;
  /** Pages read, the first included. */
  pages: number;
  /** The token the last page held was read with; undefined for the first page. */
  tailToken: string | undefined;
  /** The last page's nextPageToken: the history goes on past what is held. */
  next: string | undefined;
}

/** Whether the console stops offering more history: it holds CONSOLE_HISTORY_ITEMS items or CONSOLE_HISTORY_PAGES pages. */
export const historyFull = (h: HeldHistory) => h.items.length >= CONSOLE_HISTORY_ITEMS || h.pages >= CONSOLE_HISTORY_PAGES;

const ITEM_PATH = /^executionHistory\.(\d+)\.(input|output\.payload)$/;
const DATA_PATH = /^executionData\.(.+)$/;

/**
 * `held` with `page` merged in: `page` was read with `token` and is either the next page (`more`) or
 * the last page held read again (`refresh`). Without `held`, `page` is the first page.
 */
export function withPage(held: HeldHistory | undefined, page: WorkflowState, token: string | undefined, kind: "more" | "refresh"): HeldHistory {
  const pageItems = page.state.executionHistory;
  const pageOmitted = new Set<string>();
  const omittedData = new Set<string>();
  for (const path of page.omittedValues ?? []) {
    const item = ITEM_PATH.exec(path);
    const id = item ? pageItems[Number(item[1])]?.id : undefined;
    if (item && id !== undefined) pageOmitted.add(`${id}/${item[2] === "input" ? "input" : "output"}`);
    const data = item ? null : DATA_PATH.exec(path);
    if (data) omittedData.add(data[1]!);
  }
  const items = [...(held?.items ?? [])];
  const at = new Map(items.map((h, i) => [h.id, i]));
  // What the page says about its items replaces what was held about them.
  const pageIds = new Set(pageItems.map((h) => h.id));
  const omitted = new Set([...(held?.omitted ?? [])].filter((k) => !pageIds.has(k.slice(0, k.lastIndexOf("/")))));
  for (const h of pageItems) {
    const i = at.get(h.id);
    if (i === undefined) items.push(h);
    else items[i] = h;
  }
  for (const k of pageOmitted) omitted.add(k);
  return {
    items,
    omitted,
    executionData: page.state.executionData,
    omittedData,
    pages: held ? held.pages + (kind === "more" ? 1 : 0) : 1,
    tailToken: token,
    next: page.nextPageToken,
  };
}

/** The marker in `value` when the API listed it as left out, else undefined. */
export function omittedMarker(value: unknown, listed: boolean): Omitted | undefined {
  if (!listed || typeof value !== "object" || value === null || !("canopyOmitted" in value)) return undefined;
  const m = (value as { canopyOmitted: unknown }).canopyOmitted as Partial<Omitted> | null;
  return m && typeof m.bytes === "number" && typeof m.read === "string" ? { bytes: m.bytes, read: m.read } : undefined;
}
