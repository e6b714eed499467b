/** Where a rerun begins unless the operator picks another step (the Rerun dialog's preselection). */
import type { HistoryItem, JobSummary } from "../api/types";

/**
 * RerunJob's own default, as far as the page can tell it: the step a FAILED job failed at, or the
 * step a CANCELLED job was cancelled at (the first step if it stopped before any). A job that
 * SUCCEEDED has no default (RerunJob requires a step): its first step is offered. Only one of
 * `steps` (the version's) is answered.
 */
export function defaultRerunStep(job: JobSummary, history: HistoryItem[], steps: string[]): string | undefined {
  const cancelledAt = [...history].reverse().find((h) => h.cancelled)?.stepName;
  const stoppedAt = job.status === "FAILED" || job.status === "CANCELLED" ? (job.error?.stepName ?? cancelledAt) : undefined;
  return stoppedAt !== undefined && steps.includes(stoppedAt) ? stoppedAt : steps[0];
}
