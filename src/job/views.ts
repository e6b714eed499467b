/** The API's views of a job run, built from its state. */
import { totalUnits } from "../engine/status";
import type { HistoryItem, JobState, JobSummary } from "../engine/types";
import { isoTime } from "../ids";

export type { JobSummary } from "../engine/types";

/**
 * JobSummary of API.md, with Canopy's additions. `output` is the job's output when it is wanted
 * (GetJob, a report to the parent); the job index never holds it.
 */
export function jobSummary(state: JobState, output?: unknown): JobSummary {
  const id = state.identity;
  return {
    jobId: id.jobId,
    status: state.status,
    workflowId: id.workflowId,
    workflowName: id.workflowName,
    workflowVersion: { versionId: id.versionId, versionNumber: id.versionNumber },
    submittedByUser: id.submittedByUser,
    createdAt: isoTime(id.createdAt),
    updatedAt: isoTime(state.updatedAt),
    ...(state.startedAt !== undefined ? { startedAt: isoTime(state.startedAt) } : {}),
    ...(state.finishedAt !== undefined ? { finishedAt: isoTime(state.finishedAt) } : {}),
    ...(id.parentJobId ? { parentJobId: id.parentJobId, parentStepName: id.parentStepName } : {}),
    ...(id.childKey !== undefined ? { childKey: id.childKey } : {}),
    ...(id.childIndex !== undefined ? { childIndex: id.childIndex } : {}),
    rootJobId: id.rootJobId,
    ...(id.scheduleId ? { scheduleId: id.scheduleId } : {}),
    ...(id.scheduledAt !== undefined ? { scheduledAt: isoTime(id.scheduledAt) } : {}),
    billableTransactionUnits: totalUnits(state),
    ...(state.current ? { currentStepName: state.current.name } : {}),
    ...(state.error ? { error: state.error } : {}),
    ...(state.status === "SUCCEEDED" && output !== undefined ? { output } : {}),
    runNumber: id.runNumber,
    ...waitingFor(state),
  };
}

/** The pool a PENDING job waits for: the one it is acquiring a lease in now. */
function waitingFor(state: JobState): { waitingForResourcePool?: { poolId: string; queuedAt?: string } } {
  const a = state.admission;
  const poolId = a && state.status === "PENDING" ? state.identity.resourcePoolIds?.[a.held] : undefined;
  if (poolId === undefined) return {};
  return { waitingForResourcePool: { poolId, ...(a?.queued?.poolId === poolId ? { queuedAt: isoTime(a.queued.since) } : {}) } };
}

export interface WorkflowStateView {
  nextStepName?: string;
  executionData: Record<string, unknown>;
  executionHistory: HistoryItem[];
}

/** GetWorkflowState's `state`. */
export function workflowStateView(state: JobState, executionData: Record<string, unknown>, history: HistoryItem[]): WorkflowStateView {
  const next = state.current?.name ?? (state.status === "FAILED" || state.status === "CANCELLED" ? state.resumeStepName : undefined);
  return {
    ...(next ? { nextStepName: next } : {}),
    executionData,
    executionHistory: history,
  };
}
