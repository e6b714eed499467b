/**
 * A workflow's metrics as small charts (GetWorkflowMetricTimeSeries): runs, failure rate and job
 * durations per hour over the last day, or per day over the last week or month.
 */
import { useMemo, useState } from "react";
import { useGet, type GetInit } from "../api/hooks";
import type { MetricSeries } from "../api/types";
import { BarChart, type ChartPoint } from "../components/Chart";
import { duration } from "../components/format";
import { ErrorBox } from "../components/States";

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const RANGES = {
  day: { label: "Last 24 hours", bucket: "hour", width: HOUR, count: 24 },
  week: { label: "Last 7 days", bucket: "day", width: DAY, count: 7 },
  month: { label: "Last 30 days", bucket: "day", width: DAY, count: 30 },
} as const;
type Range = keyof typeof RANGES;

type SeriesQuery = GetInit<"/organizations/{organizationId}/workflow-metrics/timeseries">["params"]["query"];

function useSeries(org: string, workflowId: string, metric: SeriesQuery["metric"], aggregation: SeriesQuery["aggregation"], range: Range, until: number) {
  const r = RANGES[range];
  const since = Math.floor(until / r.width) * r.width - (r.count - 1) * r.width;
  const query = { metric, aggregation, bucket: r.bucket, since: new Date(since).toISOString(), until: new Date(until).toISOString(), workflowId };
  return useGet("/organizations/{organizationId}/workflow-metrics/timeseries", { params: { path: { organizationId: org }, query } });
}

/** Every bucket of the range, with the series' value where it has one. */
function buckets(range: Range, until: number, series: MetricSeries | undefined, fill: number | undefined): ChartPoint[] {
  const r = RANGES[range];
  const first = Math.floor(until / r.width) * r.width - (r.count - 1) * r.width;
  const byTime = new Map((series?.results ?? []).map((p) => [Date.parse(p.timestamp), p.value]));
  return Array.from({ length: r.count }, (_, i) => {
    const t = first + i * r.width;
    return { t, value: byTime.get(t) ?? fill };
  });
}

export function WorkflowMetrics({ org, workflowId }: { org: string; workflowId: string }) {
  const [range, setRange] = useState<Range>("day");
  // The range ends now, fixed while the page shows it (a new range, or reload, moves it).
  const until = useMemo(() => Date.now(), [range]);
  const runs = useSeries(org, workflowId, "jobs_submitted", "sum", range, until);
  const ok = useSeries(org, workflowId, "jobs_completed_successfully", "sum", range, until);
  const failed = useSeries(org, workflowId, "jobs_failed", "sum", range, until);
  const avg = useSeries(org, workflowId, "job_duration_seconds", "avg", range, until);
  const max = useSeries(org, workflowId, "job_duration_seconds", "max", range, until);
  const error = runs.error ?? ok.error ?? failed.error ?? avg.error ?? max.error;
  const label = (t: number) =>
    RANGES[range].bucket === "hour" ? new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : new Date(t).toLocaleDateString();
  const okPoints = buckets(range, until, ok.data, 0);
  const failedPoints = buckets(range, until, failed.data, 0);
  const rate: ChartPoint[] = okPoints.map((p, i) => {
    const f = failedPoints[i]!.value ?? 0;
    const total = (p.value ?? 0) + f;
    return { t: p.t, value: total > 0 ? f / total : undefined };
  });
  const per = RANGES[range].bucket;
  return (
    <section aria-labelledby="metrics-h" className="panel">
      <div className="panel-head">
        <h2 id="metrics-h">Metrics</h2>
        <label className="inline-field">
          Range
          <select value={range} onChange={(e) => setRange(e.target.value as Range)}>
            {Object.entries(RANGES).map(([k, r]) => (
              <option key={k} value={k}>
                {r.label}
              </option>
            ))}
          </select>
        </label>
      </div>
      {error && <ErrorBox error={error} title="Could not read the metrics" />}
      <div className="charts" data-testid="workflow-metrics">
        <BarChart title={`Runs per ${per}`} points={buckets(range, until, runs.data, 0)} format={(v) => String(Math.round(v))} bucketLabel={label} />
        <BarChart title={`Failure rate per ${per}`} points={rate} format={(v) => `${Math.round(v * 100)}%`} bucketLabel={label} tone="danger" />
        <BarChart title="Average duration" points={buckets(range, until, avg.data, undefined)} format={(v) => duration(v * 1000)} bucketLabel={label} tone="ok" />
        <BarChart title="Longest duration" points={buckets(range, until, max.data, undefined)} format={(v) => duration(v * 1000)} bucketLabel={label} tone="ok" />
      </div>
    </section>
  );
}
