/**
 * Submitting a job, shared by SubmitJob and webhook deliveries: the input is checked against
 * `workflowInput` before anything is created, the version is resolved once and pinned.
 */
import { validateValue } from "../definition/json-schema";
import { NotFoundError, ValidationError, unwrap } from "../errors";
import { isUuid, newId } from "../ids";
import { IDEMPOTENCY_WINDOW_MS } from "../limits";
import { resolveVersion, type VersionSelector } from "../registry/versions";
import { findWorkflow } from "../registry/workflows";
import { parsedDefinition } from "./definition-cache";
import { jobRunStub } from "./naming";

export interface SubmitRequest {
  organizationId: string;
  workflow: { workflowId: string } | { workflowName: string };
  version: VersionSelector;
  input: unknown;
  submittedByUser: string;
  idempotencyKey?: string;
  /** A caller-chosen job id (webhook deliveries derive theirs from the delivery id). */
  jobId?: string;
}

/** Creates and starts a job; with an idempotency key seen in the last 24 h, returns that job instead. */
export async function submitJob(env: Env, req: SubmitRequest): Promise<{ jobId: string; created: boolean }> {
  const workflow = await findWorkflow(env.DB, req.organizationId, req.workflow);
  if (!workflow) {
    const name = "workflowId" in req.workflow ? req.workflow.workflowId : req.workflow.workflowName;
    throw new NotFoundError(`Workflow ${name} was not found.`);
  }
  const version = await resolveVersion(env.DB, workflow.workflowId, req.version);
  const definition = parsedDefinition(version.versionId, version.definition);
  const errors = validateValue(definition.definitions, "#/definitions/workflowInput", req.input);
  if (errors.length > 0) throw new ValidationError("The job input violates the workflow's workflowInput schema.", errors);

  const now = Date.now();
  let jobId = req.jobId ?? newId();
  if (req.idempotencyKey !== undefined) jobId = await claimIdempotencyKey(env.DB, req.organizationId, req.idempotencyKey, jobId, now);
  const result = await jobRunStub(env, jobId).start({
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
      createdAt: now,
    },
    definition: version.definition,
    executionData: { workflowInput: req.input },
  });
  return unwrap(result);
}

/**
 * Binds the key to `jobId` unless a live binding exists, in one statement: concurrent submissions
 * with the same key all get the first job's id. Returns the id the key is bound to.
 */
async function claimIdempotencyKey(db: D1Database, organizationId: string, key: string, jobId: string, now: number): Promise<string> {
  const row = await db
    .prepare(
      `INSERT INTO idempotency_keys (organization_id, idempotency_key, job_id, created_at) VALUES (?1, ?2, ?3, ?4)
       ON CONFLICT (organization_id, idempotency_key) DO UPDATE SET job_id = excluded.job_id, created_at = excluded.created_at
         WHERE idempotency_keys.created_at < ?5
       RETURNING job_id`,
    )
    .bind(organizationId, key, jobId, now, now - IDEMPOTENCY_WINDOW_MS)
    .first<{ job_id: string }>();
  if (row) return row.job_id;
  const existing = await db
    .prepare(`SELECT job_id FROM idempotency_keys WHERE organization_id = ? AND idempotency_key = ?`)
    .bind(organizationId, key)
    .first<{ job_id: string }>();
  return existing!.job_id;
}

/** The stub of a job's run, or 404 for an id that cannot be a job. */
export function jobStubFor(env: Env, jobId: string) {
  if (!isUuid(jobId)) throw new NotFoundError(`Job ${jobId} was not found.`);
  return jobRunStub(env, jobId);
}
