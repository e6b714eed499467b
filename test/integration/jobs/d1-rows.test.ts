// D1 keeps the registry only: running jobs writes no row to it. Measured on every table of the
// database, around a batch of 200 jobs and a 1,000-step loop (which rolls over into ten runs here).
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import countdown from "../../fixtures/countdown.json";
import { tenantWith } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every table's row count, D1's own bookkeeping excepted. */
async function rowCounts(): Promise<Record<string, number>> {
  const { results } = await env.DB.prepare(
    `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name != 'd1_migrations'`,
  ).all<{ name: string }>();
  const counts: Record<string, number> = {};
  for (const { name } of results) counts[name] = (await env.DB.prepare(`SELECT COUNT(*) AS n FROM "${name}"`).first<{ n: number }>())!.n;
  return counts;
}

describe("D1", () => {
  it(
    "gets no row from 200 batch jobs and a 1,000-step loop, their index rows and their metrics",
    async () => {
      const quick = workflow("quick", [step("a", "/justworkflowit/noop", {}, "b"), step("b", "/justworkflowit/noop")]);
      const { client, orgId, ids } = await tenantWith(admin, quick, countdown);
      const before = await rowCounts();

      const batch = await client.expect(
        200,
        client.post(`/organizations/${orgId}/jobs/batch`, {
          jobs: Array.from({ length: 200 }, (_, n) => ({ workflowId: ids.quick, workflowVersion: { tag: "$LIVE" }, inputJson: { n }, idempotencyKey: `k${n}` })),
        }),
      );
      expect(batch.results.every((r: any) => typeof r.jobId === "string")).toBe(true);
      const loop = await submit(client, orgId, { workflowId: ids.countdown, workflowVersion: { tag: "$LIVE" }, inputJson: { n: 1000 }, idempotencyKey: "loop" });
      const { job } = await waitForJob(client, orgId, loop, undefined, 120_000);
      expect(job).toMatchObject({ status: "SUCCEEDED", billableTransactionUnits: 1001 });
      // Every job ended and is indexed so; the metrics of all of them are counted.
      const deadline = Date.now() + 300_000;
      for (;;) {
        const listed = await client.expect(200, client.get(`/organizations/${orgId}/jobs?status=SUCCEEDED&pageSize=1`));
        const qs = new URLSearchParams({ metric: "step_duration_seconds", aggregation: "count", bucket: "day", since: new Date(Date.now() - 86_400_000).toISOString(), until: new Date(Date.now() + 86_400_000).toISOString() });
        const steps = (await client.expect(200, client.get(`/organizations/${orgId}/workflow-metrics/timeseries?${qs}`))).results.reduce((n: number, p: any) => n + p.value, 0);
        if (listed.totalCount === 201 && steps === 2 * 200 + 1001) break;
        if (Date.now() > deadline) throw new Error(`not settled: ${listed.totalCount} jobs, ${steps} steps counted`);
        await sleep(250);
      }

      expect(await rowCounts()).toEqual(before);
    },
    400_000,
  );
});
