/**
 * Building a child job: each child resolves its own workflow version (a tag at the moment the
 * child is created) and is checked against its own workflowInput. A child that cannot run is
 * still created, FAILED, so that it shows in the parent's childJobs.
 */
import { validateWorkflowInput } from "../definition/json-schema";
import { problemsMessage } from "../engine/error-message";
import type { ChildRow, JobError, JobIdentity, JobState } from "../engine/types";
import { ApiError } from "../errors";
import { resolveVersion, type WorkflowVersion } from "../registry/versions";
import { findWorkflow, type Workflow } from "../registry/workflows";
import { poolsForWorkflow } from "../registry/resource-pools";
import { parsedDefinition } from "./definition-cache";
import type { StartJob } from "./messages";

type Resolved = { ok: true; workflow: Workflow; version: WorkflowVersion } | { ok: false; error: JobError };

/** Resolutions shared by the children of one batch: a forEach of 1,000 reads D1 once. */
export type ResolutionCache = Map<string, Promise<Resolved>>;

async function resolve(db: D1Database, organizationId: string, slot: ChildRow): Promise<Resolved> {
  const workflow = await findWorkflow(db, organizationId, slot.workflowRef);
  const name = slot.workflowRef.workflowName ?? slot.workflowRef.workflowId;
  if (!workflow) return { ok: false, error: { code: "NotFoundError", message: `Workflow ${name} was not found.` } };
  try {
    return { ok: true, workflow, version: await resolveVersion(db, workflow.workflowId, slot.workflowVersion) };
  } catch (e) {
    if (e instanceof ApiError) return { ok: false, error: { code: e.code, message: e.message } };
    throw e;
  }
}

/**
 * The pools a child waits for: its workflow's, except those an ancestor holds a lease in. The
 * child runs under its ancestor's lease there, so a parent that holds a pool's last slot and waits
 * for its children never waits on itself. (The lookup is cached per isolate: a fan-out reads D1 once.)
 */
async function childPools(db: D1Database, parent: JobState, workflowId: string): Promise<Pick<JobIdentity, "resourcePoolIds" | "ancestorPoolIds">> {
  const p = parent.identity;
  const ancestors = [...new Set([...(p.ancestorPoolIds ?? []), ...(p.resourcePoolIds ?? [])])].sort();
  const pools = (await poolsForWorkflow(db, p.organizationId, workflowId)).filter((id) => !ancestors.includes(id));
  return { ...(pools.length > 0 ? { resourcePoolIds: pools } : {}), ...(ancestors.length > 0 ? { ancestorPoolIds: ancestors } : {}) };
}

/** Placeholder definition for a child that never runs. */
const EMPTY_DEFINITION = JSON.stringify({ workflowName: "", steps: [], definitions: {} });

/** The StartJob message that creates the child `slot` of `parent`, with its `input`. */
export async function buildChildStart(
  db: D1Database,
  parent: JobState,
  slot: ChildRow,
  input: unknown,
  cache: ResolutionCache,
  now: number,
): Promise<StartJob> {
  const p = parent.identity;
  const key = JSON.stringify([slot.workflowRef, slot.workflowVersion]);
  let pending = cache.get(key);
  if (!pending) {
    pending = resolve(db, p.organizationId, slot);
    cache.set(key, pending);
  }
  const resolved = await pending;
  const base = {
    jobId: slot.jobId,
    organizationId: p.organizationId,
    submittedByUser: p.submittedByUser,
    runNumber: 1,
    parentJobId: p.jobId,
    parentRunNumber: p.runNumber,
    parentStepName: slot.stepName,
    rootJobId: p.rootJobId,
    depth: p.depth + 1,
    createdAt: now,
    // Where the child sits in its parent's step: the console lists and names children by these, and
    // with the step attempt (when it began) they order it among its siblings in the job index.
    childKey: slot.key,
    childIndex: slot.childIndex,
    ...(parent.current?.name === slot.stepName ? { parentAttemptStartedAt: parent.current.attemptStartedAt } : {}),
    ...(p.indexShards !== undefined ? { indexShards: p.indexShards } : {}),
  };
  const executionData = { workflowInput: input };
  if (!resolved.ok) {
    return {
      identity: { ...base, workflowId: slot.workflowRef.workflowId ?? "", workflowName: slot.workflowRef.workflowName ?? "", versionId: "", versionNumber: 0 },
      definition: EMPTY_DEFINITION,
      executionData,
      rejectWith: resolved.error,
    };
  }
  const { workflow, version } = resolved;
  const identity = {
    ...base,
    workflowId: workflow.workflowId,
    workflowName: workflow.name,
    versionId: version.versionId,
    versionNumber: version.versionNumber,
    ...(await childPools(db, parent, workflow.workflowId)),
  };
  const definition = parsedDefinition(version.versionId, version.definition);
  const errors = validateWorkflowInput(definition.definitions, input);
  return {
    identity,
    definition: version.definition,
    executionData,
    ...(errors.length > 0
      ? { rejectWith: { code: "ValidationError", message: problemsMessage("The child's input violates workflowInput: ", errors) } }
      : {}),
  };
}
