/** GetWorkflowMetricTimeSeries: rollups that jobs flush to their organization's index (src/metrics, src/job-index). */
import { createRoute, z } from "@hono/zod-openapi";
import { NotFoundError, ValidationError } from "../../errors";
import { MAX_METRIC_BUCKETS } from "../../limits";
import { metricSeries } from "../../job-index/shards";
import { seriesPoints } from "../../metrics/series";
import { organizationIndex } from "../../registry/organizations";
import { findWorkflow } from "../../registry/workflows";
import { AGGREGATIONS, BUCKETS, BUCKET_MS, METRIC_TYPES } from "../../metrics/types";
import { requireOrganization } from "../auth";
import type { App } from "../context";
import { OrgParams, errorResponses, json } from "../schemas";

const DateTime = z.string().refine((s) => /^\d{4}-\d{2}-\d{2}T/.test(s) && !Number.isNaN(Date.parse(s)), "an RFC 3339 date-time, such as 2026-01-01T00:00:00Z");

const MetricQuery = z.object({
  metric: z.enum(METRIC_TYPES).openapi({ param: { name: "metric", in: "query" } }),
  aggregation: z.enum(AGGREGATIONS).openapi({ param: { name: "aggregation", in: "query" }, description: "avg, count or max; sum is an extension." }),
  bucket: z.enum(BUCKETS).openapi({ param: { name: "bucket", in: "query" } }),
  since: DateTime.openapi({ param: { name: "since", in: "query" } }),
  until: DateTime.openapi({ param: { name: "until", in: "query" } }),
  workflowId: z
    .string()
    .min(1)
    .max(100)
    .optional()
    .openapi({ param: { name: "workflowId", in: "query" }, description: "Extension: only this workflow's jobs (default: every workflow of the organization)." }),
});

const SeriesSchema = z
  .object({
    results: z.array(z.object({ timestamp: z.string(), value: z.number() }).openapi("AggregatedMetricResult")),
  })
  .openapi("GetWorkflowMetricTimeSeriesOutput");

/** Registers the metrics route. */
export function registerMetricRoutes(app: App): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/organizations/{organizationId}/workflow-metrics/timeseries",
      operationId: "GetWorkflowMetricTimeSeries",
      description:
        "One point per UTC hour or day bucket that has observations, oldest first, from the bucket containing `since` to `until` (exclusive). " +
        `At most ${MAX_METRIC_BUCKETS} buckets.`,
      security: [{ Bearer: [] }],
      request: { params: OrgParams, query: MetricQuery },
      responses: { 200: json(SeriesSchema), ...errorResponses("ValidationError", "AuthenticationError", "AuthorizationError", "NotFoundError") },
    }),
    async (c) => {
      const { organizationId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      const q = c.req.valid("query");
      const since = Date.parse(q.since);
      const until = Date.parse(q.until);
      if (until <= since) throw new ValidationError("until must be later than since.", ["until: must be later than since"], { until: "must be later than since" });
      const width = BUCKET_MS[q.bucket];
      if (Math.ceil((until - Math.floor(since / width) * width) / width) > MAX_METRIC_BUCKETS) {
        throw new ValidationError(`The range spans more than ${MAX_METRIC_BUCKETS} ${q.bucket} buckets; narrow it or use day buckets.`, ["since: range too long"], { since: "range too long" });
      }
      if (q.workflowId !== undefined && !(await findWorkflow(c.env.DB, organizationId, { workflowId: q.workflowId }))) {
        throw new NotFoundError(`Workflow ${q.workflowId} was not found.`);
      }
      const query = { metric: q.metric, aggregation: q.aggregation, bucket: q.bucket, since, until, ...(q.workflowId !== undefined ? { workflowId: q.workflowId } : {}) };
      const buckets = await metricSeries(c.env, await organizationIndex(c.env.DB, organizationId), query);
      return c.json({ results: seriesPoints(q.aggregation, buckets) }, 200);
    },
  );
}
