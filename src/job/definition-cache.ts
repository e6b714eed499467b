/** Parsed definitions by version id. Versions are immutable, so an isolate may keep them. */
import type { WorkflowDefinition } from "../definition/schema";

const MAX_ENTRIES = 500;
const cache = new Map<string, WorkflowDefinition>();

/** The parsed definition of a stored version (it passed every check when it was registered). */
export function parsedDefinition(versionId: string, text: string): WorkflowDefinition {
  let def = cache.get(versionId);
  if (!def) {
    def = JSON.parse(text) as WorkflowDefinition;
    if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value!);
    cache.set(versionId, def);
  }
  return def;
}
