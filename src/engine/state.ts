/** A job run's initial control row. */
import type { JobIdentity, JobState } from "./types";

/** The control row of a run that has been created and not yet started. */
export function newJobState(identity: JobIdentity, at: number): JobState {
  return {
    identity,
    status: "PENDING",
    updatedAt: at,
    attemptCounters: {},
    ownUnits: 0,
    childUnits: 0,
    priorRunUnits: 0,
    indexSeq: 0,
    historyCount: 0,
    retiredChildRows: 0,
    inlineSteps: 0,
  };
}
