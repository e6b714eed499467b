/**
 * Reads a value the API left out of an answer (a `canopyOmitted` marker's or GetJob's
 * outputTooLarge's `read` path) through the typed client, page by page: a runChildJob step's
 * results come a page of `{results, succeeded, failed}` at a time and are joined here. Reading stops
 * after CONSOLE_VALUE_READ_BYTES, and says so.
 */
import { CONSOLE_VALUE_READ_BYTES } from "../../../src/limits";
import { get } from "./hooks";

export interface ReadValue {
  value: unknown;
  /** The JSON text of `value`, as read. */
  text: string;
  /** Whether every page was read (false: reading stopped at CONSOLE_VALUE_READ_BYTES). */
  complete: boolean;
  /** For a step's results: how many of them were read. */
  results?: number;
}

export type Page = { value?: unknown; nextPageToken?: string };

const DATA = /^\/organizations\/([^/]+)\/jobs\/([^/]+)\/state\/data\/([^/]+)$/;
const HISTORY = /^\/organizations\/([^/]+)\/jobs\/([^/]+)\/state\/history\/([^/]+)\/(input|output)$/;

/** One page of the value at `read` (a path the API gave), from `pageToken`. */
function readPage(read: string, pageToken: string | undefined, signal: AbortSignal): Promise<Page> {
  const url = new URL(read, "http://api.invalid");
  const runNumber = Number(url.searchParams.get("runNumber") ?? NaN);
  const query = { ...(Number.isInteger(runNumber) ? { runNumber } : {}), ...(pageToken !== undefined ? { pageToken } : {}) };
  const d = DATA.exec(url.pathname);
  if (d) {
    const path = { organizationId: decodeURIComponent(d[1]!), jobId: decodeURIComponent(d[2]!), key: decodeURIComponent(d[3]!) };
    return get("/organizations/{organizationId}/jobs/{jobId}/state/data/{key}", { params: { path, query } }, signal);
  }
  const h = HISTORY.exec(url.pathname);
  if (h) {
    const path = { organizationId: decodeURIComponent(h[1]!), jobId: decodeURIComponent(h[2]!), itemId: decodeURIComponent(h[3]!), part: h[4] as "input" | "output" };
    return get("/organizations/{organizationId}/jobs/{jobId}/state/history/{itemId}/{part}", { params: { path, query } }, signal);
  }
  return Promise.reject(new Error(`The console cannot read ${read}: it reads only GetExecutionDataValue and GetExecutionHistoryPayload paths.`));
}

const isResults = (v: unknown): v is { results: unknown[] } => typeof v === "object" && v !== null && Array.isArray((v as { results?: unknown }).results);

/** One page of a value, from `pageToken` (undefined: the first). */
export type PageReader = (pageToken: string | undefined) => Promise<Page>;

/** The value at `read`, joined from its pages, up to CONSOLE_VALUE_READ_BYTES of them. */
export function readValue(read: string, signal: AbortSignal): Promise<ReadValue> {
  return joinPages((token) => readPage(read, token, signal));
}

/** A value joined from the pages `next` reads: a step's results concatenated; it stops after CONSOLE_VALUE_READ_BYTES. */
export async function joinPages(next: PageReader): Promise<ReadValue> {
  const encoder = new TextEncoder();
  let value: unknown;
  let bytes = 0;
  let token: string | undefined;
  for (;;) {
    const page = await next(token);
    bytes += encoder.encode(JSON.stringify(page.value ?? null)).length;
    if (value === undefined) value = page.value;
    else if (isResults(value) && isResults(page.value)) value.results.push(...page.value.results);
    token = page.nextPageToken;
    if (token === undefined || bytes >= CONSOLE_VALUE_READ_BYTES) break;
  }
  return { value, text: JSON.stringify(value), complete: token === undefined, ...(isResults(value) ? { results: value.results.length } : {}) };
}
