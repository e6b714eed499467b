/**
 * Reads a value the API left out of an answer (a `canopyOmitted` marker's or GetJob's
 * outputTooLarge's `read` path) through the typed client, page by page: a runChildJob step's
 * results come a page of `{results, succeeded, failed}` at a time and are joined (join-pages.ts).
 */
import { get } from "./hooks";
import { joinPages, type Page, type ReadValue } from "./join-pages";

export type { ReadValue };

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

/** The value at `read`, joined from its pages, up to CONSOLE_VALUE_READ_BYTES of them. */
export function readValue(read: string, signal: AbortSignal): Promise<ReadValue> {
  return joinPages((token) => readPage(read, token, signal));
}
