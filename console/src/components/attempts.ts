/** How a history item's attempt reads: "attempt 3 of 4, retries used up", "iteration 2 · attempt 1 of 1". */
import type { HistoryItem } from "../api/types";
import { clock } from "./format";

/** The attempt part of an item; `iterations` says the step ran more than once in this history. */
export function attemptText(h: HistoryItem, opts: { iterations?: boolean; fallback?: number; now?: number } = {}): string {
  if (h.historySource === "external") return "–";
  if (h.cancelled) return "cancelled here";
  const parts: string[] = [];
  if (opts.iterations && h.iteration !== undefined) parts.push(`iteration ${h.iteration}`);
  const n = h.executionAttempt;
  const of = h.attemptsAllowed;
  if (n === undefined || of === undefined) {
    // History written before attempts were told apart: count the step's items.
    parts.push(`attempt ${opts.fallback ?? 1}`);
    return parts.join(" · ");
  }
  let attempt = `attempt ${n} of ${of}`;
  if (h.output.status === "failure") {
    if (h.retryAt) attempt += `, retry at ${clock(h.retryAt, opts.now)}`;
    else if (n >= of && of > 1) attempt += ", retries used up";
    else if (n < of) attempt += ", not retried";
  }
  parts.push(attempt);
  return parts.join(" · ");
}

/** Steps that ran in more than one iteration in this history. */
export function loopedSteps(items: HistoryItem[]): Set<string> {
  const seen = new Map<string, number>();
  const looped = new Set<string>();
  for (const h of items) {
    if (h.historySource !== "engine" || h.iteration === undefined) continue;
    const first = seen.get(h.stepName);
    if (first === undefined) seen.set(h.stepName, h.iteration);
    else if (first !== h.iteration) looped.add(h.stepName);
  }
  return looped;
}
