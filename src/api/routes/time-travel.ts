/**
 * Time travel (docs/time-travel.md): PauseJob and UnpauseJob; RerunJob and RerunJobs, which start a
 * new job at any step of an ended one, on any version. ResumeJob, the oldest, stays with the job
 * routes.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { ConflictError, NotFoundError, unwrap, type RpcResult } from "../../errors";
import { rerunJob } from "../../job/rerun";
import { rerunInObjects } from "../../job/rerun-batch";
import { rerunSources } from "../../job/rerun-sources";
import { jobStubFor } from "../../job/submit";
import { actorOf, audited, recordAudits } from "../../audit/record";
import type { AuditActor } from "../../audit/types";
import { DEFAULT_RERUN_JOBS, MAX_RERUN_JOBS } from "../../limits";
import { resolveSubmissionTarget } from "../../registry/submission-target";
import { findWorkflow } from "../../registry/workflows";
import { requireOrganization } from "../auth";
import { callerName, type App } from "../context";
import { ErrorSchema, OrgParams, VersionSelectorSchema, errorResponses, json, jsonBody } from "../schemas";
import { JobParams, parseInput } from "./job-schemas";
import { orUnstarted } from "./jobs";

const security = [{ Bearer: [] }];
const jobErrors = ["AuthenticationError", "AuthorizationError", "NotFoundError"] as const;

const FromStep = z.string().min(1).max(200).openapi({
  description: "The step the new job begins at. Default: the step the source failed or was cancelled at; required for a SUCCEEDED source.",
});

const RerunJobBody = z
  .object({
    fromStep: FromStep.optional(),
    workflowVersion: VersionSelectorSchema.optional().openapi({ description: "The version the new job runs. Default: the source's version." }),
    inputJson: z.union([z.string(), z.record(z.string(), z.unknown()), z.array(z.unknown())]).optional().openapi({
      description: "Replaces the source's workflowInput (a JSON string or value); the copied step data is kept.",
    }),
    idempotencyKey: z.string().min(1).max(200).optional().openapi({ description: "As SubmitJob's: the same key within 24 h returns the same job." }),
  })
  .openapi("RerunJobRequest");

const RerunJobsBody = z
  .object({
    filter: z
      .object({
        workflowId: z.string().min(1).max(100).optional(),
        workflowName: z.string().min(1).max(200).optional().openapi({ description: "The workflow's exact name (instead of workflowId)." }),
        status: z.enum(["FAILED", "CANCELLED", "SUCCEEDED"]),
        createdAfter: z.iso.datetime().optional(),
        createdBefore: z.iso.datetime().optional(),
      })
      .refine((f) => (f.workflowId === undefined) !== (f.workflowName === undefined), { message: "Give exactly one of workflowId and workflowName.", path: ["workflowId"] }),
    fromStep: FromStep.optional(),
    workflowVersion: VersionSelectorSchema.optional().openapi({ description: "The version every rerun runs. Default: each source's own." }),
    maxJobs: z.number().int().min(1).max(MAX_RERUN_JOBS).default(DEFAULT_RERUN_JOBS).openapi({ description: `At most ${MAX_RERUN_JOBS}; newest first.` }),
  })
  .openapi("RerunJobsRequest");

const RerunResultSchema = z
  .union([z.object({ sourceJobId: z.string(), jobId: z.string() }), z.object({ sourceJobId: z.string(), error: ErrorSchema })])
  .openapi("RerunJobsResult");

const PausedSchema = z.object({ jobId: z.string(), paused: z.boolean() }).openapi("JobPaused");

type Paused = { jobId: string; paused: boolean };

/** Pause or unpause on the job's object; a job accepted and not started yet cannot be either. */
async function setPaused(env: Env, organizationId: string, jobId: string, pause: boolean, actor: AuditActor): Promise<Paused> {
  const stub = jobStubFor(env, jobId);
  const answer = await orUnstarted<Paused>(
    env,
    organizationId,
    jobId,
    // The job records the audit entry in the pause's own commit.
    () => (pause ? stub.pause(organizationId, actor) : stub.unpause(organizationId, actor)) as Promise<RpcResult<Paused>>,
    async () => ({ ok: false, error: new ConflictError("The job was accepted and has not started yet; try again in a moment.").toInfo() }),
  );
  return unwrap(answer);
}

/** Registers the time-travel routes. */
export function registerTimeTravelRoutes(app: App): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/organizations/{organizationId}/jobs/{jobId}/rerun",
      operationId: "RerunJob",
      description:
        "Extension: starts a NEW job that begins at fromStep with the source's execution data as it stood when that step last began; the steps before it do not run again (runChildJob results are copied, their children not re-run). The same source, version, step and inputJson always answer the same job.",
      security,
      request: { params: JobParams, body: { required: false, content: { "application/json": { schema: RerunJobBody } } } },
      responses: {
        201: json(z.object({ jobId: z.string() })),
        ...errorResponses("ValidationError", ...jobErrors, "ConflictError", "PayloadTooLarge"),
      },
    }),
    async (c) => {
      const { organizationId, jobId } = c.req.valid("param");
      const caller = requireOrganization(c, organizationId);
      const body = c.req.valid("json") ?? {};
      const input = body.inputJson !== undefined ? { input: { value: parseInput(body.inputJson) } } : {};
      const rerun = await audited(
        c.env,
        organizationId,
        { actor: actorOf(caller), action: "job.rerun", target: { type: "job", id: jobId.toLowerCase() } },
        () =>
          rerunJob(c.env, {
            organizationId,
            submittedByUser: callerName(caller),
            sourceJobId: jobId,
            ...(body.fromStep !== undefined ? { fromStep: body.fromStep } : {}),
            ...(body.workflowVersion ? { version: body.workflowVersion } : {}),
            ...input,
            ...(body.idempotencyKey !== undefined ? { idempotencyKey: body.idempotencyKey } : {}),
          }),
        (made) => ({ detail: { rerunJobId: made.jobId } }),
      );
      return c.json(rerun, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/organizations/{organizationId}/jobs/rerun",
      operationId: "RerunJobs",
      description:
        "Extension: reruns every top-level job of a workflow in a status (newest first, at most maxJobs) as RerunJob would, each from its own default step unless fromStep is given; one result per job, an error for one that cannot be rerun. A job already rerun onto the same version from the same step answers that rerun, so asking twice reruns nothing twice; a job already rerun onto another version or step is left to its rerun (ConflictError naming it).",
      security,
      request: { params: OrgParams, ...jsonBody(RerunJobsBody) },
      responses: { 200: json(z.object({ results: z.array(RerunResultSchema) })), ...errorResponses("ValidationError", ...jobErrors) },
    }),
    async (c) => {
      const { organizationId } = c.req.valid("param");
      const caller = requireOrganization(c, organizationId);
      const { filter, fromStep, workflowVersion, maxJobs } = c.req.valid("json");
      const ref = filter.workflowId !== undefined ? { workflowId: filter.workflowId } : { workflowName: filter.workflowName! };
      // The workflow (404 if unknown) and the version every rerun runs, resolved once.
      const workflow = await findWorkflow(c.env.DB, organizationId, ref);
      if (!workflow) throw new NotFoundError(`Workflow ${filter.workflowId ?? filter.workflowName} was not found.`);
      const workflowId = workflow.workflowId;
      const target = workflowVersion ? await resolveSubmissionTarget(c.env.DB, organizationId, { workflowId }, workflowVersion) : undefined;
      const sources = await rerunSources(c.env, organizationId, { workflowId, status: filter.status, ...dates(filter) }, maxJobs);
      const results =
        sources.length === 0
          ? []
          : await rerunInObjects(c.env, {
              organizationId,
              submittedByUser: callerName(caller),
              workflowId,
              sources,
              ...(target ? { versionId: target.version.versionId } : {}),
              ...(fromStep !== undefined ? { fromStep } : {}),
            });
      // One entry per source rerun, written after the reruns (each is idempotent: a retry after a failed write reruns nothing twice).
      const actor = actorOf(caller);
      await recordAudits(
        c.env,
        organizationId,
        results.flatMap((r) => ("jobId" in r ? [{ actor, action: "job.rerun" as const, target: { type: "job", id: r.sourceJobId }, detail: { rerunJobId: r.jobId, bulk: true } }] : [])),
      );
      return c.json({ results }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/organizations/{organizationId}/jobs/{jobId}/pause",
      operationId: "PauseJob",
      description:
        "Extension: the job starts no new step attempt (the next step, a retry, a poll, a child not yet started) until UnpauseJob; a call in flight finishes and is recorded, and timers and events that fall due are acted on at unpause. Its descendants are paused too. A job that has ended answers 409.",
      security,
      request: { params: JobParams },
      responses: { 200: json(PausedSchema), ...errorResponses(...jobErrors, "ConflictError") },
    }),
    async (c) => {
      const { organizationId, jobId } = c.req.valid("param");
      const paused = await setPaused(c.env, organizationId, jobId, true, actorOf(requireOrganization(c, organizationId)));
      return c.json(paused, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/organizations/{organizationId}/jobs/{jobId}/unpause",
      operationId: "UnpauseJob",
      description:
        "Extension: lifts the job's own pause and acts on what fell due meanwhile. `paused` stays true while a paused ancestor holds the job. Unpausing a job that is not paused changes nothing.",
      security,
      request: { params: JobParams },
      responses: { 200: json(PausedSchema), ...errorResponses(...jobErrors, "ConflictError") },
    }),
    async (c) => {
      const { organizationId, jobId } = c.req.valid("param");
      const paused = await setPaused(c.env, organizationId, jobId, false, actorOf(requireOrganization(c, organizationId)));
      return c.json(paused, 200);
    },
  );
}

/** The filter's creation window. */
function dates(filter: { createdAfter?: string; createdBefore?: string }): { createdAfter?: string; createdBefore?: string } {
  return { ...(filter.createdAfter ? { createdAfter: filter.createdAfter } : {}), ...(filter.createdBefore ? { createdBefore: filter.createdBefore } : {}) };
}
