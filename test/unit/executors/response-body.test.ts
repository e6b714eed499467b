import { describe, expect, it } from "vitest";
import { readBodyCapped } from "../../../src/executors/response-body";
import { MAX_RESPONSE_BYTES } from "../../../src/limits";

/** A response streamed in `chunks` pieces of `size` bytes, counting how many the reader pulled. */
function streamed(chunks: number, size: number, headers: Record<string, string> = {}) {
  const seen = { pulled: 0, cancelled: false };
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (seen.pulled === chunks) return controller.close();
      seen.pulled++;
      controller.enqueue(new Uint8Array(size).fill(0x20));
    },
    cancel() {
      seen.cancelled = true;
    },
  });
  return { res: new Response(body, { headers }), seen };
}

describe("reading a response body within MAX_RESPONSE_BYTES", () => {
  it("reads a body up to the limit, decoded as UTF-8 like Response#text", async () => {
    expect(await readBodyCapped(new Response('\uFEFF{"ok":"ü"}'))).toBe('{"ok":"ü"}');
    expect(await readBodyCapped(new Response(null))).toBe("");
    const exact = streamed(16, MAX_RESPONSE_BYTES / 16);
    expect((await readBodyCapped(exact.res)).length).toBe(MAX_RESPONSE_BYTES);
  });

  it("stops at the first chunk past the limit and cancels the stream", async () => {
    const { res, seen } = streamed(1000, 64 * 1024); // 64 MiB on offer
    await expect(readBodyCapped(res)).rejects.toMatchObject({ code: "RESPONSE_TOO_LARGE" });
    expect(seen.pulled).toBeLessThanOrEqual(MAX_RESPONSE_BYTES / (64 * 1024) + 2);
    expect(seen.cancelled).toBe(true);
  });

  it("refuses a declared Content-Length over the limit without reading", async () => {
    const { res, seen } = streamed(1, 10, { "content-length": String(MAX_RESPONSE_BYTES + 1) });
    await expect(readBodyCapped(res)).rejects.toMatchObject({ code: "RESPONSE_TOO_LARGE", message: expect.stringContaining(`${MAX_RESPONSE_BYTES} bytes`) });
    expect(seen.cancelled).toBe(true);
  });
});
