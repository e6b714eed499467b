/**
 * How large a JSON value is once stored: the UTF-8 bytes of its JSON text. A request body's size
 * does not bound this: the body's `1e20` is stored as `100000000000000000000`, and a JSON string
 * carried inside a body (inputJson, a definition) is measured only after it is parsed.
 */
import { PayloadTooLargeError } from "./errors";

/** The UTF-8 length of a string, counted without encoding it (a lone surrogate encodes as U+FFFD, 3 bytes). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch < 0x80) bytes += 1;
    else if (ch < 0x800) bytes += 2;
    else if (ch >= 0xd800 && ch <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** The UTF-8 length of a value's JSON text; `undefined` (which JSON cannot hold) counts as nothing. */
export function jsonByteLength(value: unknown): number {
  const text = JSON.stringify(value) as string | undefined;
  return text === undefined ? 0 : utf8Length(text);
}

/** Refuses with 413 a value whose JSON text exceeds `limit` bytes; `what` names it in the message ("The job input"). */
export function refuseOversizedJson(value: unknown, what: string, limit: number): void {
  const bytes = jsonByteLength(value);
  if (bytes > limit) throw new PayloadTooLargeError(`${what} is ${bytes} bytes of JSON; the limit is ${limit} bytes.`);
}
