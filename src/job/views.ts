/** The API's views of a job run, built from its state. */
import { retriesAllowed } from "../engine/backoff";
import { isTerminal, totalUnits } from "../engine/status";
import { isPaused } from "../engine/pause";
import type { JobState, JobSummary, WaitingFor } from "../engine/types";
import type { WorkflowDefinition } from "../definition/schema";
import { isoTime } from "../ids";

export type { JobSummary } from "../engine/types";

/** A SUCCEEDED job's output as GetJob shows it: the value, or where to read one too large for an answer. */
export type OutputView = { output: unknown } | { outputTooLarge: NonNullable<JobSummary["outputTooLarge"]> };

/**
 * JobSummary of API.md, with Canopy's additions. `output` is the job's output when it is wanted
 * (GetJob); the job index and a child's report never hold it here.
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
    ...(id.triggerId ? { triggerId: id.triggerId } : {}),
    ...(id.apiAuthTokenId ? { apiAuthTokenId: id.apiAuthTokenId } : {}),
    ...(id.childKey !== undefined ? { childKey: id.childKey } : {}),
    ...(id.childIndex !== undefined ? { childIndex: id.childIndex } : {}),
    billableTransactionUnits: totalUnits(state),
    ...(state.current ? { currentStepName: state.current.name } : {}),
    ...(state.error ? { error: state.error } : {}),
    ...(state.status === "SUCCEEDED" && output !== undefined && ("outputTooLarge" in output || output.output !== undefined) ? output : {}),
    runNumber: id.runNumber,
    ...waitingForPool(state),
    ...(id.rerunOf ? { rerunOf: id.rerunOf } : {}),
    ...(isPaused(state) && !isTerminal(state.status) ? { paused: true as const } : {}),
  };
}

/** The pool a PENDING job waits for: the one it is acquiring a lease in now. */
function waitingForPool(state: JobState): { waitingForResourcePool?: { poolId: string; queuedAt?: string } } {
  const a = state.admission;
  const poolId = a && state.status === "PENDING" ? state.identity.resourcePoolIds?.[a.held] : undefined;
  if (poolId === undefined) return {};
  return { waitingForResourcePool: { poolId, ...(a?.queued?.poolId === poolId ? { queuedAt: isoTime(a.queued.since) } : {}) } };
}

/**
 * What a job that has not ended waits for now (GetJob's `waitingFor`), read from its control row,
 * its definition (the step's retries) and its received events (`unusedEvent`: one has arrived and
 * no wait has used it yet).
 */
export function waitingFor(state: JobState, definition: WorkflowDefinition, unusedEvent: (eventId: string) => boolean): WaitingFor | undefined {
  if (state.status === "PENDING") {
    const pool = waitingForPool(state).waitingForResourcePool;
    return pool ? { kind: "resourcePool", poolId: pool.poolId, ...(pool.queuedAt ? { since: pool.queuedAt } : {}) } : undefined;
  }
  const cur = state.current;
  if (state.status !== "RUNNING" || !cur || state.continuedAs) return undefined;
  const base = { stepName: cur.name, since: isoTime(cur.attemptStartedAt) };
  const timeoutAt = cur.deadline !== undefined ? { timeoutAt: isoTime(cur.deadline) } : {};
  const attemptsAllowed = retriesAllowed(definition.steps.find((st) => st.name === cur.name)) + 1;
  const wait = cur.wait;
  switch (wait?.type) {
    case undefined:
    case "call":
      return { kind: "call", ...base, attempt: Math.max(cur.triesUsed, 1), attemptsAllowed, ...timeoutAt };
    case "retry":
      // A step that has not had a try yet waits only for the next commit (a long chain of pure steps).
      if (cur.triesUsed === 0) return { kind: "call", ...base, attempt: 1, attemptsAllowed, ...timeoutAt };
      return { kind: "retry", ...base, until: isoTime(wait.at), attempt: cur.triesUsed + 1, attemptsAllowed };
    case "poll":
      return { kind: "poll", ...base, until: isoTime(wait.at), polls: cur.polls ?? 0, ...timeoutAt };
    case "timer":
      return { kind: "timer", ...base, until: isoTime(wait.at) };
    case "unpause":
      return { kind: "unpause", ...base };
    case "events": {
      const received = wait.eventIds.filter(unusedEvent);
      return { kind: "events", ...base, eventIds: wait.eventIds.filter((e) => !received.includes(e)), received, ...timeoutAt };
    }
    case "children":
      return {
        kind: "children",
        ...base,
        total: wait.total,
        running: wait.active,
        notStarted: wait.total - wait.ended - wait.active,
        succeeded: wait.succeeded,
        failed: wait.ended - wait.succeeded,
        toleratedFailures: wait.toleratedFailures,
      };
    default:
      return wait satisfies never;
  }
}
