/** The API's views of a job run, built from its state. */
import { totalUnits } from "../engine/status";
import type { JobState, JobSummary } from "../engine/types";
import { isoTime } from "../ids";

export type { JobSummary } from "../engine/types";

/** A SUCCEEDED job's output as GetJob shows it: the value, or where to read one too large for an answer. */
export type OutputView = { output: unknown } | { outputTooLarge: NonNullable<JobSummary["outputTooLarge"]> };

/**
 * JobSummary of API.md, with Canopy's additions. `output` is the job's output when it is wanted
 * (GetJob); the D1 index and a child's report never hold it here.
 */
export function jobSummary(state: JobState, output?: OutputView): JobSummary {
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
    rootJobId: id.rootJobId,
    ...(id.scheduleId ? { scheduleId: id.scheduleId } : {}),
    ...(id.scheduledAt !== undefined ? { scheduledAt: isoTime(id.scheduledAt) } : {}),
    billableTransactionUnits: totalUnits(state),
    ...(state.current ? { currentStepName: state.current.name } : {}),
    ...(state.error ? { error: state.error } : {}),
    ...(state.status === "SUCCEEDED" && output !== undefined && ("outputTooLarge" in output || output.output !== undefined) ? output : {}),
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
