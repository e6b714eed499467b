/**
 * How the console joins the pages of a value the API left out of an answer
 * (console/src/api/join-pages.ts): a step's results concatenated in order, and reading stopped once
 * CONSOLE_VALUE_READ_BYTES have been read, saying so. The pages come from a function standing in for
 * GetExecutionDataValue; the browser test (test/e2e/console.test.ts) reads real ones.
 */
import { describe, expect, it } from "vitest";
import { joinPages, type Page } from "../../../console/src/api/join-pages";
import { CONSOLE_VALUE_READ_BYTES } from "../../../src/limits";

/** Pages of `{results, succeeded, failed}`, each holding one result of `padBytes`, `count` of them. */
function resultsPages(count: number, padBytes: number) {
  const read: (string | undefined)[] = [];
  const next = async (token: string | undefined): Promise<Page> => {
    read.push(token);
    const i = token === undefined ? 0 : Number(token);
    const value = { results: [{ id: `c${i}`, output: "x".repeat(padBytes) }], succeeded: count, failed: 0 };
    return { value, ...(i + 1 < count ? { nextPageToken: String(i + 1) } : {}) };
  };
  return { next, read };
}

describe("a value read page by page", () => {
  it("joins a step's results from every page, in order", async () => {
    const { next, read } = resultsPages(3, 1000);
    const got = await joinPages(next);
    expect(read).toEqual([undefined, "1", "2"]);
    expect(got.complete).toBe(true);
    expect(got.results).toBe(3);
    expect((got.value as { results: { id: string }[] }).results.map((r) => r.id)).toEqual(["c0", "c1", "c2"]);
    expect(JSON.parse(got.text)).toEqual(got.value);
  });

  it("stops once CONSOLE_VALUE_READ_BYTES have been read, and says it did not read the whole", async () => {
    const perPage = 1024 * 1024 - 100;
    const pagesToBound = Math.ceil(CONSOLE_VALUE_READ_BYTES / (perPage + 60));
    const { next, read } = resultsPages(pagesToBound + 5, perPage);
    const got = await joinPages(next);
    expect(read.length).toBe(pagesToBound);
    expect(got.complete).toBe(false);
    expect(got.results).toBe(pagesToBound);
    // A value that ends just at the bound is read whole.
    const exact = resultsPages(pagesToBound, perPage);
    expect((await joinPages(exact.next)).complete).toBe(true);
  });

  it("reads a value that is not a step's results whole, in one page", async () => {
    const got = await joinPages(async () => ({ value: { pad: "q".repeat(300_000) } }));
    expect(got).toMatchObject({ complete: true, value: { pad: expect.any(String) } });
    expect(got.results).toBeUndefined();
  });
});
