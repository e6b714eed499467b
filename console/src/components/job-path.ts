/** What a job's history says about its workflow's graph and its timeline: pure derivations, no fetching. */
import { isTerminal, type HistoryItem, type JobSummary } from "../api/types";
import { END } from "../definition";
import type { TimelineItem } from "./timeline-items";

export interface JobPath {
  visited: Set<string>;
  /** Transitions taken, as "from→to" (a loop's "tick→tick" too). */
  taken: Set<string>;
  /** Steps whose latest attempt failed. */
  failed: Set<string>;
  /** The step the job was cancelled at. */
  cancelled?: string;
}

/** The path a job took through its workflow, from its history (and the step it is at now). */
export function jobPath(history: HistoryItem[], job: JobSummary | undefined): JobPath {
  const steps = history.filter((h) => h.historySource === "engine");
  const visited = new Set(steps.map((h) => h.stepName));
  const taken = new Set<string>();
  const latest = new Map<string, HistoryItem>();
  let cancelled: string | undefined;
  for (let i = 0; i < steps.length; i++) {
    const h = steps[i]!;
    latest.set(h.stepName, h);
    if (h.cancelled) cancelled = h.stepName;
    const prev = steps[i - 1];
    if (!prev) continue;
    // A new step, or the same step in its next iteration (a loop), is a transition; a retry is not.
    const loop = prev.stepName === h.stepName && prev.iteration !== undefined && h.iteration !== undefined && h.iteration > prev.iteration;
    if (prev.stepName !== h.stepName || loop) taken.add(`${prev.stepName}→${h.stepName}`);
  }
  const running = job && !isTerminal(job.status) ? job.currentStepName : undefined;
  const last = steps[steps.length - 1];
  if (running) {
    visited.add(running);
    if (last && last.stepName !== running) taken.add(`${last.stepName}→${running}`);
  }
  // A job that succeeded left its last step through a transition to null.
  if (job?.status === "SUCCEEDED" && last) taken.add(`${last.stepName}→${END}`);
  const failed = new Set([...latest.values()].filter((h) => h.output.status === "failure" && !h.cancelled && h.stepName !== running).map((h) => h.stepName));
  return { visited, taken, failed, ...(cancelled ? { cancelled } : {}) };
}

/** A job's steps as timeline bars: each attempt, the step it is at now, and where it was cancelled. */
export function stepBars(history: HistoryItem[], job: JobSummary | undefined): TimelineItem[] {
  const items: TimelineItem[] = history
    .filter((h) => h.historySource === "engine")
    .map((h) => ({
      key: h.id,
      label: h.cancelled ? `${h.stepName} (cancelled)` : h.stepName,
      kind: "step" as const,
      start: Date.parse(h.startTimestamp),
      end: Date.parse(h.endTimestamp),
      status: h.cancelled ? "CANCELLED" : h.output.status === "failure" ? "FAILED" : "SUCCEEDED",
    }));
  if (job?.currentStepName && !isTerminal(job.status)) {
    const last = history[history.length - 1];
    items.push({
      key: "current",
      label: job.currentStepName,
      kind: "step",
      start: last ? Date.parse(last.endTimestamp) : Date.parse(job.startedAt ?? job.createdAt),
      status: "RUNNING",
    });
  }
  return items;
}

/** Every event id a waitForEventIds step of a definition waits for. */
export function awaitedEventIds(definition: string | undefined): Set<string> | undefined {
  if (!definition) return undefined;
  try {
    const def = JSON.parse(definition) as { steps?: { integrationDetails?: { type?: string; config?: { eventIds?: unknown } } }[] };
    const ids = new Set<string>();
    for (const s of def.steps ?? []) {
      const d = s.integrationDetails;
      if (d?.type?.endsWith("/waitForEventIds") && Array.isArray(d.config?.eventIds)) for (const e of d.config.eventIds) ids.add(String(e));
    }
    return ids;
  } catch {
    return undefined;
  }
}
