/** A job run's initial state. */
import type { JobIdentity, JobState } from "./types";

/** The state of a run that has been created and not yet started. */
export function newJobState(identity: JobIdentity, executionData: Record<string, unknown>, at: number): JobState {
  return {
    identity,
    status: "PENDING",
    updatedAt: at,
    executionData,
    events: {},
    attemptCounters: {},
    ownUnits: 0,
    childUnits: {},
    priorRunUnits: 0,
    indexSeq: 0,
    historyCount: 0,
    inlineSteps: 0,
  };
}
