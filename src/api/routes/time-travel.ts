/**
 * Time travel (docs/time-travel.md): PauseJob and UnpauseJob; RerunJob and RerunJobs, which start a
 * new job at any step of an ended one, on any version. ResumeJob, the oldest, stays with the job
 * routes.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { ConflictError, unwrap, type RpcResult } from "../../errors";
import { jobStubFor } from "../../job/submit";
import { requireOrganization } from "../auth";
import type { App } from "../context";
import { errorResponses, json } from "../schemas";
import { JobParams } from "./job-schemas";
import { orUnstarted } from "./jobs";

const security = [{ Bearer: [] }];
const jobErrors = ["AuthenticationError", "AuthorizationError", "NotFoundError"] as const;

const PausedSchema = z.object({ jobId: z.string(), paused: z.boolean() }).openapi("JobPaused");

type Paused = { jobId: string; paused: boolean };

/** Pause or unpause on the job's object; a job accepted and not started yet cannot be either. */
async function setPaused(env: Env, organizationId: string, jobId: string, pause: boolean): Promise<Paused> {
  const stub = jobStubFor(env, jobId);
  const answer = await orUnstarted<Paused>(
    env,
    organizationId,
    jobId,
    () => (pause ? stub.pause(organizationId) : stub.unpause(organizationId)) as Promise<RpcResult<Paused>>,
    async () => ({ ok: false, error: new ConflictError("The job was accepted and has not started yet; try again in a moment.").toInfo() }),
  );
  return unwrap(answer);
}

/** Registers the time-travel routes. */
export function registerTimeTravelRoutes(app: App): void {
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
      requireOrganization(c, organizationId);
      const paused = await setPaused(c.env, organizationId, jobId, true);
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
      requireOrganization(c, organizationId);
      const paused = await setPaused(c.env, organizationId, jobId, false);
      return c.json(paused, 200);
    },
  );
}
