/**
 * continueAsNew on the Durable Object side: creating the next run of a job, pointing the job's
 * head (run 1) at it, and forwarding calls that reach a run which has handed over.
 *
 * Crash safety: a run commits `continuedAs` and a work item in one transaction. Creating the next
 * run is idempotent (its object is named by job id and run number, and `start` on an existing run
 * returns it), so a crash anywhere in between redoes the work and never starts two runs.
 *
 * The StartJob message is small whatever the run holds: the next run is created holding nothing,
 * then receives its execution data (references and all), the child rows those references read and
 * the unused events from this run in bounded batches (inheritance.ts), and takes its first step
 * only once it has them. So creating it never fails for size, and neither does any call that
 * reaches this run and is passed on to it (`liveRun`).
 */
import type { Continuation, EngineEvent, JobState } from "../engine/types";
import { ApiError, type RpcResult } from "../errors";
import { INHERIT_BATCHES_PER_PASS } from "../limits";
import { resolveVersion } from "../registry/versions";
import type { InheritanceBatch, StartJob } from "./messages";
import { jobRunStub } from "./naming";
import type { JobStore } from "./store";

/** The StartJob message of the run that continues `state`. */
export async function nextRunStart(db: D1Database, state: JobState, definition: string, c: Continuation): Promise<StartJob> {
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
      return { identity, definition: text, executionData: {}, continuation: c, rejectWith: error };
    }
  }
  // Small whatever this run holds: the next run receives its inheritance in batches (inheritance.ts).
  return { identity, definition: text, executionData: {}, continuation: c };
}

/**
 * Creates the next run (idempotently) and points the job's head at it; `followLocally` is the
 * head's own pointer update when the run handing over is the head itself.
 */
export async function ensureNextRun(env: Env, state: JobState, definition: string, followLocally: (run: number) => Promise<void>): Promise<number> {
  const c = state.continuedAs!;
  const init = await nextRunStart(env.DB, state, definition, c);
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
    ...(c.pause ? { pause: c.pause } : {}),
    ...(c.attemptCounters ? { attemptCounters: { ...c.attemptCounters } } : {}),
    // Where a run cancelled before its first step resumes.
    resumeStepName: c.nextStep,
  };
}

/**
 * A continued run's `inherit` work: it receives what it inherits from the run before, a batch at a
 * time, each batch and the cursor after it in one commit (a crash goes on from the last); with all
 * of it, it applies its first event (its start) through `apply`, clearing the pending inheritance
 * (and keeping the run's start data, time-travel-rows.ts) in the same commit, before the decision.
 * A run whose predecessor no longer holds its rows fails, saying so, rather than asking for ever.
 */
export async function receiveInheritance(env: Env, store: JobStore, jobId: string, apply: (event: EngineEvent, before: () => void) => void): Promise<void> {
  const pending = store.inheritance.pending();
  if (!pending) return;
  const from = jobRunStub(env, jobId, pending.fromRun);
  let { cursor, first } = pending;
  for (let i = 0; cursor && i < INHERIT_BATCHES_PER_PASS; i++) {
    const batch = (await from.inheritanceBatch(cursor)) as RpcResult<InheritanceBatch>;
    if (!batch.ok) {
      const message = `Run ${pending.fromRun} no longer holds what this run inherits (${batch.error.code}: ${batch.error.message}).`;
      first = { type: "reject", error: { code: "INHERITANCE_LOST", message }, at: 0 };
      cursor = null;
      break;
    }
    cursor = batch.value.next;
    const next = { ...pending, cursor, first };
    store.transaction(() => {
      store.inheritance.write(batch.value.entries);
      store.inheritance.setPending(next);
    });
  }
  if (cursor) {
    // More to come: the work item is queued again (its version grows, so this pass does not remove it).
    store.queue.enqueue({ id: "inherit", kind: "inherit", payload: null, dueAt: Date.now(), coalesce: true });
    return;
  }
  // Completed before the first decision writes anything, so the start kept is the data as inherited;
  // a run that lost its inheritance keeps no start (it has only part of it).
  const { keepStart, ...rest } = pending;
  const done = { ...rest, cursor, first, ...(keepStart && first.type !== "reject" ? { keepStart } : {}) };
  apply({ ...first, at: Date.now() }, () => store.inheritance.complete(done));
}
