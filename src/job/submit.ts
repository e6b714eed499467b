/**
 * Submitting a job, shared by SubmitJob and webhook deliveries: the input is checked against
 * `workflowInput` before anything is created, the version is resolved once and pinned.
 */
import { validateWorkflowInput } from "../definition/json-schema";
import { NotFoundError, ValidationError, unwrap, type RpcResult } from "../errors";
import { canonicalUuid, newId } from "../ids";
import { refuseOversizedJson } from "../json-size";
import { MAX_PAYLOAD_BYTES } from "../limits";
import { resolveSubmissionTarget, type PinnedVersion, type SubmissionTarget, type WorkflowRef } from "../registry/submission-target";
import type { VersionSelector } from "../registry/versions";
import type { Workflow } from "../registry/workflows";
import { newJobState } from "../engine/state";
import { logEvent } from "../log";
import { indexEntry, indexRefOf } from "../job-index/entry";
import { claimIdempotencyKeys, forgetUnstarted, writeIndex } from "../job-index/shards";
import { startOnDemand } from "../intake/on-demand";
import { parsedDefinition } from "./definition-cache";
import type { StartJob } from "./messages";
import { jobRunStub } from "./naming";

export interface SubmitRequest {
  organizationId: string;
  workflow: WorkflowRef;
  version: VersionSelector;
  input: unknown;
  submittedByUser: string;
  idempotencyKey?: string;
  /** A caller-chosen job id, a UUID (webhook deliveries derive theirs from the delivery id). */
  jobId?: string;
  /** The schedule whose firing this is: shown in GetJob and ListJobs, and filtered on. */
  scheduleId?: string;
  /** The firing's nominal fire time (ms), shown beside scheduleId; the input is left as it is. */
  scheduledAt?: number;
  /** The webhook trigger whose delivery this is: shown in GetJob and ListJobs. */
  triggerId?: string;
  /** The API token that submits the job: shown in GetJob and ListJobs. */
  apiAuthTokenId?: string;
}

/**
 * How a submission's job begins: its Durable Object started at once (`direct`), or its start
 * accepted by an intake that starts it moments later (src/intake/submit.ts). Either way the job's
 * first index row (`PENDING`) is written by the time `begin` answers, so the job is listed as soon
 * as its submission is. `newJobId` proposes the id of a job that names none.
 */
export interface Beginning {
  newJobId(): string;
  begin(env: Env, start: StartJob): Promise<RpcResult<{ jobId: string; created: boolean }>>;
}

/**
 * The job's object is created and started on the request's path, and its first index row written
 * beside the start rather than after it (one round trip, not two); the object writes its later rows
 * from its alarm.
 */
export const direct: Beginning = {
  newJobId: newId,
  async begin(env, start) {
    const id = start.identity.jobId;
    const ref = indexRefOf(start.identity);
    const [started, indexed] = await Promise.allSettled([
      jobRunStub(env, id).start(start),
      writeIndex(env, ref, [indexEntry(newJobState(start.identity, start.identity.createdAt))]),
    ]);
    if (started.status === "rejected") {
      // Nothing was created: take back the row that would list a job that does not exist.
      if (indexed.status === "fulfilled") await forgetUnstarted(env, ref, [id]).catch(() => undefined);
      throw started.reason;
    }
    // The job exists either way: its Durable Object writes its own row from its alarm.
    if (indexed.status === "rejected") logEvent("submit.indexDeferred", { jobId: id, error: String(indexed.reason) });
    return started.value;
  },
};

/** Creates and starts a job; with an idempotency key seen in the last 24 h, returns that job instead. */
export async function submitJob(env: Env, req: SubmitRequest, via: Beginning = direct): Promise<{ jobId: string; created: boolean }> {
  const prepared = await prepareSubmission(env, req);
  let jobId = req.jobId !== undefined ? canonicalJobId(req.jobId) : via.newJobId();
  if (req.idempotencyKey !== undefined) {
    const ref = { organizationId: req.organizationId, shards: prepared.indexShards ?? 1 };
    const proposed = jobId;
    const bound = await claimIdempotencyKeys(env, ref, [{ key: req.idempotencyKey, jobId }], Date.now());
    jobId = bound.get(req.idempotencyKey)!;
    // The key is another submission's: if that job was accepted and not started yet (a batch's), its
    // holder starts it with its own input first; the start below then finds it and answers it.
    if (jobId !== proposed) await startOnDemand(env, req.organizationId, jobId);
  }
  return startSubmission(env, prepared, jobId, via);
}

/** A submission whose input passed the workflow's schema, with its version pinned; nothing is created yet. */
export interface PreparedSubmission {
  req: SubmitRequest;
  workflow: Workflow;
  version: PinnedVersion;
  /** The resource pools the job waits for, sorted (none: it starts at once). */
  resourcePoolIds?: string[];
  /** The shard count of the organization's job index (absent: 1). */
  indexShards?: number;
}

/**
 * Every check of a submission that can refuse it (size 413, workflow and version 404, input 400),
 * before anything is created: a caller that must claim something before the job starts (a key, a
 * delivery's body) claims it only for a submission that will start.
 */
export async function prepareSubmission(env: Env, req: SubmitRequest): Promise<PreparedSubmission> {
  // Measured on the value, not the request: an inputTransformer can copy a delivery's body twice.
  refuseOversizedJson(req.input, "The job input", MAX_PAYLOAD_BYTES);
  return checkedSubmission(req, await resolveSubmissionTarget(env.DB, req.organizationId, req.workflow, req.version));
}

/** The submission with its target, once its input passed the workflow's `workflowInput` schema. */
export function checkedSubmission(req: SubmitRequest, target: SubmissionTarget): PreparedSubmission {
  const definition = parsedDefinition(target.version.versionId, target.version.definition);
  const errors = validateWorkflowInput(definition.definitions, req.input);
  if (errors.length > 0) throw new ValidationError("The job input violates the workflow's workflowInput schema.", errors);
  return { req, ...target };
}

/**
 * Creates and starts the prepared job as `jobId` (`via` an intake: accepts it durably to start);
 * a job id that exists is returned as it is.
 */
export async function startSubmission(
  env: Env,
  prepared: PreparedSubmission,
  jobId: string,
  via: Beginning = direct,
): Promise<{ jobId: string; created: boolean }> {
  const start = jobStart(prepared, canonicalJobId(jobId), Date.now());
  return unwrap(await via.begin(env, start));
}

/** The start of a top-level job, run 1 of itself. */
export function jobStart(prepared: PreparedSubmission, jobId: string, createdAt: number): StartJob {
  const { req, workflow, version } = prepared;
  return {
    identity: {
      jobId,
      organizationId: req.organizationId,
      workflowId: workflow.workflowId,
      workflowName: workflow.name,
      versionId: version.versionId,
      versionNumber: version.versionNumber,
      submittedByUser: req.submittedByUser,
      runNumber: 1,
      rootJobId: jobId,
      depth: 0,
      createdAt,
      ...(req.scheduleId ? { scheduleId: req.scheduleId } : {}),
      ...(req.scheduledAt !== undefined ? { scheduledAt: req.scheduledAt } : {}),
      ...(req.triggerId ? { triggerId: req.triggerId } : {}),
      ...(req.apiAuthTokenId ? { apiAuthTokenId: req.apiAuthTokenId } : {}),
      ...(prepared.resourcePoolIds?.length ? { resourcePoolIds: prepared.resourcePoolIds } : {}),
      ...(prepared.indexShards !== undefined && prepared.indexShards > 1 ? { indexShards: prepared.indexShards } : {}),
    },
    definition: version.definition,
    executionData: { workflowInput: req.input },
  };
}

/** A job id in its one spelling (lower case): every spelling of an id must reach the same Durable Object. */
export function canonicalJobId(jobId: string): string {
  const id = canonicalUuid(jobId);
  if (id === null) throw new Error(`A job id must be a UUID, not ${JSON.stringify(jobId)}.`);
  return id;
}

/** The stub of a job's run, or 404 for an id that cannot be a job; any case of a job's id reaches it. */
export function jobStubFor(env: Env, jobId: string) {
  const id = canonicalUuid(jobId);
  if (id === null) throw new NotFoundError(`Job ${jobId} was not found.`);
  return jobRunStub(env, id);
}
