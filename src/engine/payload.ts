/** Payload sizes inside a job: the one place that measures a JSON value against MAX_PAYLOAD_BYTES. */
import { jsonNestsDeeperThan } from "../json-depth";
import { utf8Length } from "../json-size";
import { MAX_FAILED_ATTEMPT_PAYLOAD_BYTES, MAX_JSON_DEPTH, MAX_PAYLOAD_BYTES } from "../limits";

/** Whether a text's UTF-8 form is over `limit` bytes; most texts are decided by their length alone. */
export function exceedsBytes(text: string, limit: number): boolean {
  // A UTF-16 unit is 1 to 3 UTF-8 bytes (a surrogate pair, 2 units, is 4).
  if (text.length * 3 <= limit) return false;
  if (text.length > limit) return true;
  return utf8Length(text) > limit;
}

export type PayloadError = { code: "PAYLOAD_TOO_LARGE"; message: string };

/** A value's JSON text, or the error that refuses it for being over the payload limit. */
export function measurePayload(value: unknown, what: string): { ok: true; json: string | undefined } | { ok: false; error: PayloadError } {
  const json = JSON.stringify(value) as string | undefined;
  if (json === undefined || !exceedsBytes(json, MAX_PAYLOAD_BYTES)) return { ok: true, json };
  return { ok: false, error: payloadTooLarge(what, json) };
}

/** The PAYLOAD_TOO_LARGE error for `what`, whose JSON text is `json`. */
export function payloadTooLarge(what: string, json: string): PayloadError {
  return { code: "PAYLOAD_TOO_LARGE", message: `${what} is ${utf8Length(json)} bytes of JSON; the limit is ${MAX_PAYLOAD_BYTES} bytes.` };
}

/**
 * What a failed attempt's history shows of the answer that failed it: the value itself while its JSON
 * fits MAX_FAILED_ATTEMPT_PAYLOAD_BYTES, else the first bytes of that JSON as a string, with the size
 * it was cut from.
 */
export interface BoundedPayload {
  value: unknown;
  truncatedFromBytes?: number;
}

/** The longest start of `text` whose UTF-8 form fits `limit` bytes; a character is never split. */
export function cutToBytes(text: string, limit: number): string {
  if (!exceedsBytes(text, limit)) return text;
  const { read } = new TextEncoder().encodeInto(text, new Uint8Array(limit));
  return text.slice(0, read);
}

/** A value bounded for a failed attempt's history (see BoundedPayload). */
export function boundedPayload(value: unknown, limit = MAX_FAILED_ATTEMPT_PAYLOAD_BYTES): BoundedPayload {
  const json = JSON.stringify(value) as string | undefined;
  if (json === undefined || !exceedsBytes(json, limit)) return { value };
  return { value: cutToBytes(json, limit), truncatedFromBytes: utf8Length(json) };
}

/**
 * A response body (text) bounded for a failed attempt's history: a body that fits and is JSON shows
 * as its value, any other as its text (JSON nesting deeper than requests may, too), cut at `limit`
 * bytes when longer.
 */
export function boundedBody(text: string, limit = MAX_FAILED_ATTEMPT_PAYLOAD_BYTES): BoundedPayload {
  if (exceedsBytes(text, limit)) return { value: cutToBytes(text, limit), truncatedFromBytes: utf8Length(text) };
  if (jsonNestsDeeperThan(text, MAX_JSON_DEPTH)) return { value: text };
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return { value: text };
  }
}

/**
 * Thrown when a decision would read a value over the payload limit (a runChildJob step's assembled
 * results): the assembly stops at the limit, and the step that needed the value fails with `error`.
 */
export class TooLargeToRead extends Error {
  constructor(readonly error: PayloadError) {
    super(error.message);
  }
}

/** The PAYLOAD_TOO_LARGE error for `what`, found to be over the limit after `atLeast` bytes were counted. */
export function payloadTooLargeToRead(what: string, atLeast: number): PayloadError {
  return {
    code: "PAYLOAD_TOO_LARGE",
    message: `${what} is more than ${MAX_PAYLOAD_BYTES} bytes of JSON (at least ${atLeast} counted before reading stopped); a step reads at most ${MAX_PAYLOAD_BYTES} bytes of it. Read it page by page through the API, or give the step that reads it a schema that accepts any value ({}) so it is passed on by reference.`,
  };
}
