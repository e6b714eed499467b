/**
 * continueAsNew on the Durable Object side: creating the next run of a job, pointing the job's
 * head (run 1) at it, and forwarding calls that reach a run which has handed over.
 *
 * Crash safety: a run commits `continuedAs` and a work item in one transaction. Creating the next
 * run is idempotent (its object is named by job id and run number, and `start` on an existing run
 * returns it), so a crash anywhere in between redoes the work and never starts two runs.
 */
import { childResults } from "../engine/overlay";
import type { Continuation, JobState, ReceivedEvent } from "../engine/types";
import { ApiError } from "../errors";
import { resolveVersion } from "../registry/versions";
import type { StartJob } from "./messages";
import { jobRunStub } from "./naming";
import type { JobStore } from "./store";

/** What the next run inherits from this run's rows: its execution data and unused events. */
export interface Inheritance {
  executionData: Record<string, unknown>;
  events: [string, ReceivedEvent][];
}

/** Reads what a run that has handed over passes on (its rows no longer change). */
export function inheritance(store: JobStore, c: Continuation): Inheritance {
  const whole = (key: string): unknown => {
    const stored = store.data(key);
    if (!stored) return undefined;
    return "value" in stored ? stored.value : childResults(store.children(stored.ref.children.stepName, stored.ref.children.attempt));
  };
  const executionData: Record<string, unknown> = {};
  const keys = c.carry === "all" ? store.dataKeys() : [];
  for (const key of keys) Object.defineProperty(executionData, key, { value: whole(key), enumerable: true, writable: true, configurable: true });
  if (c.carry !== "all") executionData.workflowInput = whole(c.carry.workflowInputFrom);
  return { executionData, events: store.unconsumedEvents() };
}

/** The StartJob message of the run that continues `state`. */
export async function nextRunStart(db: D1Database, state: JobState, definition: string, c: Continuation, from: Inheritance): Promise<StartJob> {
  const id = state.identity;
  let identity = { ...id, runNumber: c.toRun };
  let text = definition;
  if (c.version !== "same") {
    // A looping job moves onto the tag's current version at its rollover.
    try {
      const version = await resolveVersion(db, id.workflowId, c.version);
      identity = { ...identity, versionId: version.versionId, versionNumber: version.versionNumber };
      text = version.definition;
    } catch (e) {
      // A tag that no longer resolves fails the job in its next run, for everyone to see.
      if (!(e instanceof ApiError)) throw e;
      const error = { code: e.code, message: `continueAsNew could not resolve ${c.version.tag}: ${e.message}` };
      return { identity, definition: text, ...from, continuation: c, rejectWith: error };
    }
  }
  return { identity, definition: text, ...from, continuation: c };
}

/**
 * Creates the next run (idempotently) and points the job's head at it; `followLocally` is the
 * head's own pointer update when the run handing over is the head itself.
 */
export async function ensureNextRun(env: Env, state: JobState, definition: string, store: JobStore, followLocally: (run: number) => Promise<void>): Promise<number> {
  const c = state.continuedAs!;
  const init = await nextRunStart(env.DB, state, definition, c, inheritance(store, c));
  const result = await jobRunStub(env, state.identity.jobId, c.toRun).start(init);
  if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`);
  if (state.identity.runNumber === 1) await followLocally(c.toRun);
  else await jobRunStub(env, state.identity.jobId, 1).followRun(c.toRun);
  return c.toRun;
}

/** The state of a run started as the continuation of an earlier one. */
export function continuedState(fresh: JobState, c: Continuation): JobState {
  return {
    ...fresh,
    ...(c.previousStepName ? { previousStepName: c.previousStepName } : {}),
    priorRunUnits: c.priorRunUnits,
    indexSeq: c.indexSeq,
    ...(c.startedAt !== undefined ? { startedAt: c.startedAt } : {}),
    // The job's leases are held by its id, not by a run: the next run holds them on.
    ...(c.admission ? { admission: c.admission } : {}),
  };
}
