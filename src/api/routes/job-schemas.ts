/**
 * What the job routes accept and answer: their zod schemas (which also write /openapi.json), and the
 * two conversions of a SubmitJob body that SubmitJob, SubmitJobs and CreateSchedule share.
 */
import { z } from "@hono/zod-openapi";
import { ValidationError } from "../../errors";
import { MAX_BATCH_ITEMS, type BatchItem } from "../../job/batch";
import { jsonNestsDeeperThan } from "../../json-depth";
import { DEFAULT_PAGE_SIZE, MAX_JOB_ID_PREFIX_CHARS, MAX_JSON_DEPTH, MAX_PAGE_SIZE, MAX_WAIT_FOR_TERMINAL_SECONDS } from "../../limits";
import { ErrorSchema, OrgParams, VersionSelectorSchema } from "../schemas";

export const JobStatusSchema = z.enum(["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"]);

export const JobErrorSchema = z.object({ code: z.string(), message: z.string(), stepName: z.string().optional() });

export const JobSummarySchema = z
  .object({
    jobId: z.string(),
    status: JobStatusSchema,
    workflowId: z.string(),
    workflowName: z.string(),
    workflowVersion: z.object({ versionId: z.string(), versionNumber: z.number().int() }),
    submittedByUser: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
    startedAt: z.string().optional(),
    finishedAt: z.string().optional(),
    parentJobId: z.string().optional(),
    parentStepName: z.string().optional(),
    rootJobId: z.string().optional(),
    scheduleId: z.string().optional().openapi({ description: "Extension: the schedule whose firing started this job." }),
    scheduledAt: z.string().optional().openapi({ description: "Extension: that firing's nominal fire time (RFC 3339). The job's input is the schedule's inputJson, unchanged." }),
    billableTransactionUnits: z.number().int(),
    currentStepName: z.string().optional(),
    error: JobErrorSchema.optional(),
    output: z.unknown().optional(),
    runNumber: z.number().int(),
    waitingForResourcePool: z
      .object({ poolId: z.string(), queuedAt: z.string().optional() })
      .optional()
      .openapi({ description: "Extension: a PENDING job waits for a lease in this resource pool (queued since queuedAt)." }),
    childKey: z.string().optional().openapi({ description: "Extension: a child job's `id` in its parent's runChildJob step, or its forEach index, as a string." }),
    childIndex: z
      .number()
      .int()
      .optional()
      .openapi({ description: "Extension: a child job's position in its parent's step's list (or forEach array); ListJobs parentJobId lists children in this order." }),
  })
  .openapi("JobSummary");

export const SubmitJobBody = z
  .object({
    workflowId: z.string().min(1).max(100).optional(),
    workflowName: z.string().min(1).max(200).optional().openapi({ description: "Extension: may replace workflowId." }),
    workflowVersion: VersionSelectorSchema,
    inputJson: z.union([z.string(), z.record(z.string(), z.unknown()), z.array(z.unknown())]).optional().openapi({
      description: "The job's workflowInput: a JSON string, as the JustWorkflowIt client sends it, or a JSON value.",
    }),
    idempotencyKey: z.string().min(1).max(200).optional().openapi({ description: "Extension: the same key within 24 h returns the same job." }),
  })
  .refine((b) => (b.workflowId === undefined) !== (b.workflowName === undefined), {
    message: "Give exactly one of workflowId and workflowName.",
    path: ["workflowId"],
  })
  .openapi("SubmitJobRequest");

export const SubmitJobsBody = z
  .object({
    jobs: z
      .array(z.unknown())
      .min(1)
      .max(MAX_BATCH_ITEMS)
      .openapi({ description: `Up to ${MAX_BATCH_ITEMS} items, each a SubmitJobRequest; an invalid item gets its own error.` }),
  })
  .openapi("SubmitJobsRequest");

export const BatchResultSchema = z
  .union([z.object({ jobId: z.string() }), z.object({ error: ErrorSchema })])
  .openapi("SubmitJobsResult");

export const JobParams = OrgParams.extend({
  jobId: z.string().min(1).max(100).openapi({ param: { name: "jobId", in: "path" } }),
});

export const RunQuery = z.object({
  runNumber: z.coerce.number().int().min(1).optional().openapi({ description: "Extension: read an earlier run of a job that continued as new (kept 7 days)." }),
});

export const GetJobQuery = z.object({
  waitForTerminalSeconds: z.coerce
    .number()
    .int()
    .min(0)
    .max(MAX_WAIT_FOR_TERMINAL_SECONDS)
    .optional()
    .openapi({
      description: `Extension: hold the request until the job is SUCCEEDED, FAILED or CANCELLED, or this many seconds (at most ${MAX_WAIT_FOR_TERMINAL_SECONDS}) have passed; the answer is then the job as it is.`,
    }),
});

export const ListJobsQuery = z.object({
  status: JobStatusSchema.optional(),
  workflowName: z.string().max(200).optional().openapi({
    description: "A case-insensitive contains match on the workflow's name (ASCII letters fold; `%` and `_` are literal).",
  }),
  workflowVersionNumber: z.coerce.number().int().min(1).optional(),
  createdAfter: z.iso.datetime().optional(),
  createdBefore: z.iso.datetime().optional(),
  jobHierarchy: z.enum(["ALL", "TOP_LEVEL_ONLY", "CHILD_JOBS_ONLY"]).default("ALL"),
  scheduleId: z.string().max(100).optional().openapi({ description: "Extension: only jobs started by this schedule." }),
  parentJobId: z
    .string()
    .min(1)
    .max(100)
    .optional()
    .openapi({
      description:
        "Extension: only the direct children of this job (how the console pages a job's tree), in the order their parent's steps listed them: by the step attempt that created them, then by childIndex (not newest first).",
    }),
  rootJobId: z.string().min(1).max(100).optional().openapi({ description: "Extension: only the jobs of this root job's tree, the root itself included." }),
  jobIdPrefix: z
    .string()
    .regex(/^[0-9A-Fa-f-]{1,36}$/, `1 to ${MAX_JOB_ID_PREFIX_CHARS} characters of a job id (hex digits and dashes)`)
    .optional()
    .openapi({ description: `Extension: only jobs whose id starts with this (1 to ${MAX_JOB_ID_PREFIX_CHARS} characters, case-insensitive): the console's "Search jobs" box.` }),
  pageToken: z.string().max(500).optional(),
  pageSize: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
});

export const HistoryItemSchema = z
  .object({
    id: z.string(),
    stepName: z.string(),
    stepExecutorType: z.string(),
    historySource: z.enum(["engine", "external"]),
    // Required (the client requires it): a refinement makes OpenAPI list it, as z.unknown() alone would not.
    input: z
      .unknown()
      .refine((v) => v !== undefined)
      .openapi({ description: "The step's input; always present, null for an external event." }),
    output: z.object({ status: z.enum(["success", "failure", "successful_but_incomplete"]), payload: z.unknown().optional() }),
    startTimestamp: z.string(),
    endTimestamp: z.string(),
    errors: z.array(z.string()),
    warnings: z.array(z.string()),
    eventId: z.string().optional(),
  })
  .openapi("ExecutionHistoryItem");

/** `inputJson` arrives as a JSON string from the JustWorkflowIt client, or as a value. */
export function parseInput(inputJson: unknown): unknown {
  if (inputJson === undefined) return {};
  if (typeof inputJson !== "string") return inputJson;
  if (jsonNestsDeeperThan(inputJson, MAX_JSON_DEPTH)) {
    throw new ValidationError(`inputJson nests deeper than ${MAX_JSON_DEPTH} levels.`, [`inputJson: nests deeper than ${MAX_JSON_DEPTH} levels`], {
      inputJson: `nests deeper than ${MAX_JSON_DEPTH} levels`,
    });
  }
  try {
    return JSON.parse(inputJson);
  } catch {
    throw new ValidationError("inputJson is not valid JSON.", ["inputJson: not valid JSON"], { inputJson: "not valid JSON" });
  }
}

/** A SubmitJob body as the engine's submission (its `inputJson` parsed). */
export function submissionOf(body: z.infer<typeof SubmitJobBody>): BatchItem {
  return {
    workflow: body.workflowId !== undefined ? { workflowId: body.workflowId } : { workflowName: body.workflowName! },
    version: body.workflowVersion,
    input: parseInput(body.inputJson),
    ...(body.idempotencyKey !== undefined ? { idempotencyKey: body.idempotencyKey } : {}),
  };
}
