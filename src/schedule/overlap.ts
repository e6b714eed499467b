/**
 * PURE: what a firing does, given the overlap policy and the previous firing's job. The schedule's
 * object reads the job's status, calls this, and records the outcome in one transaction.
 */
import type { JobStatus } from "../engine/types";
import type { OverlapPolicy } from "./spec";

/** A firing still waiting to start: BUFFER_ONE's buffer, or CANCEL_OTHER's replacement. */
export interface WaitingFiring {
  seq: number;
  waitFor?: string;
  waitForTree: boolean;
}

export interface OverlapInput {
  policy: OverlapPolicy;
  pauseOnFailure: boolean;
  /** The job of the latest started firing, and its status now (undefined: none, or no such job). */
  lastJobId?: string;
  lastJobStatus?: JobStatus;
  waiting: WaitingFiring[];
}

export type OverlapDecision =
  | { start: false; reason: string; pause: boolean; supersede: number[] }
  | {
      start: true;
      /** Cancel this job first (CANCEL_OTHER, TERMINATE_OTHER). */
      cancelJobId?: string;
      /** Start only once this job has ended, with its whole tree when `waitForTree`. */
      waitFor?: string;
      waitForTree: boolean;
      /** Waiting firings this one replaces: they are skipped. */
      supersede: number[];
    };

const running = (s: JobStatus | undefined) => s === "PENDING" || s === "RUNNING";

/** Decides one firing. */
export function decideOverlap(i: OverlapInput): OverlapDecision {
  if (i.pauseOnFailure && i.lastJobStatus === "FAILED") {
    return { start: false, reason: `Paused because job ${i.lastJobId} failed (pauseOnFailure).`, pause: true, supersede: [] };
  }
  const busy = running(i.lastJobStatus) && i.lastJobId !== undefined;
  switch (i.policy) {
    case "ALLOW_ALL":
      return { start: true, waitForTree: false, supersede: [] };
    case "SKIP":
      return busy ? { start: false, reason: `job ${i.lastJobId} is still running`, pause: false, supersede: [] } : { start: true, waitForTree: false, supersede: [] };
    case "BUFFER_ONE":
      if (i.waiting.length > 0) return { start: false, reason: "a firing is already buffered", pause: false, supersede: [] };
      return busy ? { start: true, waitFor: i.lastJobId!, waitForTree: false, supersede: [] } : { start: true, waitForTree: false, supersede: [] };
    case "CANCEL_OTHER":
    case "TERMINATE_OTHER": {
      // This firing replaces any earlier one still waiting, and inherits what it waited for.
      const supersede = i.waiting.map((w) => w.seq);
      if (busy) return { start: true, cancelJobId: i.lastJobId!, waitForTree: i.policy === "CANCEL_OTHER", supersede };
      const inherited = i.waiting.find((w) => w.waitFor !== undefined);
      return inherited ? { start: true, waitFor: inherited.waitFor!, waitForTree: inherited.waitForTree, supersede } : { start: true, waitForTree: false, supersede };
    }
  }
}
