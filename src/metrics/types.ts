/** Workflow metrics: the client's `WorkflowMetricType`s and one recorded observation of one. */

/** Every `WorkflowMetricType` of the JustWorkflowIt client. */
export const METRIC_TYPES = [
  "billable_transaction_units",
  "jobs_completed_successfully",
  "jobs_failed",
  "jobs_submitted",
  "job_duration_seconds",
  "job_timeout_count",
  "resource_utilization",
  "resource_utilization_available",
  "resource_utilization_used",
  "step_duration_seconds",
  "step_failures",
  "step_retries",
] as const;
export type MetricType = (typeof METRIC_TYPES)[number];

/** The client's `MetricAggregation`, plus `sum` (an extension). */
export const AGGREGATIONS = ["avg", "count", "max", "sum"] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

/** The client's `TimeBucket`. */
export const BUCKETS = ["hour", "day"] as const;
export type Bucket = (typeof BUCKETS)[number];

export const HOUR_MS = 60 * 60 * 1000;
export const DAY_MS = 24 * HOUR_MS;
export const BUCKET_MS: Record<Bucket, number> = { hour: HOUR_MS, day: DAY_MS };

/**
 * One observation. `key` names the event it observes (a job's end, a step attempt's history item),
 * so writing it twice counts it once.
 */
export interface MetricEvent {
  key: string;
  organizationId: string;
  /** The workflow it belongs to; "" for an organization-wide sample (a resource pool's). */
  workflowId: string;
  metric: MetricType;
  /** Epoch ms of the observation: it falls in the hour bucket that contains it. */
  at: number;
  value: number;
}

/** One rollup increment: a (workflow, metric, hour) bucket's count, sum and maximum. */
export type Increment = [workflowId: string, metric: MetricType, hourStart: number, n: number, total: number, peak: number];

/**
 * A sealed batch of increments under a random key: whoever receives it (a parent job, an index
 * shard) counts each key once, so a flush sent again after a crash counts nothing twice. The key
 * names no job: the index shard remembers it for a week.
 */
export interface MetricFlush {
  key: string;
  increments: Increment[];
}
