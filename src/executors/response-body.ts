/**
 * Reading what a far end answers, within bounds: a response body is counted as it streams and the
 * connection is cut once it passes MAX_RESPONSE_BYTES, so a tenant's endpoint (or one it redirects
 * to) cannot make the engine buffer gigabytes. (Depth is checked where JSON is parsed: http-result.ts.)
 */
import { MAX_RESPONSE_BYTES } from "../limits";

/** A response the engine will not take: a stable code the step fails with (never retried: the far end would answer the same). */
export class ResponseRefused extends Error {
  constructor(
    readonly code: "RESPONSE_TOO_LARGE",
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}

function tooLarge(maxBytes: number): ResponseRefused {
  return new ResponseRefused("RESPONSE_TOO_LARGE", `The response body exceeds ${maxBytes} bytes; it was not read further.`);
}

/** The body as text (UTF-8, like Response#text), or ResponseRefused once it passes `maxBytes`. */
export async function readBodyCapped(res: Response, maxBytes: number = MAX_RESPONSE_BYTES): Promise<string> {
  const declared = Number(res.headers.get("content-length") ?? "");
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel();
    throw tooLarge(maxBytes);
  }
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  return new TextDecoder().decode(bytes);
}
