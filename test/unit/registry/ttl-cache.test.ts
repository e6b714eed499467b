// The per-isolate cache of registry facts (tokens, tags, retention, egress allowlists): an entry is
// served until its time bound, never past an expiry of its own, and the cache never holds more
// than its size bound.
import { describe, expect, it } from "vitest";
import { TtlCache } from "../../../src/registry/ttl-cache";
import { EGRESS_POLICY_CACHE_ENTRIES } from "../../../src/limits";

describe("TtlCache", () => {
  it("serves an entry until its time bound, and not at it", () => {
    const cache = new TtlCache<string>(5_000, 10);
    cache.set("org", "allowlist", 1_000);
    expect(cache.get("org", 5_999)).toBe("allowlist");
    expect(cache.get("org", 6_000)).toBeUndefined();
  });

  it("never serves an entry past its own expiry, when that comes before the time bound", () => {
    const cache = new TtlCache<string>(5_000, 10);
    cache.set("token", "identity", 1_000, 2_000);
    expect(cache.get("token", 1_999)).toBe("identity");
    expect(cache.get("token", 2_000)).toBeUndefined();
  });

  it("keeps a cached null (an organization without an allowlist) apart from a miss", () => {
    const cache = new TtlCache<string[] | null>(5_000, 10);
    cache.set("org", null, 0);
    expect(cache.get("org", 1)).toBeNull();
    expect(cache.get("other", 1)).toBeUndefined();
  });

  it("holds at most its size bound: the oldest entry makes room, a replaced one does not", () => {
    const cache = new TtlCache<number>(Infinity, EGRESS_POLICY_CACHE_ENTRIES);
    for (let i = 0; i < EGRESS_POLICY_CACHE_ENTRIES; i++) cache.set(`org-${i}`, i, 0);
    cache.set("org-0", 0, 0); // replaced in place: nothing leaves
    expect(cache.get(`org-${EGRESS_POLICY_CACHE_ENTRIES - 1}`, 0)).toBe(EGRESS_POLICY_CACHE_ENTRIES - 1);
    expect(cache.get("org-1", 0)).toBe(1);
    cache.set("one-more", -1, 0);
    expect(cache.get("org-0", 0)).toBeUndefined(); // the oldest insertion left
    expect(cache.get("org-1", 0)).toBe(1);
    expect(cache.get("one-more", 0)).toBe(-1);
  });
});
