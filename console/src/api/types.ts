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
}

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
