/**
 * RerunJob: a NEW job of the source's workflow, on the source's version or another, that begins at
 * `fromStep` with the source's execution data as it stood when that step last began. The steps
 * before it do not run again; their outputs are copied, runChildJob results with the child rows
 * they are assembled from, so no child of an earlier step runs again either. The source is untouched.
 *
 * Three objects take part: the source's (it checks and plans, src/job/rerun-source.ts), the new
 * job's (it copies from the source page by page and starts, src/job/rerun-target.ts), and whoever
 * asks (the Worker for RerunJob, a RerunBatch object for RerunJobs).
 *
 * The new job's id is derived from (source, version, fromStep, and the new input when `inputJson`
 * replaces it): asking again, by RerunJob or RerunJobs, reaches the same job, which answers as it is
 * and starts nothing. An `idempotencyKey` is honoured as SubmitJob honours it, besides.
 */
import { validateWorkflowInput } from "../definition/json-schema";
import { newJobState } from "../engine/state";
import type { JobIdentity, JobSummary } from "../engine/types";
import { ConflictError, NotFoundError, ValidationError, unwrap, type RpcResult } from "../errors";
import { canonicalUuid, deterministicId } from "../ids";
import { refuseOversizedJson } from "../json-size";
import { MAX_PAYLOAD_BYTES } from "../limits";
import { logEvent } from "../log";
import { indexEntry, indexRefOf } from "../job-index/entry";
import type { IndexEntry } from "../job-index/messages";
import { claimIdempotencyKeys, findIndexedJob, writeIndex, type IndexRef } from "../job-index/shards";
import { organizationIndex } from "../registry/organizations";
import { resolveSubmissionTarget, type SubmissionTarget } from "../registry/submission-target";
import type { VersionSelector } from "../registry/versions";
import { parsedDefinition } from "./definition-cache";
import { jobRunStub } from "./naming";
import type { RerunAnswer, RerunPlan } from "./rerun-types";
import { jobStubFor } from "./submit";

/** One rerun to make: its source, the version it runs, and what replaces what. */
export interface RerunOrder {
  organizationId: string;
  submittedByUser: string;
  sourceJobId: string;
  target: SubmissionTarget;
  fromStep?: string;
  /** The new workflowInput (`inputJson`), already checked against the target's schema. */
  input?: { value: unknown };
  idempotencyKey?: string;
  /** RerunJobs: see RerunRequest.onlyLatest. */
  onlyLatest?: boolean;
}

/** A rerun made (or found): its id, and the first index row of one made now. */
export interface RerunOutcome {
  jobId: string;
  fromStep: string;
  /** The new job's first index row and where it goes, when this call created it (the caller writes it to the index). */
  created?: { ref: IndexRef; entry: IndexEntry };
}

/** RerunJob: checks the request, makes the rerun, and lists it. */
export async function rerunJob(
  env: Env,
  req: { organizationId: string; submittedByUser: string; sourceJobId: string; fromStep?: string; version?: VersionSelector; input?: { value: unknown }; idempotencyKey?: string },
): Promise<{ jobId: string }> {
  const source = await sourceSummary(env, req.organizationId, req.sourceJobId);
  const target = await resolveSubmissionTarget(env.DB, req.organizationId, { workflowId: source.workflowId }, req.version ?? { versionId: source.workflowVersion.versionId });
  if (req.input) checkInput(target, req.input.value);
  const outcome = await makeRerun(env, { ...req, sourceJobId: source.jobId, target });
  if (outcome.created) {
    // Listed as soon as RerunJob answers; if this write fails, the job's own alarm writes the row.
    await writeIndex(env, outcome.created.ref, [outcome.created.entry]).catch((e: unknown) => logEvent("rerun.indexDeferred", { jobId: outcome.jobId, error: String(e) }));
  }
  return { jobId: outcome.jobId };
}

/** The source's summary: 404 for an unknown job, 409 for one accepted and not started (it has not ended). */
async function sourceSummary(env: Env, organizationId: string, jobId: string): Promise<JobSummary> {
  // Its output is not needed here: a fan-out's results are not read for a summary.
  const described = (await jobStubFor(env, jobId).describe(organizationId, false)) as RpcResult<JobSummary>;
  if (described.ok || described.error.code !== "NotFoundError") return unwrap(described);
  const id = canonicalUuid(jobId);
  const indexed = id === null ? null : await findIndexedJob(env, await organizationIndex(env.DB, organizationId), id);
  if (indexed && !indexed.started) throw new ConflictError(`Job ${jobId} has not started yet; only a job that has ended can be rerun.`);
  throw new NotFoundError(`Job ${jobId} was not found.`);
}

/** `inputJson` is checked as SubmitJob checks it: size, then the target version's workflowInput schema. */
function checkInput(target: SubmissionTarget, input: unknown): void {
  refuseOversizedJson(input, "The job input", MAX_PAYLOAD_BYTES);
  const errors = validateWorkflowInput(parsedDefinition(target.version.versionId, target.version.definition).definitions, input);
  if (errors.length > 0) throw new ValidationError("The job input violates the workflow's workflowInput schema.", errors);
}

/**
 * Makes one rerun (RerunJob and each of RerunJobs): the source checks and plans it, then the new
 * job's object copies and starts. Throws the ApiError the caller answers; nothing is created when
 * the source refuses.
 */
export async function makeRerun(env: Env, order: RerunOrder): Promise<RerunOutcome> {
  const { organizationId, target } = order;
  const answer = unwrap(
    (await jobStubFor(env, order.sourceJobId).planRerun(organizationId, {
      ...(order.fromStep !== undefined ? { fromStep: order.fromStep } : {}),
      target: { versionId: target.version.versionId, versionNumber: target.version.versionNumber, definition: target.version.definition },
      replacesInput: order.input !== undefined,
      ...(order.onlyLatest ? { onlyLatest: true } : {}),
    })) as RpcResult<RerunAnswer>,
  );
  if ("existing" in answer) return { jobId: answer.existing.jobId, fromStep: answer.existing.fromStep };
  const { plan } = answer;
  let jobId = await rerunJobId(plan.source.jobId, target.version.versionId, plan.fromStep, order.input);
  if (order.idempotencyKey !== undefined) {
    const ref = { organizationId, shards: target.indexShards ?? 1 };
    const bound = (await claimIdempotencyKeys(env, ref, [{ key: order.idempotencyKey, jobId }], Date.now())).get(order.idempotencyKey)!;
    // The key names a job of an earlier request: that job is the answer, and nothing starts.
    if (bound !== jobId) return { jobId: bound, fromStep: plan.fromStep };
    jobId = bound;
  }
  const identity = rerunIdentity(order, plan, jobId, Date.now());
  const started = unwrap(
    (await jobRunStub(env, jobId).startRerun({ identity, definition: target.version.definition, plan, ...(order.input ? { input: order.input } : {}) })) as RpcResult<{
      created: boolean;
    }>,
  );
  const created = started.created ? { created: { ref: indexRefOf(identity), entry: indexEntry(newJobState(identity, identity.createdAt)) } } : {};
  return { jobId, fromStep: plan.fromStep, ...created };
}

/**
 * The rerun's job id: the same source, version, step and (replacing) input always name the same
 * job, so a rerun asked for twice, by either operation, is made once.
 */
export function rerunJobId(sourceJobId: string, versionId: string, fromStep: string, input: { value: unknown } | undefined): Promise<string> {
  return deterministicId("rerun", sourceJobId, versionId, fromStep, ...(input ? [JSON.stringify(input.value)] : []));
}

/** A top-level job of the target version, submitted by the caller, that says what it reruns. */
function rerunIdentity(order: RerunOrder, plan: RerunPlan, jobId: string, now: number): JobIdentity {
  const { workflow, version, resourcePoolIds, indexShards } = order.target;
  return {
    jobId,
    organizationId: order.organizationId,
    workflowId: workflow.workflowId,
    workflowName: workflow.name,
    versionId: version.versionId,
    versionNumber: version.versionNumber,
    submittedByUser: order.submittedByUser,
    runNumber: 1,
    rootJobId: jobId,
    depth: 0,
    createdAt: now,
    ...(resourcePoolIds?.length ? { resourcePoolIds } : {}),
    ...(indexShards !== undefined && indexShards > 1 ? { indexShards } : {}),
    rerunOf: { jobId: plan.source.jobId, fromStep: plan.fromStep },
  };
}
