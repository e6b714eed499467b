/**
 * Submitting a job, shared by SubmitJob and webhook deliveries: the input is checked against
 * `workflowInput` before anything is created, the version is resolved once and pinned.
 */
import { validateValue } from "../definition/json-schema";
import { NotFoundError, ValidationError, unwrap } from "../errors";
import { canonicalUuid, newId } from "../ids";
import { refuseOversizedJson } from "../json-size";
import { IDEMPOTENCY_PRUNE_BATCH, IDEMPOTENCY_WINDOW_MS, MAX_PAYLOAD_BYTES } from "../limits";
import { resolveVersion, type VersionSelector, type WorkflowVersion } from "../registry/versions";
import { findWorkflow, type Workflow } from "../registry/workflows";
import { poolsForWorkflow } from "../registry/resource-pools";
import { parsedDefinition } from "./definition-cache";
import { jobRunStub } from "./naming";

export interface SubmitRequest {
  organizationId: string;
  workflow: { workflowId: string } | { workflowName: string };
  version: VersionSelector;
  input: unknown;
  submittedByUser: string;
  idempotencyKey?: string;
  /** A caller-chosen job id, a UUID (webhook deliveries derive theirs from the delivery id). */
  jobId?: string;
}

/** Creates and starts a job; with an idempotency key seen in the last 24 h, returns that job instead. */
export async function submitJob(env: Env, req: SubmitRequest): Promise<{ jobId: string; created: boolean }> {
  const prepared = await prepareSubmission(env, req);
  let jobId = req.jobId !== undefined ? canonicalJobId(req.jobId) : newId();
  if (req.idempotencyKey !== undefined) jobId = await claimIdempotencyKey(env.DB, req.organizationId, req.idempotencyKey, jobId, Date.now());
  return startSubmission(env, prepared, jobId);
}

/** A submission whose input passed the workflow's schema, with its version pinned; nothing is created yet. */
export interface PreparedSubmission {
  req: SubmitRequest;
  workflow: Workflow;
  version: WorkflowVersion;
}

/**
 * Every check of a submission that can refuse it (size 413, workflow and version 404, input 400),
 * before anything is created: a caller that must claim something before the job starts (a key, a
 * delivery's body) claims it only for a submission that will start.
 */
export async function prepareSubmission(env: Env, req: SubmitRequest): Promise<PreparedSubmission> {
  // Measured on the value, not the request: an inputTransformer can copy a delivery's body twice.
  refuseOversizedJson(req.input, "The job input", MAX_PAYLOAD_BYTES);
  const workflow = await findWorkflow(env.DB, req.organizationId, req.workflow);
  if (!workflow) {
    const name = "workflowId" in req.workflow ? req.workflow.workflowId : req.workflow.workflowName;
    throw new NotFoundError(`Workflow ${name} was not found.`);
  }
  const version = await resolveVersion(env.DB, workflow.workflowId, req.version);
  const definition = parsedDefinition(version.versionId, version.definition);
  const errors = validateValue(definition.definitions, "#/definitions/workflowInput", req.input);
  if (errors.length > 0) throw new ValidationError("The job input violates the workflow's workflowInput schema.", errors);
  return { req, workflow, version };
}

/** Creates and starts the prepared job as `jobId`; a job id that exists is returned as it is. */
export async function startSubmission(env: Env, prepared: PreparedSubmission, jobId: string): Promise<{ jobId: string; created: boolean }> {
  const { req, workflow, version } = prepared;
  const id = canonicalJobId(jobId);
  const pools = await poolsForWorkflow(env.DB, req.organizationId, workflow.workflowId);
  const result = await jobRunStub(env, id).start({
    identity: {
      jobId: id,
      organizationId: req.organizationId,
      workflowId: workflow.workflowId,
      workflowName: workflow.name,
      versionId: version.versionId,
      versionNumber: version.versionNumber,
      submittedByUser: req.submittedByUser,
      runNumber: 1,
      rootJobId: id,
      depth: 0,
      createdAt: Date.now(),
      ...(pools.length > 0 ? { resourcePoolIds: pools } : {}),
    },
    definition: version.definition,
    executionData: { workflowInput: req.input },
  });
  return unwrap(result);
}

/**
 * Binds the key to `jobId` unless a live binding exists, in one statement: concurrent submissions
 * with the same key all get the first job's id. Returns the id the key is bound to.
 * The same round trip deletes a bounded batch of expired keys (of any organization), so the
 * table holds about one window's worth of keys instead of growing forever.
 */
async function claimIdempotencyKey(db: D1Database, organizationId: string, key: string, jobId: string, now: number): Promise<string> {
  const expiredBefore = now - IDEMPOTENCY_WINDOW_MS;
  const [, claimed] = await db.batch<{ job_id: string }>([
    db
      .prepare(
        `DELETE FROM idempotency_keys WHERE rowid IN
           (SELECT rowid FROM idempotency_keys WHERE created_at < ? ORDER BY created_at LIMIT ?)`,
      )
      .bind(expiredBefore, IDEMPOTENCY_PRUNE_BATCH),
    db
      .prepare(
        `INSERT INTO idempotency_keys (organization_id, idempotency_key, job_id, created_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (organization_id, idempotency_key) DO UPDATE SET job_id = excluded.job_id, created_at = excluded.created_at
           WHERE idempotency_keys.created_at < ?5
         RETURNING job_id`,
      )
      .bind(organizationId, key, jobId, now, expiredBefore),
  ]);
  const row = claimed?.results[0];
  if (row) return row.job_id;
  const existing = await db
    .prepare(`SELECT job_id FROM idempotency_keys WHERE organization_id = ? AND idempotency_key = ?`)
    .bind(organizationId, key)
    .first<{ job_id: string }>();
  return existing!.job_id;
}

/** A job id in its one spelling (lower case): every spelling of an id must reach the same Durable Object. */
function canonicalJobId(jobId: string): string {
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
