/**
 * Metric events folded into rollup increments: one per (workflow, metric, hour) with the count,
 * sum and maximum of its observations, which is all GetWorkflowMetricTimeSeries needs (avg, count,
 * max, sum over hour or day buckets). Pure: a job seals its events with these before they leave it.
 */
import { HOUR_MS, type Increment, type MetricEvent } from "./types";

/** Increments keyed by bucket, merged as they come. */
export class Rollup {
  private readonly buckets = new Map<string, Increment>();

  get size(): number {
    return this.buckets.size;
  }

  /** Adds one observation. */
  addEvent(e: MetricEvent): void {
    this.add([e.workflowId, e.metric, Math.floor(e.at / HOUR_MS) * HOUR_MS, 1, e.value, e.value]);
  }

  /** Adds an increment (another job's, already folded). */
  add(inc: Increment): void {
    const [workflowId, metric, hour, n, total, peak] = inc;
    const key = `${workflowId}\u0000${metric}\u0000${hour}`;
    const cur = this.buckets.get(key);
    this.buckets.set(key, cur ? [workflowId, metric, hour, cur[3] + n, cur[4] + total, Math.max(cur[5], peak)] : [workflowId, metric, hour, n, total, peak]);
  }

  increments(): Increment[] {
    return [...this.buckets.values()];
  }
}
