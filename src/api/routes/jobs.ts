/** Jobs: submit, read, list, cancel, resume, events, and workflow state. */
import { createRoute, z } from "@hono/zod-openapi";
import { ConflictError, ValidationError, unwrap, type ErrorInfo, type RpcResult } from "../../errors";
import { canonicalUuid } from "../../ids";
import { submitBatch, type BatchItem } from "../../job/batch";
import type { JobSummary } from "../../job/views";
import type { StateMetadata } from "../../job/messages";
import { refuseOversizedJson } from "../../json-size";
import { MAX_GETJOB_CHILD_JOBS, MAX_PAYLOAD_BYTES } from "../../limits";
import { logEvent } from "../../log";
import { findIndexedJob, listJobs } from "../../job-index/shards";
import { organizationIndex } from "../../registry/organizations";
import { jobStubFor, submitJob } from "../../job/submit";
import { startOnDemand } from "../../intake/on-demand";
import { singleSubmission } from "../../intake/submit";
import { actorOf, audited, recordAudit } from "../../audit/record";
import { requireOrganization } from "../auth";
import { submitterOf, type App } from "../context";
import { OrgParams, errorResponses, json, jsonBody, zodProblems } from "../schemas";
import {
  BatchResultSchema,
  GetJobQuery,
  HistoryItemSchema,
  JobParams,
  JobStatusSchema,
  JobSummarySchema,
  ListJobsQuery,
  PagedRunQuery,
  RunQuery,
  SubmitJobBody,
  ValueAnswer,
  WorkflowStateAnswer,
  SubmitJobsBody,
  submissionOf,
} from "./job-schemas";

const security = [{ Bearer: [] }];
const jobErrors = ["AuthenticationError", "AuthorizationError", "NotFoundError"] as const;

/**
 * GetJob's job, held until it ends when `waitSeconds` asks for it. The wait lives in the job's
 * Durable Object's memory, so an eviction fails it: the answer is then the job as it is now.
 */
async function describeJob(env: Env, organizationId: string, jobId: string, waitSeconds: number | undefined): Promise<RpcResult<JobSummary>> {
  const stub = jobStubFor(env, jobId);
  const describe = async (): Promise<RpcResult<JobSummary>> => {
    if (!waitSeconds) return (await stub.describe(organizationId)) as RpcResult<JobSummary>;
    try {
      return (await stub.waitForEnd(organizationId, waitSeconds)) as RpcResult<JobSummary>;
    } catch (e) {
      logEvent("getJob.waitFailed", { jobId, error: String(e) });
      // A stub whose call threw may be broken: a fresh one reaches the object's new instance.
      return (await jobStubFor(env, jobId).describe(organizationId)) as RpcResult<JobSummary>;
    }
  };
  return orUnstarted(env, organizationId, jobId, describe, async (job) => ({ ok: true, value: job }));
}

/**
 * Runs `call` on the job's object. If the object does not exist but the job was accepted (a batch
 * submission's job before its start), the object holding its start starts it now and `call` runs
 * on the job itself (src/intake/on-demand.ts); `startFirst: false` leaves that to `unstarted`.
 * When no holder had it (it started in between, or never will), `call` is asked again, and a job
 * still absent gets `unstarted` with its index row (default: the "not found" answer).
 */
export async function orUnstarted<T>(
  env: Env,
  organizationId: string,
  jobId: string,
  call: () => Promise<RpcResult<T>>,
  unstarted?: (job: JobSummary) => Promise<RpcResult<T>>,
  startFirst = true,
): Promise<RpcResult<T>> {
  const result = await call();
  if (result.ok || result.error.code !== "NotFoundError") return result;
  const id = canonicalUuid(jobId);
  if (id === null) return result;
  const indexed = await findIndexedJob(env, await organizationIndex(env.DB, organizationId), id);
  if (!indexed) return result;
  if (indexed.started) return call();
  if (startFirst) {
    const started = await startOnDemand(env, organizationId, indexed.job.jobId).catch((e: unknown) => {
      logEvent("job.startOnDemandFailed", { jobId: indexed.job.jobId, error: String(e) });
      return false;
    });
    const again = await call();
    if (started || again.ok || again.error.code !== "NotFoundError") return again;
  }
  return unstarted ? unstarted(indexed.job) : result;
}

/** Registers the job routes. */
export function registerJobRoutes(app: App): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/organizations/{organizationId}/jobs",
      operationId: "SubmitJob",
      security,
      request: { params: OrgParams, ...jsonBody(SubmitJobBody) },
      responses: { 200: json(z.object({ jobId: z.string() })), ...errorResponses("ValidationError", ...jobErrors, "PayloadTooLarge", "ThrottlingError") },
    }),
    async (c) => {
      const { organizationId } = c.req.valid("param");
      const caller = requireOrganization(c, organizationId);
      const item = submissionOf(c.req.valid("json"));
      const { jobId } = await submitJob(c.env, { ...item, organizationId, ...submitterOf(caller) }, singleSubmission);
      return c.json({ jobId }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/organizations/{organizationId}/jobs/batch",
      operationId: "SubmitJobs",
      description:
        "Extension: submits many jobs in one request. The answer has one result per item, in order: its jobId, or the error a SubmitJob of it would have answered. Accepted jobs are listed at once and start within moments (PENDING until then).",
      security,
      request: { params: OrgParams, ...jsonBody(SubmitJobsBody) },
      responses: { 200: json(z.object({ results: z.array(BatchResultSchema) })), ...errorResponses("ValidationError", ...jobErrors, "ConflictError", "PayloadTooLarge") },
    }),
    async (c) => {
      const { organizationId } = c.req.valid("param");
      const caller = requireOrganization(c, organizationId);
      const { jobs, batchKey } = c.req.valid("json");
      const items: (BatchItem | { error: ErrorInfo })[] = jobs.map((raw, i) => {
        const parsed = SubmitJobBody.safeParse(raw);
        if (!parsed.success) {
          const { errors, fields } = zodProblems(parsed.error.issues);
          return { error: new ValidationError(`Job ${i} of the batch is invalid.`, errors, fields).toInfo() };
        }
        try {
          return submissionOf(parsed.data);
        } catch (e) {
          if (e instanceof ValidationError) return { error: e.toInfo() };
          throw e;
        }
      });
      const valid = items.filter((item): item is BatchItem => !("error" in item));
      const submitted = await submitBatch(c.env, organizationId, submitterOf(caller), valid, batchKey);
      let next = 0;
      const results = items.map((item) => ("error" in item ? { error: item.error } : submitted[next++]!));
      return c.json({ results }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/organizations/{organizationId}/jobs",
      operationId: "ListJobs",
      security,
      request: { params: OrgParams, query: ListJobsQuery },
      responses: {
        200: json(
          z.object({
            jobs: z.array(JobSummarySchema),
            nextPageToken: z.string().optional(),
            totalCount: z.number().int(),
            statusCounts: z.record(JobStatusSchema, z.number().int()).openapi({
              description: "Extension: how many of the totalCount jobs are in each status (the console's per-subtree counts).",
              // Every status is present (0 when none): the generator lists a record's keys but not that they are required.
              required: JobStatusSchema.options,
            }),
          }),
        ),
        ...errorResponses("ValidationError", ...jobErrors),
      },
    }),
    async (c) => {
      const { organizationId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      const { pageToken, pageSize, ...filters } = c.req.valid("query");
      return c.json(await listJobs(c.env, await organizationIndex(c.env.DB, organizationId), filters, pageToken, pageSize), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/organizations/{organizationId}/jobs/{jobId}",
      operationId: "GetJob",
      security,
      request: { params: JobParams, query: GetJobQuery },
      responses: {
        200: json(
          z.object({
            job: JobSummarySchema,
            parentJob: z.object({ jobId: z.string(), status: JobStatusSchema, workflowName: z.string(), stepName: z.string() }).optional(),
            childJobs: z
              .array(
                z.object({
                  jobId: z.string(),
                  status: JobStatusSchema,
                  workflowName: z.string(),
                  parentStepName: z.string(),
                  createdAt: z.string(),
                  finishedAt: z.string().optional(),
                }),
              )
              .optional()
              .openapi({
                description: `The job's children in their step's order (the step attempt that created them, then their place in its list): at most the first ${MAX_GETJOB_CHILD_JOBS}. The rest: ListJobs with parentJobId=<jobId> and pageToken=childJobsNextPageToken.`,
              }),
            childJobsNextPageToken: z.string().optional().openapi({
              description: `Extension: present when the job has more than ${MAX_GETJOB_CHILD_JOBS} children; pass it as pageToken to ListJobs with parentJobId=<jobId> for the next ones.`,
            }),
          }),
        ),
        ...errorResponses("ValidationError", ...jobErrors),
      },
    }),
    async (c) => {
      const { organizationId, jobId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      const job = unwrap(await describeJob(c.env, organizationId, jobId, c.req.valid("query").waitForTerminalSeconds));
      const index = await organizationIndex(c.env.DB, organizationId);
      const [parent, children] = await Promise.all([
        // The parent's status and name, not its output (which may be a fan-out's results).
        job.parentJobId ? (jobStubFor(c.env, job.parentJobId).describe(organizationId, false) as Promise<RpcResult<JobSummary>>) : undefined,
        // The job's own id, not the path's: the path may spell it in upper case.
        listJobs(c.env, index, { jobHierarchy: "ALL", parentJobId: job.jobId }, undefined, MAX_GETJOB_CHILD_JOBS),
      ]);
      const childJobs = children.jobs.map((j) => ({
        jobId: j.jobId,
        status: j.status,
        workflowName: j.workflowName,
        parentStepName: j.parentStepName ?? "",
        createdAt: j.createdAt,
        ...(j.finishedAt ? { finishedAt: j.finishedAt } : {}),
      }));
      return c.json(
        {
          job: job as z.infer<typeof JobSummarySchema>,
          ...(parent?.ok
            ? { parentJob: { jobId: parent.value.jobId, status: parent.value.status, workflowName: parent.value.workflowName, stepName: job.parentStepName ?? "" } }
            : {}),
          ...(childJobs.length > 0 ? { childJobs } : {}),
          ...(children.nextPageToken ? { childJobsNextPageToken: children.nextPageToken } : {}),
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/organizations/{organizationId}/jobs/{jobId}/cancel",
      operationId: "CancelJob",
      security,
      request: { params: JobParams },
      responses: { 200: json(z.object({ jobId: z.string() })), ...errorResponses(...jobErrors, "ConflictError") },
    }),
    async (c) => {
      const { organizationId, jobId } = c.req.valid("param");
      const actor = actorOf(requireOrganization(c, organizationId));
      const stub = jobStubFor(c.env, jobId);
      const cancelled = await orUnstarted(
        c.env,
        organizationId,
        jobId,
        // The job's object records who cancelled it, in the cancel's own commit.
        () => stub.cancel(organizationId, actor),
        async (job) => {
          // The cancel overtakes the start: the job is created CANCELLED when its start arrives,
          // which is asked for now, so that it ends at once without running a step.
          await stub.cancelFromParent({ code: "CANCELLED", message: "The job was cancelled before it started." });
          await startOnDemand(c.env, organizationId, job.jobId).catch((e: unknown) =>
            logEvent("job.startOnDemandFailed", { jobId: job.jobId, error: String(e) }),
          );
          await recordAudit(c.env, organizationId, { actor, action: "job.cancel", target: { type: "job", id: job.jobId }, detail: { beforeStart: true } });
          return { ok: true, value: { jobId: job.jobId } };
        },
        false,
      );
      return c.json(unwrap(cancelled), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/organizations/{organizationId}/jobs/{jobId}",
      operationId: "DeleteJob",
      description:
        "Deletes a top-level job that has ended, with its whole tree (children, grandchildren, every continueAsNew run) and every record of them " +
        "(history, execution data, events, index rows). From the answer on, GetJob, ListJobs and every other read answer as if it never existed (404); " +
        "the storage is freed in the background, a bounded batch per alarm. 409 for a job that has not ended and for a child job (it goes with its root).",
      security,
      request: { params: JobParams },
      responses: { 200: json(z.object({ jobId: z.string() })), ...errorResponses(...jobErrors, "ConflictError") },
    }),
    async (c) => {
      const { organizationId, jobId } = c.req.valid("param");
      const caller = requireOrganization(c, organizationId);
      // Written ahead of the deletion, which commits in the job's object and then takes that object's
      // storage away (so it cannot owe the entry as a cancel does); a refusal (404, 409) discards it.
      const entry = { actor: actorOf(caller), action: "job.delete" as const, target: { type: "job", id: canonicalUuid(jobId) ?? jobId } };
      const deleted = await audited(c.env, organizationId, entry, async () =>
        unwrap(
          await orUnstarted(
            c.env,
            organizationId,
            jobId,
            () => jobStubFor(c.env, jobId).deleteJob(organizationId),
            async () => ({ ok: false, error: new ConflictError("The job was accepted and has not started yet: it has not ended.").toInfo() }),
          ),
        ),
      );
      return c.json(deleted, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/organizations/{organizationId}/jobs/{jobId}/resume",
      operationId: "ResumeJob",
      security,
      request: { params: JobParams },
      responses: { 200: json(z.object({ jobId: z.string() })), ...errorResponses(...jobErrors, "ConflictError") },
    }),
    async (c) => {
      const { organizationId, jobId } = c.req.valid("param");
      const actor = actorOf(requireOrganization(c, organizationId));
      return c.json(unwrap(await jobStubFor(c.env, jobId).resume(organizationId, actor)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/organizations/{organizationId}/jobs/{jobId}/events",
      operationId: "SendJobEvent",
      security,
      request: {
        params: JobParams,
        ...jsonBody(z.object({ eventId: z.string().min(1).max(200), payload: z.unknown().optional() }).openapi("SendJobEventRequest")),
      },
      responses: {
        200: json(z.object({ jobId: z.string(), eventId: z.string() })),
        ...errorResponses("ValidationError", ...jobErrors, "PayloadTooLarge", "ConflictError"),
      },
    }),
    async (c) => {
      const { organizationId, jobId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      const { eventId, payload } = c.req.valid("json");
      // The body limit does not bound the stored payload: `1e20` in the body is stored as 21 digits.
      refuseOversizedJson(payload ?? null, "The event payload", MAX_PAYLOAD_BYTES);
      const stub = jobStubFor(c.env, jobId);
      const sent = await orUnstarted(
        c.env,
        organizationId,
        jobId,
        () => stub.sendEvent(organizationId, eventId, payload ?? null),
        // Only a job whose start is held nowhere gets here (it will never start, or has just started).
        async () => ({ ok: false, error: new ConflictError("The job was accepted and has not started yet; send the event again in a moment.").toInfo() }),
      );
      const result = unwrap(sent);
      return c.json({ jobId: result.jobId, eventId: result.eventId }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/organizations/{organizationId}/jobs/{jobId}/state",
      operationId: "GetWorkflowState",
      description:
        "The run's execution data and history. An answer stays within about 1 MiB whatever the job holds: a value over 64 KiB is a marker {\"canopyOmitted\": {bytes, read}} (listed in omittedValues), and a long history goes on at nextPageToken.",
      security,
      request: { params: JobParams, query: PagedRunQuery },
      responses: {
        200: json(WorkflowStateAnswer.extend({ state: WorkflowStateAnswer.shape.state.extend({ executionHistory: z.array(HistoryItemSchema) }) })),
        ...errorResponses("ValidationError", ...jobErrors),
      },
    }),
    async (c) => {
      const { organizationId, jobId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      const { runNumber, pageToken } = c.req.valid("query");
      const stub = jobStubFor(c.env, jobId);
      return c.json(unwrap(await orUnstarted(c.env, organizationId, jobId, () => stub.getState(organizationId, runNumber, pageToken))), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/organizations/{organizationId}/jobs/{jobId}/state/data/{key}",
      operationId: "GetExecutionDataValue",
      description:
        "Extension: one execution-data value. A runChildJob step's results come a page at a time (about 1 MiB each): concatenate `results` over the pages.",
      security,
      request: { params: JobParams.extend({ key: z.string().min(1).max(300).openapi({ param: { name: "key", in: "path" } }) }), query: PagedRunQuery },
      responses: { 200: json(ValueAnswer), ...errorResponses("ValidationError", ...jobErrors) },
    }),
    async (c) => {
      const { organizationId, jobId, key } = c.req.valid("param");
      requireOrganization(c, organizationId);
      const { runNumber, pageToken } = c.req.valid("query");
      const stub = jobStubFor(c.env, jobId);
      return c.json(unwrap(await orUnstarted(c.env, organizationId, jobId, () => stub.readValue(organizationId, runNumber, { key }, pageToken))), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/organizations/{organizationId}/jobs/{jobId}/state/history/{itemId}/{part}",
      operationId: "GetExecutionHistoryPayload",
      description: "Extension: a history item's input, or its output's payload, whole or (a runChildJob step's results) a page at a time.",
      security,
      request: {
        params: JobParams.extend({
          itemId: z.string().min(1).max(50).openapi({ param: { name: "itemId", in: "path" } }),
          part: z.enum(["input", "output"]).openapi({ param: { name: "part", in: "path" } }),
        }),
        query: PagedRunQuery,
      },
      responses: { 200: json(ValueAnswer), ...errorResponses("ValidationError", ...jobErrors) },
    }),
    async (c) => {
      const { organizationId, jobId, itemId, part } = c.req.valid("param");
      requireOrganization(c, organizationId);
      const { runNumber, pageToken } = c.req.valid("query");
      return c.json(unwrap(await jobStubFor(c.env, jobId).readValue(organizationId, runNumber, { historyItemId: itemId, part }, pageToken)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/organizations/{organizationId}/jobs/{jobId}/state/metadata",
      operationId: "GetWorkflowStateMetadata",
      security,
      request: { params: JobParams, query: RunQuery },
      responses: {
        200: json(
          z.object({
            contentLengthBytes: z.number().int(),
            runNumber: z.number().int().openapi({ description: "Extension: the run described." }),
            historyItems: z.number().int().openapi({ description: "Extension: history items the run holds." }),
            storageBytes: z.number().int().openapi({ description: "Extension: bytes of the run's Durable Object storage." }),
          }),
        ),
        ...errorResponses(...jobErrors),
      },
    }),
    async (c) => {
      const { organizationId, jobId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      const { runNumber } = c.req.valid("query");
      const stub = jobStubFor(c.env, jobId);
      const metadata = () => stub.getStateMetadata(organizationId, runNumber) as Promise<RpcResult<StateMetadata>>;
      return c.json(unwrap(await orUnstarted(c.env, organizationId, jobId, metadata)), 200);
    },
  );
}
