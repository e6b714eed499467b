/**
 * Joins the pages of a value read through a `read` path: a runChildJob step's results come a page of
 * `{results, succeeded, failed}` at a time. Reading stops after CONSOLE_VALUE_READ_BYTES, and says so.
 * Pure (no browser, no client), so the bound is tested with pages of a known size
 * (test/unit/console/read-value.test.ts).
 */
import { CONSOLE_VALUE_READ_BYTES } from "../../../src/limits";

export interface ReadValue {
  value: unknown;
  /** The JSON text of `value`, as read. */
  text: string;
  /** Whether every page was read (false: reading stopped at CONSOLE_VALUE_READ_BYTES). */
  complete: boolean;
  /** For a step's results: how many of them were read. */
  results?: number;
}

/** One page of a value as GetExecutionDataValue and GetExecutionHistoryPayload answer it. */
export type Page = { value?: unknown; nextPageToken?: string };

/** One page of a value, from `pageToken` (undefined: the first). */
export type PageReader = (pageToken: string | undefined) => Promise<Page>;

const isResults = (v: unknown): v is { results: unknown[] } => typeof v === "object" && v !== null && Array.isArray((v as { results?: unknown }).results);

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
