/**
 * D1 access for workflow metrics: hour rollups (`metric_rollups`) and the keys of the events they
 * counted (`metric_events`). Writers are jobs' Durable Objects (a batch of events per flush) and,
 * for organization-wide samples, whoever observes them (`recordMetricEvents`).
 */
import { METRIC_EVENT_PRUNE_BATCH, METRIC_EVENT_RETENTION_MS } from "../limits";
import { BUCKET_MS, HOUR_MS, type Aggregation, type Bucket, type MetricEvent, type MetricType } from "../metrics/types";

/**
 * Adds events to the rollups, each counted once however often it is written: one D1 batch (a
 * transaction) adds to the hour rows only the events whose keys are not yet recorded, then records
 * their keys, then prunes expired keys: twice as many as it may insert (at least
 * METRIC_EVENT_PRUNE_BATCH), so the keys of a week never pile up however heavy the load, and a
 * backlog drains. Three statements, whatever the count.
 */
export async function recordMetricEvents(db: D1Database, events: MetricEvent[], now = Date.now()): Promise<void> {
  if (events.length === 0) return;
  const rows = JSON.stringify(events.map((e) => [e.key, e.organizationId, e.workflowId, e.metric, Math.floor(e.at / HOUR_MS) * HOUR_MS, e.value]));
  await db.batch([
    db
      .prepare(
        `INSERT INTO metric_rollups (organization_id, metric, hour_start, workflow_id, n, total, peak)
         SELECT org, metric, hour, wf, COUNT(*), SUM(v), MAX(v) FROM (
           SELECT DISTINCT e.value ->> 0 AS k, e.value ->> 1 AS org, e.value ->> 3 AS metric, e.value ->> 4 AS hour,
             e.value ->> 2 AS wf, e.value ->> 5 AS v
           FROM json_each(?1) e
           WHERE NOT EXISTS (SELECT 1 FROM metric_events m WHERE m.event_key = e.value ->> 0)
         ) GROUP BY org, metric, hour, wf
         ON CONFLICT (organization_id, metric, hour_start, workflow_id) DO UPDATE SET
           n = n + excluded.n, total = total + excluded.total, peak = MAX(peak, excluded.peak)`,
      )
      .bind(rows),
    db
      .prepare(`INSERT INTO metric_events (event_key, recorded_at) SELECT value ->> 0, ?2 FROM json_each(?1) WHERE true ON CONFLICT (event_key) DO NOTHING`)
      .bind(rows, now),
    db
      .prepare(`DELETE FROM metric_events WHERE event_key IN (SELECT event_key FROM metric_events WHERE recorded_at < ? ORDER BY recorded_at LIMIT ?)`)
      .bind(now - METRIC_EVENT_RETENTION_MS, Math.max(METRIC_EVENT_PRUNE_BATCH, 2 * events.length)),
  ]);
}

export interface MetricQuery {
  metric: MetricType;
  aggregation: Aggregation;
  bucket: Bucket;
  /** Epoch ms; buckets that start at or after since's bucket and before `until`. */
  since: number;
  until: number;
  workflowId?: string;
}

/** One bucket of a series: its start and the aggregated value. */
export interface MetricPoint {
  timestamp: string;
  value: number;
}

/**
 * The series of one metric, a point per bucket that has observations (a bucket without any has
 * no point: "no data" is not 0 for an average), oldest first. One query over hour rows.
 */
export async function metricSeries(db: D1Database, organizationId: string, q: MetricQuery): Promise<MetricPoint[]> {
  const width = BUCKET_MS[q.bucket];
  const from = Math.floor(q.since / width) * width;
  const args: (string | number)[] = [width, organizationId, q.metric, from, q.until];
  let where = `organization_id = ?2 AND metric = ?3 AND hour_start >= ?4 AND hour_start < ?5`;
  if (q.workflowId !== undefined) {
    where += ` AND workflow_id = ?6`;
    args.push(q.workflowId);
  }
  // D1 binds numbers as REAL: the bucket is cast back to an integer multiple of its width.
  const { results } = await db
    .prepare(
      `SELECT CAST(hour_start / ?1 AS INTEGER) * ?1 AS b, SUM(n) AS n, SUM(total) AS total, MAX(peak) AS peak
       FROM metric_rollups WHERE ${where} GROUP BY b ORDER BY b`,
    )
    .bind(...args)
    .all<{ b: number; n: number; total: number; peak: number }>();
  return results.map((r) => ({ timestamp: new Date(r.b).toISOString(), value: aggregate(q.aggregation, r) }));
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
