// An organization created with several job index shards: each tree's rows live in its root's shard,
// and every read that spans the organization (ListJobs, its counts and pages, the metrics) merges
// the shards as if there were one.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { deployWorkflow, unique } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import type { JobIndex } from "../../../src/job-index/job-index";
import { indexShard, shardOf } from "../../../src/job-index/shards";
import { MAX_JOB_INDEX_SHARDS } from "../../../src/limits";

const SHARDS = 4;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function shardedTenant(shards: number) {
  const key = unique("sharded").toLowerCase().replace(/[^a-z0-9-]/g, "");
  const org = await admin.expect(200, admin.post("/organizations", { name: key, key, displayName: key, jobIndexShards: shards }));
  const tok = await admin.expect(200, admin.post(`/organizations/${org.organizationId}/api-auth-tokens`, { name: "tests" }));
  return { orgId: org.organizationId as string, client: admin.as(tok.token) };
}

describe("a sharded job index", () => {
  it("refuses a shard count out of bounds", async () => {
    for (const jobIndexShards of [0, MAX_JOB_INDEX_SHARDS + 1, 1.5]) {
      const res = await admin.post("/organizations", { name: unique("bad"), displayName: "bad", jobIndexShards });
      expect(res.status, String(jobIndexShards)).toBe(400);
    }
  });

  it(
    "keeps each tree in its root's shard and lists, pages, counts and measures across all of them",
    async () => {
      const { orgId, client } = await shardedTenant(SHARDS);
      const quick = workflow("quick", [step("only", "/justworkflowit/noop")]);
      const fan = workflow("fan", [
        step("spawn", "/justworkflowit/runChildJob", { config: { children: [{ workflowName: "quick", workflowVersion: { tag: "$LIVE" }, forEach: { arrayPath: "workflowInput.items" } }] } }),
      ]);
      const { workflowId: quickId } = await deployWorkflow(client, orgId, quick);
      const { workflowId: fanId } = await deployWorkflow(client, orgId, fan);
      const tops: string[] = [];
      for (let i = 0; i < 10; i++) tops.push(await submit(client, orgId, { workflowId: quickId, workflowVersion: { tag: "$LIVE" }, idempotencyKey: `k${i}` }));
      const parent = await submit(client, orgId, { workflowId: fanId, workflowVersion: { tag: "$LIVE" }, inputJson: { items: [{ n: 1 }, { n: 2 }, { n: 3 }] } });
      tops.push(parent);
      for (const id of tops) await waitForJob(client, orgId, id);
      // The same keys name the same jobs, whichever shard holds each key.
      for (let i = 0; i < 10; i++) expect(await submit(client, orgId, { workflowId: quickId, workflowVersion: { tag: "$LIVE" }, idempotencyKey: `k${i}` })).toBe(tops[i]);

      const deadline = Date.now() + 30_000;
      let all: any;
      do {
        all = await client.expect(200, client.get(`/organizations/${orgId}/jobs?status=SUCCEEDED&pageSize=100`));
        if (all.totalCount < 14) await sleep(50);
      } while (all.totalCount < 14 && Date.now() < deadline);
      expect(all.totalCount).toBe(14);
      expect(all.statusCounts).toEqual({ PENDING: 0, RUNNING: 0, SUCCEEDED: 14, FAILED: 0, CANCELLED: 0 });

      // The rows are spread: each tree in its root's shard, several shards in use.
      const perShard = await Promise.all(
        Array.from({ length: SHARDS }, (_, s) =>
          runInDurableObject(indexShard(env, orgId, s), (_o: JobIndex, state) =>
            state.storage.sql.exec<{ root_job_id: string }>(`SELECT root_job_id FROM job`).toArray().map((r) => r.root_job_id),
          ),
        ),
      );
      perShard.forEach((roots, s) => roots.forEach((root) => expect(shardOf(root, SHARDS)).toBe(s)));
      expect(perShard.filter((roots) => roots.length > 0).length).toBeGreaterThan(1);
      expect(perShard[shardOf(parent, SHARDS)]!.filter((r) => r === parent)).toHaveLength(4);

      // Pages of 3 over every shard: newest first, each job once.
      const seen: any[] = [];
      let token: string | undefined;
      do {
        const page = await client.expect(200, client.get(`/organizations/${orgId}/jobs?pageSize=3${token ? `&pageToken=${token}` : ""}`));
        expect(page.totalCount).toBe(14);
        seen.push(...page.jobs);
        token = page.nextPageToken;
      } while (token);
      expect(seen.map((j) => j.jobId)).toEqual(all.jobs.map((j: any) => j.jobId));
      expect(new Set(seen.map((j) => j.jobId)).size).toBe(14);
      const order = seen.map((j) => `${j.createdAt}|${j.jobId}`);
      expect(order).toEqual([...order].sort().reverse());
      const topLevel = await client.expect(200, client.get(`/organizations/${orgId}/jobs?jobHierarchy=TOP_LEVEL_ONLY&pageSize=100`));
      expect(topLevel.jobs.map((j: any) => j.jobId).sort()).toEqual([...tops].sort());
      const children = await client.expect(200, client.get(`/organizations/${orgId}/jobs?parentJobId=${parent}`));
      expect(children.jobs.map((j: any) => j.childIndex)).toEqual([0, 1, 2]);
      const view = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${parent}`));
      expect(view.childJobs.map((c: any) => c.jobId)).toEqual(children.jobs.map((j: any) => j.jobId));

      // Metrics: every tree flushed to its own root's shard; the series adds them up.
      const qs = new URLSearchParams({ metric: "jobs_submitted", aggregation: "count", bucket: "day", since: new Date(Date.now() - 86_400_000).toISOString(), until: new Date(Date.now() + 86_400_000).toISOString() });
      let submitted = 0;
      while (submitted < 14 && Date.now() < deadline + 30_000) {
        submitted = (await client.expect(200, client.get(`/organizations/${orgId}/workflow-metrics/timeseries?${qs}`))).results.reduce((n: number, p: any) => n + p.value, 0);
        if (submitted < 14) await sleep(100);
      }
      expect(submitted).toBe(14);
    },
    120_000,
  );
});
