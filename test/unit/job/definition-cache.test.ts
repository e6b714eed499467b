/**
 * The parsed-definition cache is bounded by bytes: one tenant registering many large versions
 * cannot fill the isolate every tenant shares. Pure module, so it is tested here with its real
 * budget and with small ones.
 */
import { describe, expect, it } from "vitest";
import { DefinitionCache, definitionCache } from "../../../src/job/definition-cache";
import { DEFINITION_CACHE_BYTES_PER_CHAR, DEFINITION_CACHE_MAX_BYTES, MAX_DEFINITION_BYTES } from "../../../src/limits";

/** A definition whose JSON text is exactly `chars` characters long. */
function definitionText(chars: number, name = "w"): string {
  const empty = JSON.stringify({ workflowName: name, steps: [], definitions: {}, pad: "" });
  const text = JSON.stringify({ workflowName: name, steps: [], definitions: {}, pad: "x".repeat(chars - empty.length) });
  expect(text.length).toBe(chars);
  return text;
}

describe("the parsed-definition cache", () => {
  it("keeps definitions up to its byte budget exactly, and evicts the least recently used past it", () => {
    const cache = new DefinitionCache(1000, 2);
    const texts = ["a", "b", "c", "d"].map((n) => definitionText(250, n)); // 500 bytes each
    const a = cache.get("a", texts[0]!);
    const b = cache.get("b", texts[1]!);
    // At the bound: both kept, the same parsed object served again.
    expect(cache.usage()).toEqual({ bytes: 1000, entries: 2 });
    expect(cache.get("a", texts[0]!)).toBe(a);
    // One byte over would be too many: c pushes out b (a was used more recently).
    cache.get("c", texts[2]!);
    expect(cache.usage()).toEqual({ bytes: 1000, entries: 2 });
    expect(cache.get("a", texts[0]!)).toBe(a);
    expect(cache.get("b", texts[1]!)).not.toBe(b);
  });

  it("parses but does not keep a definition larger than the whole budget", () => {
    const cache = new DefinitionCache(1000, 2);
    const small = cache.get("small", definitionText(100));
    const huge = definitionText(501);
    const first = cache.get("huge", huge);
    expect(first.workflowName).toBe("w");
    expect(cache.get("huge", huge)).not.toBe(first);
    expect(cache.usage()).toEqual({ bytes: 200, entries: 1 });
    expect(cache.get("small", definitionText(100))).toBe(small);
  });

  it("holds at most DEFINITION_CACHE_MAX_BYTES: 60 versions of the largest definition leave four in memory", () => {
    expect(DEFINITION_CACHE_MAX_BYTES % (MAX_DEFINITION_BYTES * DEFINITION_CACHE_BYTES_PER_CHAR)).toBe(0);
    const fits = DEFINITION_CACHE_MAX_BYTES / (MAX_DEFINITION_BYTES * DEFINITION_CACHE_BYTES_PER_CHAR);
    expect(fits).toBe(4);
    const text = definitionText(MAX_DEFINITION_BYTES);
    for (let i = 0; i < 60; i++) {
      definitionCache.get(`v${i}`, text);
      expect(definitionCache.usage().bytes).toBeLessThanOrEqual(DEFINITION_CACHE_MAX_BYTES);
    }
    expect(definitionCache.usage()).toEqual({ bytes: DEFINITION_CACHE_MAX_BYTES, entries: fits });
  });
});
