/**
 * Submitting a job, shared by SubmitJob and webhook deliveries: the input is checked against
 * `workflowInput` before anything is created, the version is resolved once and pinned.
 */
import { validateWorkflowInput } from "../definition/json-schema";
import { NotFoundError, ValidationError, unwrap, type RpcResult } from "../errors";
import { canonicalUuid, newId } from "../ids";
import { refuseOversizedJson } from "../json-size";
import { IDEMPOTENCY_PRUNE_BATCH, IDEMPOTENCY_WINDOW_MS, MAX_PAYLOAD_BYTES } from "../limits";
import { resolveSubmissionTarget, type PinnedVersion, type SubmissionTarget, type WorkflowRef } from "../registry/submission-target";
import type { VersionSelector } from "../registry/versions";
import type { Workflow } from "../registry/workflows";
import { newJobState } from "../engine/state";
import { logEvent } from "../log";
import { forgetUnstartedJob, upsertJobIndex } from "../registry/jobs";
import { parsedDefinition } from "./definition-cache";
import type { StartJob } from "./messages";
import { jobSummary } from "./views";
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
 * accepted by an intake that starts it moments later (src/intake/submit.ts). `newJobId` proposes
 * the id of a job that names none.
 */
export interface Beginning {
  newJobId(): string;
  begin(env: Env, start: StartJob): Promise<RpcResult<{ jobId: string; created: boolean }>>;
  /** `begin` also writes the job's first index row (an intake writes a group's rows together). */
  lists?: boolean;
}

/** The job's object is created and started on the request's path. */
export const direct: Beginning = { newJobId: newId, begin: (env, start) => jobRunStub(env, start.identity.jobId).start(start) };

/** Creates and starts a job; with an idempotency key seen in the last 24 h, returns that job instead. */
export async function submitJob(env: Env, req: SubmitRequest, via: Beginning = direct): Promise<{ jobId: string; created: boolean }> {
  const prepared = await prepareSubmission(env, req);
  let jobId = req.jobId !== undefined ? canonicalJobId(req.jobId) : via.newJobId();
  if (req.idempotencyKey !== undefined) {
    const bound = await claimIdempotencyKeys(env.DB, req.organizationId, [{ key: req.idempotencyKey, jobId }], Date.now());
    jobId = bound.get(req.idempotencyKey)!;
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
 * a job id that exists is returned as it is. The job's first index row is written here, beside the
 * start rather than after it, so SubmitJob costs one round trip where it cost two, and the job is
 * listed as soon as SubmitJob answers.
 */
export async function startSubmission(
  env: Env,
  prepared: PreparedSubmission,
  jobId: string,
  via: Beginning = direct,
): Promise<{ jobId: string; created: boolean }> {
  const id = canonicalJobId(jobId);
  const start = jobStart(prepared, id, Date.now());
  const [started, indexed] = await Promise.allSettled([
    via.begin(env, start),
    via.lists ? undefined : upsertJobIndex(env.DB, prepared.req.organizationId, jobSummary(newJobState(start.identity, start.identity.createdAt)), 0),
  ]);
  if (started.status === "rejected") {
    // Nothing was created: take back the row that would list a job that does not exist.
    if (indexed.status === "fulfilled") await forgetUnstartedJob(env.DB, id).catch(() => undefined);
    throw started.reason;
  }
  // The job exists either way: its Durable Object writes its own row from its alarm.
  if (indexed.status === "rejected") logEvent("submit.indexDeferred", { jobId: id, error: String(indexed.reason) });
  return unwrap(started.value);
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
    },
    definition: version.definition,
    executionData: { workflowInput: req.input },
  };
}

/**
 * Binds each key to its proposed job id unless a live binding exists, in one D1 round trip:
 * concurrent submissions with the same key all get the first job's id. Returns, for every key,
 * the id it is bound to. The same round trip deletes a bounded batch of expired keys (of any
 * organization), so the table holds about one window's worth of keys instead of growing forever.
 */
export async function claimIdempotencyKeys(
  db: D1Database,
  organizationId: string,
  claims: { key: string; jobId: string }[],
  now: number,
): Promise<Map<string, string>> {
  const expiredBefore = now - IDEMPOTENCY_WINDOW_MS;
  const [, , bound] = await db.batch<{ idempotency_key: string; job_id: string }>([
    db
      .prepare(
        `DELETE FROM idempotency_keys WHERE rowid IN
           (SELECT rowid FROM idempotency_keys WHERE created_at < ? ORDER BY created_at LIMIT ?)`,
      )
      .bind(expiredBefore, IDEMPOTENCY_PRUNE_BATCH),
    // "WHERE true" tells SQLite that ON CONFLICT belongs to the INSERT, not to the SELECT's join.
    db
      .prepare(
        `INSERT INTO idempotency_keys (organization_id, idempotency_key, job_id, created_at)
         SELECT ?1, json_extract(value, '$.key'), json_extract(value, '$.jobId'), ?2 FROM json_each(?3) WHERE true
         ON CONFLICT (organization_id, idempotency_key) DO UPDATE SET job_id = excluded.job_id, created_at = excluded.created_at
           WHERE idempotency_keys.created_at < ?4`,
      )
      .bind(organizationId, now, JSON.stringify(claims), expiredBefore),
    db
      .prepare(
        `SELECT idempotency_key, job_id FROM idempotency_keys
         WHERE organization_id = ?1 AND idempotency_key IN (SELECT json_extract(value, '$.key') FROM json_each(?2))`,
      )
      .bind(organizationId, JSON.stringify(claims)),
  ]);
  return new Map(bound!.results.map((r) => [r.idempotency_key, r.job_id]));
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
