/**
 * The shapes of the public API the console reads, named. Every one is taken from openapi.d.ts, which
 * `npm run types:console` generates from the Worker's own /openapi.json (src/api/routes/*.ts): none is
 * written by hand, so an API change the console has not followed fails its type check. What is
 * hand-written here only narrows them (one kind of WaitingFor) or lists a union's members at run time.
 */
import type { components, operations } from "./openapi";

type Schemas = components["schemas"];

/** The JSON body of an operation's success answer (200 or 201). */
export type Answer<Op extends keyof operations> = operations[Op]["responses"] extends Record<200, { content: { "application/json": infer T } }>
  ? T
  : operations[Op]["responses"] extends Record<201, { content: { "application/json": infer T } }>
    ? T
    : never;

/** The JSON body an operation takes. */
export type RequestBody<Op extends keyof operations> = operations[Op] extends { requestBody?: { content: { "application/json": infer T } } } ? T : never;

export type JobSummary = Schemas["JobSummary"];
export type JobStatus = JobSummary["status"];
export type JobError = NonNullable<JobSummary["error"]>;
export type WaitingFor = Schemas["WaitingFor"];
/** One kind of WaitingFor (`"children"`, `"retry"`, …). */
export type WaitingForKind<K extends WaitingFor["kind"]> = Extract<WaitingFor, { kind: K }>;

/** Every JobStatus, in the order the console lists them (the compiler checks none is missing). */
export const JOB_STATUSES = ["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"] as const satisfies readonly JobStatus[];
type MissingStatus = Exclude<JobStatus, (typeof JOB_STATUSES)[number]>;
const everyStatusListed: MissingStatus extends never ? true : never = true;
void everyStatusListed;
/** `value` when it is one of `members` (a union's members listed at run time), else undefined: for values read from a URL. */
export function oneOf<T extends string>(members: readonly T[], value: string | null): T | undefined {
  return (members as readonly string[]).includes(value ?? "") ? (value as T) : undefined;
}
export const isTerminal = (s: JobStatus) => s === "SUCCEEDED" || s === "FAILED" || s === "CANCELLED";

export type Organization = Schemas["Organization"];
export type GetJobResponse = Answer<"GetJob">;
export type ListJobsResponse = Answer<"ListJobs">;
export type WorkflowState = Answer<"GetWorkflowState">;
export type HistoryItem = WorkflowState["state"]["executionHistory"][number];
export type Workflow = Schemas["Workflow"];
export type WorkflowVersion = Schemas["WorkflowVersion"];
export type WorkflowVersionsPage = Answer<"ListWorkflowVersions">;
/** A version as ListWorkflowVersions lists it (without its workflowId). */
export type ListedVersion = WorkflowVersionsPage["versions"][number];
export type WebhookTrigger = Schemas["WebhookTrigger"];
export type ApiErrorBody = Schemas["Error"];
/** GET /users/me: who the signed-in token is. */
export type CallerInfo = Answer<"GetCaller">;
export type ScheduleSpec = Schemas["ScheduleSpec"];
export type ScheduleSummary = Schemas["ScheduleSummary"];
export type Schedule = Schemas["Schedule"];
export type ScheduleAction = Schedule["recentActions"][number];
export type MetricSeries = Answer<"GetWorkflowMetricTimeSeries">;
export type AuditEntry = Schemas["AuditEntry"];
export type AuditLogPage = Schemas["AuditLogPage"];
export type AuditAction = AuditEntry["action"];
export type RerunJobRequest = RequestBody<"RerunJob">;
export type RerunJobsRequest = RequestBody<"RerunJobs">;
export type RerunJobsResult = Answer<"RerunJobs">["results"][number];
