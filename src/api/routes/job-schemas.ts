/**
 * What the job routes accept and answer: their zod schemas (which also write /openapi.json), and the
 * two conversions of a SubmitJob body that SubmitJob, SubmitJobs and CreateSchedule share.
 */
import { z } from "@hono/zod-openapi";
import { ValidationError } from "../../errors";
import type { BatchItem } from "../../job/batch";
import { jsonNestsDeeperThan } from "../../json-depth";
import { DEFAULT_PAGE_SIZE, MAX_BATCH_ITEMS, MAX_FAILED_ATTEMPT_PAYLOAD_BYTES, MAX_JOB_ID_PREFIX_CHARS, MAX_JSON_DEPTH, MAX_PAGE_SIZE, MAX_WAIT_FOR_TERMINAL_SECONDS } from "../../limits";
import { ErrorSchema, OrgParams, VersionSelectorSchema } from "../schemas";

export const JobStatusSchema = z.enum(["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"]);

export const JobErrorSchema = z.object({ code: z.string(), message: z.string(), stepName: z.string().optional() });

const StepWaitBase = { stepName: z.string(), since: z.string() };

/** GetJob's `waitingFor` (src/engine/types.ts WaitingFor). */
export const WaitingForSchema = z
  .discriminatedUnion("kind", [
    z.object({ kind: z.literal("resourcePool"), poolId: z.string(), since: z.string().optional() }),
    z.object({ kind: z.literal("call"), ...StepWaitBase, attempt: z.number().int(), attemptsAllowed: z.number().int(), timeoutAt: z.string().optional() }),
    z.object({ kind: z.literal("retry"), ...StepWaitBase, until: z.string(), attempt: z.number().int(), attemptsAllowed: z.number().int() }),
    z.object({ kind: z.literal("poll"), ...StepWaitBase, until: z.string(), polls: z.number().int(), timeoutAt: z.string().optional() }),
    z.object({ kind: z.literal("events"), ...StepWaitBase, eventIds: z.array(z.string()), received: z.array(z.string()), timeoutAt: z.string().optional() }),
    z.object({ kind: z.literal("timer"), ...StepWaitBase, until: z.string() }),
    z.object({ kind: z.literal("unpause"), ...StepWaitBase }),
    z.object({
      kind: z.literal("children"),
      ...StepWaitBase,
      total: z.number().int(),
      running: z.number().int(),
      notStarted: z.number().int(),
      succeeded: z.number().int(),
      failed: z.number().int(),
      toleratedFailures: z.number().int(),
    }),
  ])
  .openapi("WaitingFor", {
    description:
      "Extension (GetJob only, read from the job itself): what a job that has not ended waits for now. resourcePool: a lease (PENDING). call: an executor's answer (attempt of attemptsAllowed: the try in the step's current execution, as a history item's executionAttempt). retry: the next attempt, due at until. poll: the next poll. events: the eventIds not yet received (received: those that have arrived). timer: a delay, until. unpause: the job is paused and begins the step at UnpauseJob. children: its children; running + notStarted have not ended.",
  });

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
    outputTooLarge: z
      .object({ bytes: z.number().int(), executionDataKey: z.string(), read: z.string() })
      .optional()
      .openapi({
        description:
          "Extension: the output of a SUCCEEDED job is left out when it is over MAX_PAYLOAD_BYTES (a runChildJob step's results): its size in bytes of JSON, the execution-data key holding it, and the path that reads it page by page (GetExecutionDataValue).",
      }),
    runNumber: z.number().int(),
    waitingForResourcePool: z
      .object({ poolId: z.string(), queuedAt: z.string().optional() })
      .optional()
      .openapi({ description: "Extension: a PENDING job waits for a lease in this resource pool (queued since queuedAt). Also told by waitingFor." }),
    rerunOf: z
      .object({ jobId: z.string(), fromStep: z.string() })
      .optional()
      .openapi({ description: "Extension: this job reruns that job, beginning at fromStep (RerunJob, RerunJobs)." }),
    paused: z
      .literal(true)
      .optional()
      .openapi({ description: "Extension: present while the job is paused (PauseJob, or a paused ancestor): it starts no new step attempt." }),
    triggerId: z.string().optional().openapi({ description: "Extension: the webhook trigger whose delivery started the job." }),
    apiAuthTokenId: z.string().optional().openapi({ description: "Extension: the API token that submitted the job." }),
    childKey: z.string().optional().openapi({ description: "Extension: a child job's `id` in its parent's runChildJob step, or its forEach index, as a string." }),
    childIndex: z
      .number()
      .int()
      .optional()
      .openapi({ description: "Extension: a child job's place (from 0) in its parent's step's list (or forEach array); ListJobs parentJobId lists children in this order." }),
    waitingFor: WaitingForSchema.optional(),
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
    batchKey: z.string().min(1).max(200).optional().openapi({
      description:
        "Extension: names the batch, so that sending it again is safe. The same batch with the same key within 24 h answers the same job ids and starts nothing twice; another batch with the same key is a 409.",
    }),
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

export const PagedRunQuery = RunQuery.extend({
  pageToken: z.string().max(100).optional().openapi({ description: "Extension: the nextPageToken of the previous page." }),
});

/** `read` paths and the markers that stand for values an answer left out. */
const OmittedValues = z
  .array(z.string())
  .optional()
  .openapi({
    description:
      'Extension: where the answer holds a marker {"canopyOmitted": {bytes, read}} instead of a value over 64 KiB (or past 512 KiB of execution data): "executionData.<key>", "executionHistory.<i>.input" or "executionHistory.<i>.output.payload". Read the value at `read`.',
  });

export const WorkflowStateAnswer = z.object({
  state: z.object({ nextStepName: z.string().optional(), executionData: z.record(z.string(), z.unknown()), executionHistory: z.array(z.unknown()) }),
  omittedValues: OmittedValues,
  nextPageToken: z.string().optional().openapi({ description: "Extension: the history goes on; pass this as pageToken for the next page." }),
});

export const ValueAnswer = z
  .object({
    value: z.unknown().openapi({ description: "The value; for a runChildJob step's results, a page of them: {results, succeeded, failed}." }),
    nextPageToken: z.string().optional().openapi({ description: "More results: pass this as pageToken." }),
  })
  .openapi("ExecutionDataValue");

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
    .min(1)
    .max(MAX_JOB_ID_PREFIX_CHARS)
    .regex(/^[0-9A-Fa-f-]+$/, "the first characters of a job id: hexadecimal digits and dashes")
    .optional()
    .openapi({
      description: `Extension: only jobs whose id starts with these 1 to ${MAX_JOB_ID_PREFIX_CHARS} characters (case-insensitive): find a job by the start of its id (the console's "Search jobs" box).`,
    }),
  rerunOf: z
    .string()
    .min(1)
    .max(100)
    .optional()
    .openapi({ description: "Extension: only the reruns of this job (RerunJob, RerunJobs), newest first: the jobs whose rerunOf names it." }),
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
    output: z.object({
      status: z.enum(["success", "failure", "successful_but_incomplete"]),
      payload: z.unknown().optional().openapi({
        description:
          "The attempt's output; on a failed attempt (extension), the answer that failed it when there was one: the output that failed its schema, an HTTP error's body. Secrets the step read are replaced by [secret].",
      }),
    }),
    startTimestamp: z.string(),
    endTimestamp: z.string(),
    errors: z.array(z.string()),
    warnings: z.array(z.string()),
    eventId: z.string().optional(),
    attempt: z
      .number()
      .int()
      .optional()
      .openapi({ description: "Extension: the attempt's number among every attempt of this step in the job: it goes on counting across runs (continueAsNew), so it never repeats." }),
    executionAttempt: z
      .number()
      .int()
      .optional()
      .openapi({ description: "Extension: the try within this execution of the step, from 1 (a retry is the next try; polls share theirs)." }),
    attemptsAllowed: z.number().int().optional().openapi({ description: "Extension: the tries this execution of the step may take (1 + retries)." }),
    iteration: z
      .number()
      .int()
      .optional()
      .openapi({ description: "Extension: which execution of this step in the run, from 1: each transition into the step (a loop) starts the next; retries do not." }),
    retryAt: z.string().optional().openapi({ description: "Extension: on a failed attempt that will be tried again, when." }),
    statusCode: z.number().int().optional().openapi({ description: "Extension: the HTTP status the far end answered (HTTP, Lambda and Cloud Function steps)." }),
    payloadTruncated: z
      .object({ originalBytes: z.number().int() })
      .optional()
      .openapi({ description: `Extension: on a failed attempt, output.payload is the start (${MAX_FAILED_ATTEMPT_PAYLOAD_BYTES} bytes) of a longer answer, as text.` }),
    cancelled: z.literal(true).optional().openapi({ description: "Extension: the job was cancelled while at this step; the item is no attempt." }),
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
