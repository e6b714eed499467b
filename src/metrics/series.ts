/** GetWorkflowMetricTimeSeries' points from each bucket's totals (src/job-index holds the rollups). */
import type { Aggregation } from "./types";

/** One bucket of a series: its start and the aggregated value. */
export interface MetricPoint {
  timestamp: string;
  value: number;
}

/** A bucket's value: avg = sum / count; a bucket without observations has no point ("no data" is not 0). */
export function seriesPoints(a: Aggregation, buckets: { b: number; n: number; total: number; peak: number }[]): MetricPoint[] {
  return buckets.map((r) => ({ timestamp: new Date(r.b).toISOString(), value: aggregate(a, r) }));
}

function aggregate(a: Aggregation, r: { n: number; total: number; peak: number }): number {
  switch (a) {
    case "count":
      return r.n;
    case "sum":
      return r.total;
    case "max":
      return r.peak;
    case "avg":
      return r.n === 0 ? 0 : r.total / r.n;
  }
}
