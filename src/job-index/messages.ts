/**
 * What crosses the boundary of a job index object (src/job-index/job-index.ts): the rows writers
 * send, the queries readers ask, and the RPC surface stubs are typed with. Type-only, with no
 * runtime imports, so job objects, the API and the reaper can name these without importing the
 * object (that import would tie them into one cycle).
 */
import type { JobStatus, JobSummary } from "../engine/types";
import type { RpcResult } from "../errors";
import type { Aggregation, Bucket, MetricFlush, MetricType } from "../metrics/types";

export type { Increment, MetricFlush } from "../metrics/types";

/**
 * One job's index row as a writer sends it: its summary as the job last wrote it (without
 * `output`, the error message cut), the job's index sequence (a row only ever moves to a higher
 * one, so a late retry never overwrites newer facts) and, for a child, its place among its
 * siblings. Any writer may send any number of these in one batch (a job, a parent for its
 * children, a submission, an intake object).
 */
export interface IndexEntry {
  job: JobSummary;
  seq: number;
  /** A child's order among its parent's children (see `siblingOrder`); absent for a top-level job. */
  order?: string;
}

/** ListJobs' filters, as one shard applies them. */
export interface IndexQuery {
  status?: JobStatus;
  /** One workflow exactly (RerunJobs' filter; ListJobs itself filters by name). */
  workflowId?: string;
  workflowName?: string;
  workflowVersionNumber?: number;
  createdAfter?: string;
  createdBefore?: string;
  jobHierarchy: "ALL" | "TOP_LEVEL_ONLY" | "CHILD_JOBS_ONLY";
  scheduleId?: string;
  parentJobId?: string;
  rootJobId?: string;
  jobIdPrefix?: string;
  /** Only the reruns of this job (RerunJob, RerunJobs), newest first. */
  rerunOf?: string;
}

/** A keyset position: the sort key of the last row returned (created_at, or the sibling order) and its job id. */
export interface IndexCursor {
  o: string;
  j: string;
}

/** One shard's page: rows in order with their sort keys, and its counts per status for the whole filter. */
export interface ShardPage {
  rows: { key: string; jobId: string; job: JobSummary }[];
  statusCounts: Partial<Record<JobStatus, number>>;
}

/** GetWorkflowMetricTimeSeries as one shard answers it: each bucket's count, sum and maximum. */
export interface MetricSeriesQuery {
  metric: MetricType;
  aggregation: Aggregation;
  bucket: Bucket;
  since: number;
  until: number;
  workflowId?: string;
}
export interface BucketTotals {
  b: number;
  n: number;
  total: number;
  peak: number;
}

/** The methods of a job index object that other code may call. */
export interface JobIndexRpc extends Rpc.DurableObjectBranded {
  write(entries: IndexEntry[]): Promise<RpcResult<{ written: number }>>;
  forgetUnstarted(jobIds: string[]): Promise<void>;
  page(q: IndexQuery, after: IndexCursor | null, limit: number): Promise<ShardPage>;
  find(jobId: string): Promise<{ job: JobSummary; started: boolean } | null>;
  statuses(jobIds: string[]): Promise<Record<string, JobStatus>>;
  unfinishedInTree(rootJobId: string): Promise<number>;
  roots(after: IndexCursor | null, limit: number, unfinishedOnly: boolean): Promise<{ createdAt: string; jobId: string }[]>;
  claimKeys(claims: { key: string; jobId: string }[], now: number): Promise<Record<string, string>>;
  importKeys(keys: { key: string; jobId: string; createdAt: number }[]): Promise<RpcResult<{ imported: number }>>;
  addMetrics(flushes: MetricFlush[], now: number): Promise<RpcResult<{ added: number }>>;
  metricSeries(q: MetricSeriesQuery): Promise<BucketTotals[]>;
  hideTree(rootJobId: string): Promise<void>;
  treeMembers(rootJobId: string, after: string, limit: number): Promise<string[]>;
  deleteTreeRows(rootJobId: string, limit: number): Promise<{ deleted: number }>;
  forgetTree(rootJobId: string): Promise<void>;
  counts(): Promise<{ jobs: number; hiddenTrees: number }>;
  deleteEverything(): Promise<{ deleted: boolean }>;
}
