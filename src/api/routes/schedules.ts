/** Schedules: cron-started jobs with overlap policies, catch-up, pause and backfill. */
import { createRoute, z } from "@hono/zod-openapi";
import { NotFoundError, ValidationError, unwrap, type RpcResult } from "../../errors";
import { canonicalUuid, newId } from "../../ids";
import { refuseOversizedJson } from "../../json-size";
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_PAYLOAD_BYTES } from "../../limits";
import { jobStatuses } from "../../job-index/shards";
import { organizationIndex } from "../../registry/organizations";
import { listSchedules } from "../../registry/schedules";
import { prepareSubmission } from "../../job/submit";
import { checkCronSpec } from "../../schedule/cron";
import type { ScheduleObject, ScheduleView } from "../../schedule/schedule-object";
import { specView, type ScheduleSpec } from "../../schedule/spec";
import { actorOf, audited } from "../../audit/record";
import { requireOrganization } from "../auth";
import { callerName, type App } from "../context";
import { OrgParams, SuccessSchema, errorResponses, json, jsonBody } from "../schemas";
import { parseInput } from "./job-schemas";
import {
  ActionResult,
  NoteBody,
  ScheduleIdSchema,
  ScheduleParams,
  ScheduleSchema,
  ScheduleSpecBody,
  ScheduleSummarySchema,
  optionalBody,
  type SpecBody,
} from "./schedule-schemas";

const security = [{ Bearer: [] }];
const scheduleErrors = ["AuthenticationError", "AuthorizationError", "NotFoundError"] as const;

const fieldError = (field: string, problem: string) => new ValidationError(`${field} ${problem}.`, [`${field}: ${problem}`], { [field]: problem });

/**
 * Turns a request into a spec, or throws before anything is created: a 400 naming the field for a
 * bad cron, timezone, range or input (checked against the workflow's workflowInput schema as every
 * firing will submit it: unchanged), 404 for an unknown workflow or version (as SubmitJob answers).
 */
async function buildSpec(env: Env, organizationId: string, body: SpecBody, caller: string, now: number): Promise<ScheduleSpec> {
  const input = parseInput(body.inputJson);
  if (typeof input !== "object" || input === null || Array.isArray(input)) throw fieldError("inputJson", "must be a JSON object");
  refuseOversizedJson(input, "inputJson", MAX_PAYLOAD_BYTES);
  const startAt = body.startAt !== undefined ? Date.parse(body.startAt) : undefined;
  const endAt = body.endAt !== undefined ? Date.parse(body.endAt) : undefined;
  const cronSpec = { cron: body.cron, timezone: body.timezone, ...(startAt !== undefined ? { startAt } : {}), ...(endAt !== undefined ? { endAt } : {}) };
  checkCronSpec(cronSpec, now);
  const draft: ScheduleSpec = {
    workflowId: body.workflowId ?? "",
    workflowName: body.workflowName ?? "",
    workflowVersion: body.workflowVersion,
    input: input as Record<string, unknown>,
    ...cronSpec,
    jitterSeconds: body.jitterSeconds,
    overlapPolicy: body.overlapPolicy,
    catchupWindowSeconds: body.catchupWindowSeconds,
    pauseOnFailure: body.pauseOnFailure,
  };
  // The workflow, the version and the input as a firing would submit them, checked now.
  const prepared = await prepareSubmission(env, {
    organizationId,
    workflow: body.workflowId !== undefined ? { workflowId: body.workflowId } : { workflowName: body.workflowName! },
    version: body.workflowVersion,
    input: draft.input,
    submittedByUser: caller,
  }).catch((e: unknown) => {
    if (!(e instanceof ValidationError)) throw e;
    const problem = "violates the workflow's workflowInput schema";
    throw new ValidationError(`inputJson, ${problem}.`, e.errors, { inputJson: problem });
  });
  return { ...draft, workflowId: prepared.workflow.workflowId, workflowName: prepared.workflow.name };
}

/** The schedule's object, or 404 for an id that cannot be a schedule's. */
function scheduleStub(env: Env, scheduleId: string): DurableObjectStub<ScheduleObject> {
  const id = canonicalUuid(scheduleId);
  if (id === null) throw new NotFoundError(`Schedule ${scheduleId} was not found.`);
  return env.SCHEDULES.get(env.SCHEDULES.idFromName(id));
}

/** GetSchedule's answer: the object's view, with each started job's status from the index. */
async function scheduleResponse(env: Env, organizationId: string, view: ScheduleView): Promise<z.infer<typeof ScheduleSchema>> {
  const started = view.recentActions.filter((a) => a.state === "STARTED" && a.jobId).map((a) => a.jobId!);
  // A job deleted since (its retention passed) is no longer indexed: its action keeps its own record.
  const statuses = await jobStatuses(env, await organizationIndex(env.DB, organizationId), started);
  return {
    scheduleId: view.scheduleId,
    spec: specView(view.spec),
    paused: view.paused,
    ...(view.note !== undefined ? { note: view.note } : {}),
    nextFireTimes: view.nextFireTimes,
    recentActions: view.recentActions.map((a) => ({
      trigger: a.trigger,
      scheduledAt: a.scheduledAt,
      actionTime: a.actionTime,
      ...(a.jobId ? { jobId: a.jobId } : {}),
      result: a.state === "STARTED" ? (statuses.get(a.jobId!) ?? "STARTED") : a.state === "PENDING" && a.buffered ? "BUFFERED" : a.state,
      ...(a.detail !== undefined ? { detail: a.detail } : {}),
    })),
    missedCount: view.missedCount,
    skippedCount: view.skippedCount,
    createdAt: view.createdAt,
    updatedAt: view.updatedAt,
  };
}

/** Registers the schedule routes. */
export function registerScheduleRoutes(app: App): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/organizations/{organizationId}/schedules",
      operationId: "CreateSchedule",
      security,
      request: { params: OrgParams, ...jsonBody(ScheduleSpecBody) },
      responses: { 200: json(ScheduleIdSchema), ...errorResponses("ValidationError", ...scheduleErrors, "PayloadTooLarge") },
    }),
    async (c) => {
      const { organizationId } = c.req.valid("param");
      const caller = requireOrganization(c, organizationId);
      const spec = await buildSpec(c.env, organizationId, c.req.valid("json"), callerName(caller), Date.now());
      const scheduleId = newId();
      const entry = { actor: actorOf(caller), action: "schedule.create" as const, target: { type: "schedule", id: scheduleId }, detail: { workflowId: spec.workflowId, cron: spec.cron } };
      const view = await audited(c.env, organizationId, entry, async () =>
        unwrap((await scheduleStub(c.env, scheduleId).create(organizationId, scheduleId, spec)) as unknown as RpcResult<ScheduleView>),
      );
      return c.json({ scheduleId: view.scheduleId }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/organizations/{organizationId}/schedules",
      operationId: "ListSchedules",
      security,
      request: {
        params: OrgParams,
        query: z.object({
          workflowId: z.string().max(100).optional(),
          pageToken: z.string().max(500).optional(),
          pageSize: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
        }),
      },
      responses: {
        200: json(z.object({ schedules: z.array(ScheduleSummarySchema), nextPageToken: z.string().optional() })),
        ...errorResponses("ValidationError", ...scheduleErrors),
      },
    }),
    async (c) => {
      const { organizationId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      const { schedules, nextPageToken } = await listSchedules(c.env.DB, organizationId, c.req.valid("query"));
      return c.json({ schedules: schedules.map((s) => ({ ...s, spec: specView(s.spec) })), ...(nextPageToken ? { nextPageToken } : {}) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/organizations/{organizationId}/schedules/{scheduleId}",
      operationId: "GetSchedule",
      security,
      description: "The schedule itself, unwrapped like GetWorkflow: `{scheduleId, spec, paused, nextFireTimes, recentActions, missedCount, skippedCount, …}`.",
      request: { params: ScheduleParams },
      responses: { 200: json(ScheduleSchema), ...errorResponses(...scheduleErrors) },
    }),
    async (c) => {
      const { organizationId, scheduleId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      const view = unwrap((await scheduleStub(c.env, scheduleId).describe(organizationId)) as unknown as RpcResult<ScheduleView>);
      return c.json(await scheduleResponse(c.env, organizationId, view), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/organizations/{organizationId}/schedules/{scheduleId}",
      operationId: "UpdateSchedule",
      description: "Replaces the spec. Fire times of the new spec that are already past are not caught up. Answers the schedule as GetSchedule does.",
      security,
      request: { params: ScheduleParams, ...jsonBody(ScheduleSpecBody) },
      responses: { 200: json(ScheduleSchema), ...errorResponses("ValidationError", ...scheduleErrors, "PayloadTooLarge") },
    }),
    async (c) => {
      const { organizationId, scheduleId } = c.req.valid("param");
      const caller = requireOrganization(c, organizationId);
      const stub = scheduleStub(c.env, scheduleId);
      // 404 before 400: an unknown schedule is reported as such whatever the body says.
      unwrap((await stub.describe(organizationId)) as unknown as RpcResult<ScheduleView>);
      const spec = await buildSpec(c.env, organizationId, c.req.valid("json"), callerName(caller), Date.now());
      const entry = { actor: actorOf(caller), action: "schedule.update" as const, target: { type: "schedule", id: scheduleId }, detail: { workflowId: spec.workflowId, cron: spec.cron } };
      const view = await audited(c.env, organizationId, entry, async () => unwrap((await stub.update(organizationId, spec)) as unknown as RpcResult<ScheduleView>));
      return c.json(await scheduleResponse(c.env, organizationId, view), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/organizations/{organizationId}/schedules/{scheduleId}",
      operationId: "DeleteSchedule",
      description: "Deletes the schedule; jobs it started are not affected.",
      security,
      request: { params: ScheduleParams },
      responses: { 200: json(SuccessSchema), ...errorResponses(...scheduleErrors) },
    }),
    async (c) => {
      const { organizationId, scheduleId } = c.req.valid("param");
      const caller = requireOrganization(c, organizationId);
      const entry = { actor: actorOf(caller), action: "schedule.delete" as const, target: { type: "schedule", id: scheduleId } };
      await audited(c.env, organizationId, entry, async () => {
        const result = await scheduleStub(c.env, scheduleId).remove(organizationId);
        if (!result.ok) {
          // The object is gone but its D1 copy may remain (a delete whose last step failed): finish it.
          const removed = await c.env.DB.prepare(`DELETE FROM schedules WHERE schedule_id = ? AND organization_id = ?`)
            .bind(canonicalUuid(scheduleId), organizationId)
            .run();
          if (removed.meta.changes === 0) unwrap(result);
        }
      });
      return c.json({ success: true as const }, 200);
    },
  );

  for (const [verb, operationId, description] of [
    ["pause", "PauseSchedule", "Stops scheduled firings until unpaused; the note says why. Triggers and backfills still run."],
    ["unpause", "UnpauseSchedule", "Resumes scheduled firings from now: fire times that passed while paused are not run."],
  ] as const) {
    app.openapi(
      createRoute({
        method: "post",
        path: `/organizations/{organizationId}/schedules/{scheduleId}/${verb}`,
        operationId,
        description,
        security,
        request: { params: ScheduleParams, ...optionalBody(NoteBody) },
        responses: { 200: json(ScheduleIdSchema), ...errorResponses("ValidationError", ...scheduleErrors) },
      }),
      async (c) => {
        const { organizationId, scheduleId } = c.req.valid("param");
        const caller = requireOrganization(c, organizationId);
        const { note } = (c.req.valid("json") ?? {}) as z.infer<typeof NoteBody>;
        const stub = scheduleStub(c.env, scheduleId);
        // Pausing and unpausing change the schedule: schedule.update, saying which.
        const entry = { actor: actorOf(caller), action: "schedule.update" as const, target: { type: "schedule", id: scheduleId }, detail: { paused: verb === "pause", ...(note ? { note } : {}) } };
        const view = await audited(c.env, organizationId, entry, async () =>
          unwrap((verb === "pause" ? await stub.pause(organizationId, note) : await stub.unpause(organizationId, note)) as unknown as RpcResult<ScheduleView>),
        );
        return c.json({ scheduleId: view.scheduleId }, 200);
      },
    );
  }

  app.openapi(
    createRoute({
      method: "post",
      path: "/organizations/{organizationId}/schedules/{scheduleId}/trigger",
      operationId: "TriggerScheduleNow",
      description:
        "Fires now (nominal fire time: now), under the schedule's overlap policy, paused or not. Answers `{scheduleId}` with, beside it, the firing's scheduledAt, its jobId (unless skipped) and result.",
      security,
      request: { params: ScheduleParams },
      responses: {
        200: json(ScheduleIdSchema.extend({ scheduledAt: z.string(), jobId: z.string().optional(), result: ActionResult }).openapi("TriggerScheduleResponse")),
        ...errorResponses(...scheduleErrors),
      },
    }),
    async (c) => {
      const { organizationId, scheduleId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      const fired = unwrap(await scheduleStub(c.env, scheduleId).trigger(organizationId));
      // PENDING without a wait: recorded, but its start failed; the alarm retries it.
      const result: z.infer<typeof ActionResult> = fired.state === "PENDING" && fired.buffered ? "BUFFERED" : fired.state;
      return c.json({ scheduleId: fired.scheduleId, scheduledAt: fired.scheduledAt, ...(fired.state !== "SKIPPED" ? { jobId: fired.jobId } : {}), result }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/organizations/{organizationId}/schedules/{scheduleId}/backfill",
      operationId: "BackfillSchedule",
      description:
        "Starts one job per fire time of the cron in [startAt, endAt] (past times only, at most 1,000), whatever the overlap policy. A fire time whose job exists (it already ran) starts nothing new. At most 1,000 backfilled fire times wait to start at once: a backfill past that is a 409, to send again once they have started.",
      security,
      request: {
        params: ScheduleParams,
        ...jsonBody(z.object({ startAt: z.iso.datetime({ offset: true }), endAt: z.iso.datetime({ offset: true }) }).openapi("BackfillScheduleRequest")),
      },
      responses: {
        200: json(ScheduleIdSchema.extend({ fireTimes: z.array(z.string()).openapi({ description: "The nominal fire times queued, oldest first." }) }).openapi("BackfillScheduleResponse")),
        ...errorResponses("ValidationError", "ConflictError", ...scheduleErrors),
      },
    }),
    async (c) => {
      const { organizationId, scheduleId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      const { startAt, endAt } = c.req.valid("json");
      return c.json(unwrap(await scheduleStub(c.env, scheduleId).backfill(organizationId, Date.parse(startAt), Date.parse(endAt))), 200);
    },
  );
}
