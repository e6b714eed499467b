/** Job status helpers. */
import { TERMINAL_STATUSES, type JobState, type JobStatus } from "./types";

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** billableTransactionUnits: this run's attempts, earlier runs', and every descendant's. */
export function totalUnits(state: JobState): number {
  return state.ownUnits + state.priorRunUnits + state.childUnits;
}
