/**
 * The shapes of the public API the console reads, as /openapi.json describes them (src/api/routes/*.ts).
 * Only the fields the console shows are listed.
 */
export type JobStatus = "PENDING" | "RUNNING" | "SUCCEEDED" | "FAILED" | "CANCELLED";
export const JOB_STATUSES: readonly JobStatus[] = ["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"];
export const isTerminal = (s: JobStatus) => s === "SUCCEEDED" || s === "FAILED" || s === "CANCELLED";

export interface Organization {
  organizationId: string;
  name: string;
  key: string;
  displayName: string;
  createdAt: string;
}

export interface JobError {
  code: string;
  message: string;
  stepName?: string;
}

export interface JobSummary {
  jobId: string;
  status: JobStatus;
  workflowId: string;
  workflowName: string;
  workflowVersion: { versionId: string; versionNumber: number };
  submittedByUser: string;
  createdAt: string;
  updatedAt: string;
  startedAt?: string;
  finishedAt?: string;
  parentJobId?: string;
  parentStepName?: string;
  rootJobId?: string;
  billableTransactionUnits: number;
  currentStepName?: string;
  error?: JobError;
  output?: unknown;
  runNumber: number;
  scheduleId?: string;
  scheduledAt?: string;
  triggerId?: string;
  apiAuthTokenId?: string;
  childKey?: string;
  childIndex?: number;
  waitingForResourcePool?: { poolId: string; queuedAt?: string };
  /** GetJob only: what a job that has not ended waits for now. */
  waitingFor?: WaitingFor;
}

export type WaitingFor =
  | { kind: "resourcePool"; poolId: string; since?: string }
  | { kind: "call"; stepName: string; since: string; attempt: number; attemptsAllowed: number; timeoutAt?: string }
  | { kind: "retry"; stepName: string; since: string; until: string; attempt: number; attemptsAllowed: number }
  | { kind: "poll"; stepName: string; since: string; until: string; polls: number; timeoutAt?: string }
  | { kind: "events"; stepName: string; since: string; eventIds: string[]; received: string[]; timeoutAt?: string }
  | { kind: "timer"; stepName: string; since: string; until: string }
  | { kind: "unpause"; stepName: string; since: string }
  | { kind: "children"; stepName: string; since: string; total: number; running: number; notStarted: number; succeeded: number; failed: number; toleratedFailures: number };

export interface GetJobResponse {
  job: JobSummary;
  parentJob?: { jobId: string; status: JobStatus; workflowName: string; stepName: string };
}

export interface ListJobsResponse {
  jobs: JobSummary[];
  nextPageToken?: string;
  totalCount: number;
  statusCounts: Record<JobStatus, number>;
}

export interface HistoryItem {
  id: string;
  stepName: string;
  stepExecutorType: string;
  historySource: "engine" | "external";
  input: unknown;
  output: { status: "success" | "failure" | "successful_but_incomplete"; payload?: unknown };
  startTimestamp: string;
  endTimestamp: string;
  errors: string[];
  warnings: string[];
  eventId?: string;
  attempt?: number;
  /** The try within this execution of the step, of `attemptsAllowed` (1 + retries). */
  executionAttempt?: number;
  attemptsAllowed?: number;
  /** Which execution of the step in the run (a loop's passes). */
  iteration?: number;
  retryAt?: string;
  statusCode?: number;
  payloadTruncated?: { originalBytes: number };
  cancelled?: true;
}

export interface WorkflowState {
  state: { nextStepName?: string; executionData: Record<string, unknown>; executionHistory: HistoryItem[] };
}

export interface Workflow {
  workflowId: string;
  name: string;
  createdAt: string;
}

export interface WorkflowVersion {
  versionId: string;
  versionNumber: number;
  definition: string;
  createdAt: string;
  tags: string[];
}

export interface WebhookTrigger {
  triggerId: string;
  name: string;
  workflowId: string;
  workflowVersion: { tag: string } | { versionId: string } | { versionNumber: number };
  scheme: "standard-webhooks" | "github";
  url: string;
  rateLimitPerSecond: number;
  createdAt: string;
}

export interface ApiErrorBody {
  code: string;
  message: string;
  errors?: string[];
}

/** GET /users/me: who the signed-in token is. */
export interface CallerInfo {
  caller: { type: "admin" } | { type: "token"; organizationId: string; apiAuthTokenId: string; name: string; expiresAt?: string };
  permissions: string[];
}

export interface ScheduleSpec {
  workflowId: string;
  workflowName: string;
  workflowVersion: { tag: string } | { versionId: string } | { versionNumber: number };
  inputJson: Record<string, unknown>;
  cron: string;
  timezone: string;
  startAt?: string;
  endAt?: string;
  jitterSeconds: number;
  overlapPolicy: string;
  catchupWindowSeconds: number;
  pauseOnFailure: boolean;
}

export interface ScheduleSummary {
  scheduleId: string;
  spec: ScheduleSpec;
  paused: boolean;
  note?: string;
  createdAt: string;
  updatedAt: string;
}

export interface ScheduleAction {
  trigger: "SCHEDULED" | "TRIGGERED" | "BACKFILL";
  scheduledAt: string;
  actionTime: string;
  jobId?: string;
  result: string;
  detail?: string;
}

export interface Schedule extends ScheduleSummary {
  nextFireTimes: string[];
  recentActions: ScheduleAction[];
  missedCount: number;
  skippedCount: number;
}

export interface MetricSeries {
  results: { timestamp: string; value: number }[];
}
