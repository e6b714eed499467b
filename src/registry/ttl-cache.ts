/**
 * A small per-isolate cache with a time bound and a size bound. It holds registry facts that the
 * submission path would otherwise read from D1 on every request. An isolate's memory is not shared:
 * a change made through another isolate is seen here once the entry expires, so every mutable
 * fact is cached for at most REGISTRY_CACHE_MS (documented in docs/concepts.md#submitting-a-job),
 * and a change made through this isolate drops its own entry at once.
 */

/** How long a mutable registry fact (a token, a tag, a workflow's name) may be served from memory. */
export const REGISTRY_CACHE_MS = 5_000;

export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
  ) {}

  get(key: string, now = Date.now()): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** Keeps `value` until `now + ttl`, or until `expiresAt` when that comes sooner. */
  set(key: string, value: V, now = Date.now(), expiresAt = Infinity): void {
    if (this.entries.size >= this.maxEntries && !this.entries.has(key)) {
      // The oldest insertion goes first: a Map iterates in insertion order.
      this.entries.delete(this.entries.keys().next().value!);
    }
    this.entries.set(key, { value, expiresAt: Math.min(now + this.ttlMs, expiresAt) });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  /** Drops every entry whose value matches (e.g. every cached name of one token id). */
  deleteWhere(match: (value: V) => boolean): void {
    for (const [key, entry] of this.entries) if (match(entry.value)) this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
