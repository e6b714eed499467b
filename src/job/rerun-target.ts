/**
 * The new job's side of a rerun (src/job/rerun.ts), run inside its object before the run exists:
 * it copies the plan's values and child rows from the source run, one bounded RPC and one commit per
 * page, and then the object creates the run over them. The run has no control row until then, so an
 * interrupted copy leaves nothing anyone can see, and a retry starts the copy over.
 */
import type { JobState } from "../engine/types";
import { newJobState } from "../engine/state";
import { unwrap, type RpcResult } from "../errors";
import { jobRunStub } from "./naming";
import type { StartJob } from "./messages";
import type { ChildRowCopy, RerunMade, RerunStart } from "./rerun-types";
import type { WorkQueue } from "./work-queue";
import type { TimeTravelRows } from "./time-travel-rows";

/** Copies the plan's data into this object's rows (the run is created afterwards). */
export async function copyFromSource(env: Env, rows: TimeTravelRows, init: RerunStart): Promise<void> {
  const { plan } = init;
  const organizationId = init.identity.organizationId;
  const source = jobRunStub(env, plan.source.jobId, plan.source.runNumber);
  rows.clearCopy();
  rows.writeData([], plan.refs);
  for (const page of plan.pages) {
    if ("values" in page) {
      const texts = unwrap((await source.rerunValues(organizationId, page.values.map((v) => v.from))) as RpcResult<string[]>);
      rows.writeData(
        page.values.map((v, i) => ({ key: v.key, json: texts[i]! })),
        [],
      );
    } else {
      const range = page.children;
      rows.writeChildRows(unwrap((await source.rerunChildRows(organizationId, range)) as RpcResult<ChildRowCopy[]>));
    }
  }
}

/**
 * What the object creates the rerun's run from, over the copied rows: its control row, a job that
 * begins at `fromStep` (as a resumed one begins at its resume step, so a job that waits for a pool's
 * lease first still begins there) with the source's attempt counters and the step that ran before;
 * its start (a replacing input); and the work that tells the source it was rerun (owed, so that
 * is never lost; RerunJobs reads it).
 */
export function rerunRun(init: RerunStart, now: number): { state: JobState; start: StartJob; tellSource: Parameters<WorkQueue["enqueue"]>[0] } {
  const { plan, identity } = init;
  const state: JobState = {
    ...newJobState(identity, now),
    attemptCounters: { ...plan.attemptCounters },
    resumeStepName: plan.fromStep,
    ...(plan.previousStepName !== undefined ? { previousStepName: plan.previousStepName } : {}),
  };
  const start: StartJob = { identity, definition: init.definition, executionData: init.input ? { workflowInput: init.input.value } : {} };
  const made: RerunMade = { jobId: identity.jobId, versionId: identity.versionId, versionNumber: identity.versionNumber, fromStep: plan.fromStep };
  return { state, start, tellSource: { id: "rerun-made", kind: "rerunMade", payload: { source: plan.source, made }, dueAt: now } };
}
