/**
 * Parsed definitions by version id. Versions are immutable, so an isolate may keep them; every job
 * object and submission of a version then shares one parsed copy (and the schemas compiled for it,
 * which src/definition/json-schema.ts keys on that copy and drops with it). The cache is bounded by
 * an estimate of the memory it holds, not by a count: one tenant's 1 MiB definitions must not fill
 * the isolate that every other tenant shares.
 */
import type { WorkflowDefinition } from "../definition/schema";
import { DEFINITION_CACHE_BYTES_PER_CHAR, DEFINITION_CACHE_MAX_BYTES } from "../limits";

/** A least-recently-used map whose entries each cost an estimated number of bytes, kept under a budget. */
export class DefinitionCache {
  /** Insertion order is recency: a hit moves its entry to the end, eviction takes from the front. */
  private readonly entries = new Map<string, { definition: WorkflowDefinition; bytes: number }>();
  private total = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly bytesPerChar: number,
  ) {}

  /** The parsed definition of a stored version (it passed every check when it was registered). */
  get(versionId: string, text: string): WorkflowDefinition {
    const hit = this.entries.get(versionId);
    if (hit) {
      this.entries.delete(versionId);
      this.entries.set(versionId, hit);
      return hit.definition;
    }
    const definition = JSON.parse(text) as WorkflowDefinition;
    const bytes = text.length * this.bytesPerChar;
    // One that alone would exceed the budget is parsed for its caller and not kept.
    if (bytes > this.maxBytes) return definition;
    while (this.total + bytes > this.maxBytes) this.evictOldest();
    this.entries.set(versionId, { definition, bytes });
    this.total += bytes;
    return definition;
  }

  /** The estimated bytes held, and how many definitions (tests and diagnostics). */
  usage(): { bytes: number; entries: number } {
    return { bytes: this.total, entries: this.entries.size };
  }

  private evictOldest(): void {
    const [key, entry] = this.entries.entries().next().value!;
    this.entries.delete(key);
    this.total -= entry.bytes;
  }
}

/** The isolate's one cache. */
export const definitionCache = new DefinitionCache(DEFINITION_CACHE_MAX_BYTES, DEFINITION_CACHE_BYTES_PER_CHAR);

/** The parsed definition of a stored version, from the isolate's cache. */
export function parsedDefinition(versionId: string, text: string): WorkflowDefinition {
  return definitionCache.get(versionId, text);
}
