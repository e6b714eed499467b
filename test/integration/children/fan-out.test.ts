import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { tenantWith } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import type { JobObject } from "../../../src/job/job-object";
import { MAX_GETJOB_CHILD_JOBS } from "../../../src/limits";

const noop = "/justworkflowit/noop";
const run = "/justworkflowit/runChildJob";
const transform = "/canopy/transform";
const delay = "/canopy/delay";

const stub = (jobId: string): DurableObjectStub<JobObject> => env.JOBS.get(env.JOBS.idFromName(jobId));

const item = workflow("item", [step("reserve", noop, { input: "workflowInput", output: "workflowInput" })], {
  workflowInput: { type: "object", properties: { sku: { type: "string" }, qty: { type: "integer", minimum: 1 } }, required: ["sku", "qty"] },
});

function fanOutParent(name: string, config: Record<string, unknown> = {}) {
  return workflow(name, [
    step("fan", run, {
      config: { children: [{ workflowName: "item", workflowVersion: { tag: "$LIVE" }, forEach: { arrayPath: "workflowInput.items" } }], ...config },
    }),
  ]);
}

const items = (n: number) => Array.from({ length: n }, (_, i) => ({ sku: `sku-${i}`, qty: i + 1 }));

describe("runChildJob with forEach", () => {
  it("fans out to 200 children and keeps their results in array order", async () => {
    const { client, orgId, ids } = await tenantWith(admin, item, fanOutParent("batch"));
    const input = { items: items(200) };
    const jobId = await submit(client, orgId, { workflowId: ids.batch, workflowVersion: { tag: "$LIVE" }, inputJson: input });
    // Replayed alarms while the fan-out runs never start a second child.
    for (let i = 0; i < 5; i++) await runDurableObjectAlarm(stub(jobId));
    const { job } = await waitForJob(client, orgId, jobId, undefined, 60_000);
    expect(job.status).toBe("SUCCEEDED");
    const out = job.output;
    expect(out.succeeded).toBe(200);
    expect(out.failed).toBe(0);
    expect(out.results.map((r: any) => r.output)).toEqual(input.items);
    expect(out.results.map((r: any) => r.id)).toEqual(input.items.map((_, i) => String(i)));
    expect(new Set(out.results.map((r: any) => r.jobId)).size).toBe(200);
    expect(out.results.every((r: any) => r.status === "SUCCEEDED" && r.workflowName === "item")).toBe(true);
    // Units: the parent's one attempt plus one per child, exactly.
    expect(job.billableTransactionUnits).toBe(201);
    const children = await client.expect(200, client.get(`/organizations/${orgId}/jobs?jobHierarchy=CHILD_JOBS_ONLY&pageSize=100`));
    expect(children.totalCount).toBe(200);

    // GetJob lists the first MAX_GETJOB_CHILD_JOBS children in their step's order, and a token that
    // ListJobs parentJobId continues from, in the same order (the index may lag the parent's end).
    let view: any;
    const deadline = Date.now() + 60_000;
    do view = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}`));
    while (view.childJobs?.some((c: any) => c.status !== "SUCCEEDED") && Date.now() < deadline && (await new Promise((r) => setTimeout(r, 50)), true));
    expect(view.childJobs).toHaveLength(MAX_GETJOB_CHILD_JOBS);
    expect(view.childJobs.map((c: any) => c.jobId)).toEqual(out.results.slice(0, MAX_GETJOB_CHILD_JOBS).map((r: any) => r.jobId));
    const rest = await client.expect(200, client.get(`/organizations/${orgId}/jobs?parentJobId=${jobId}&pageSize=100&pageToken=${view.childJobsNextPageToken}`));
    expect(rest.jobs.map((j: any) => j.jobId)).toEqual(out.results.slice(MAX_GETJOB_CHILD_JOBS).map((r: any) => r.jobId));
    expect(rest.jobs.map((j: any) => [j.childKey, j.childIndex])).toEqual(out.results.slice(MAX_GETJOB_CHILD_JOBS).map((_: any, i: number) => [String(i + MAX_GETJOB_CHILD_JOBS), i + MAX_GETJOB_CHILD_JOBS]));
    expect(rest.nextPageToken).toBeUndefined();
  });

  it("creates a child with invalid input FAILED, visible in childJobs, and tolerates it when told to", async () => {
    const { client, orgId, ids } = await tenantWith(admin, item, fanOutParent("tolerant", { toleratedFailureCount: 1 }));
    const input = { items: [{ sku: "a", qty: 1 }, { sku: "b", qty: 0 }, { sku: "c", qty: 3 }] };
    const jobId = await submit(client, orgId, { workflowId: ids.tolerant, workflowVersion: { tag: "$LIVE" }, inputJson: input });
    const { job } = await waitForJob(client, orgId, jobId);
    expect(job.status).toBe("SUCCEEDED");
    expect(job.output.succeeded).toBe(2);
    expect(job.output.failed).toBe(1);
    expect(job.output.results[1]).toMatchObject({ id: "1", status: "FAILED", error: { code: "ValidationError" } });
    const failedChild = job.output.results[1].jobId;
    const got = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${failedChild}`));
    expect(got.job).toMatchObject({ status: "FAILED", parentJobId: jobId, parentStepName: "fan", rootJobId: jobId, error: { code: "ValidationError" } });
    expect(got.parentJob).toEqual({ jobId, status: "SUCCEEDED", workflowName: "tolerant", stepName: "fan" });
  });

  it("fails the parent beyond the tolerated failures; resume re-runs only the failed child", async () => {
    // A child waits for an event only when told to, with a short timeout: it fails first, then succeeds once resumed.
    const flaky = workflow("flaky", [
      step("route", noop, {}, { if: [{ var: "route.output.wait" }, "hold", null] }),
      step("hold", "/justworkflowit/waitForEventIds", { config: { eventIds: ["release"], timeoutSeconds: 1 } }),
    ]);
    const parent = workflow("strict", [
      step("fan", run, { config: { children: [{ workflowName: "flaky", workflowVersion: { tag: "$LIVE" }, forEach: { arrayPath: "workflowInput.items" } }] } }),
    ]);
    const { client, orgId, ids } = await tenantWith(admin, flaky, parent);
    const input = { items: [{ n: 0 }, { n: 1, wait: true }, { n: 2 }] };
    const jobId = await submit(client, orgId, { workflowId: ids.strict, workflowVersion: { tag: "$LIVE" }, inputJson: input });
    const first = await waitForJob(client, orgId, jobId, undefined, 15_000);
    expect(first.job.status).toBe("FAILED");
    expect(first.job.error).toMatchObject({ code: "ChildJobsFailed", stepName: "fan" });
    const { state } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state`));
    expect(state.nextStepName).toBe("fan");

    const before = await runInDurableObject(stub(jobId), (o: JobObject) => {
      const { stepName, attempt } = o.state!.resumeChildren!;
      return o.store.children(stepName, attempt).map((c) => ({ jobId: c.jobId, status: c.status }));
    });
    expect(before.map((c) => c.status)).toEqual(["SUCCEEDED", "FAILED", "SUCCEEDED"]);

    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/resume`));
    const rerun = await runInDurableObject(stub(jobId), (o: JobObject) => {
      const cur = o.state!.current!;
      return o.store.children(cur.name, cur.attempt).map((c) => c.jobId);
    });
    expect(rerun[0]).toBe(before[0]!.jobId);
    expect(rerun[2]).toBe(before[2]!.jobId);
    expect(rerun[1]).not.toBe(before[1]!.jobId);
    await waitForJob(client, orgId, rerun[1]!, (j) => j.currentStepName === "hold");
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${rerun[1]}/events`, { eventId: "release", payload: { released: true } }));
    const done = await waitForJob(client, orgId, jobId);
    expect(done.job.status).toBe("SUCCEEDED");
    expect(done.job.output.results.map((r: any) => r.jobId)).toEqual(rerun);
    expect(done.job.output.results[1].output).toEqual({ released: true });
    const all = await client.expect(200, client.get(`/organizations/${orgId}/jobs?jobHierarchy=CHILD_JOBS_ONLY`));
    expect(all.totalCount).toBe(4);
  });

  it("never runs more children at once than maxConcurrency", async () => {
    const slow = workflow("slow", [step("nap", delay, { config: { seconds: 0.15 } })]);
    const parent = workflow("limited", [
      step("fan", run, { config: { maxConcurrency: 2, children: [{ workflowName: "slow", workflowVersion: { tag: "$LIVE" }, forEach: { arrayPath: "workflowInput.items" } }] } }),
    ]);
    const { client, orgId, ids } = await tenantWith(admin, slow, parent);
    const jobId = await submit(client, orgId, { workflowId: ids.limited, workflowVersion: { tag: "$LIVE" }, inputJson: { items: items(6) } });
    const { job } = await waitForJob(client, orgId, jobId, undefined, 30_000);
    expect(job.status).toBe("SUCCEEDED");
    const spans = await Promise.all(
      job.output.results.map(async (r: any) => {
        const { job: c } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${r.jobId}`));
        return [Date.parse(c.createdAt), Date.parse(c.finishedAt)] as const;
      }),
    );
    for (const [t] of spans) {
      const running = spans.filter(([s, e]) => s <= t && t < e).length;
      expect(running).toBeLessThanOrEqual(2);
    }
  });

  it("loses no outcome when the parent is evicted while its children finish", async () => {
    const slow = workflow("slow", [step("nap", delay, { config: { seconds: 0.2 } })]);
    const { client, orgId, ids } = await tenantWith(admin, slow, workflow("evicted", [
      step("fan", run, { config: { children: [{ workflowName: "slow", workflowVersion: { tag: "$LIVE" }, forEach: { arrayPath: "workflowInput.items" } }] } }),
    ]));
    const jobId = await submit(client, orgId, { workflowId: ids.evicted, workflowVersion: { tag: "$LIVE" }, inputJson: { items: items(20) } });
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 80));
      await evictDurableObject(stub(jobId)).catch(() => undefined);
    }
    const { job } = await waitForJob(client, orgId, jobId, undefined, 30_000);
    expect(job.status).toBe("SUCCEEDED");
    expect(job.output.succeeded).toBe(20);
    expect(job.billableTransactionUnits).toBe(21);
  });
});

describe("runChildJob with listed children", () => {
  it("runs static children in list order, and two runChildJob steps one after the other", async () => {
    const double = workflow("double", [step("x2", transform, { config: { output: { v: { "*": [{ var: "workflowInput.v" }, 2] } } } })]);
    const square = workflow("square", [step("sq", transform, { config: { output: { v: { "*": [{ var: "workflowInput.v" }, { var: "workflowInput.v" }] } } } })]);
    const parent = workflow("pipeline", [
      step("first", run, {
        config: {
          children: [
            { id: "d", workflowName: "double", workflowVersion: { tag: "$LIVE" } },
            { id: "s", workflowName: "square", workflowVersion: { versionNumber: 1 } },
          ],
        },
      }, "second"),
      step("second", run, {
        config: { children: [{ workflowName: "double", workflowVersion: { tag: "$LIVE" }, forEach: { arrayPath: "first.output.results" } }] },
      }),
    ]);
    const { client, orgId, ids } = await tenantWith(admin, double, square, parent);
    const jobId = await submit(client, orgId, { workflowId: ids.pipeline, workflowVersion: { tag: "$LIVE" }, inputJson: { v: 3 } });
    const { job } = await waitForJob(client, orgId, jobId);
    expect(job.status).toBe("SUCCEEDED");
    // The job index catches up on its own path: the second step's children may be listed a moment
    // after the parent ended (docs/store-design.md#never-stuck).
    let childJobs: any[] = [];
    for (let i = 0; i < 400 && childJobs.length < 4; i++) {
      childJobs = (await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}`))).childJobs ?? [];
      if (childJobs.length < 4) await new Promise((r) => setTimeout(r, 50));
    }
    const { state } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state`));
    expect(state.executionData.firstOutput.results.map((r: any) => [r.id, r.workflowName, r.output])).toEqual([
      ["d", "double", { v: 6 }],
      ["s", "square", { v: 9 }],
    ]);
    expect(job.output.results).toHaveLength(2);
    expect(job.billableTransactionUnits).toBe(2 + 4);
    // A parent's children come in the order its steps listed them: step attempt, then position.
    expect(childJobs.map((c: any) => c.parentStepName)).toEqual(["first", "first", "second", "second"]);
    const listed = await client.expect(200, client.get(`/organizations/${orgId}/jobs?parentJobId=${jobId}`));
    expect(listed.jobs.map((j: any) => [j.parentStepName, j.childKey, j.childIndex])).toEqual([
      ["first", "d", 0],
      ["first", "s", 1],
      ["second", "0", 0],
      ["second", "1", 1],
    ]);
    expect(listed.jobs.map((j: any) => j.jobId)).toEqual(childJobs.map((c: any) => c.jobId));
    const page = await client.expect(200, client.get(`/organizations/${orgId}/jobs?parentJobId=${jobId}&pageSize=3`));
    const next = await client.expect(200, client.get(`/organizations/${orgId}/jobs?parentJobId=${jobId}&pageSize=3&pageToken=${page.nextPageToken}`));
    expect([...page.jobs, ...next.jobs].map((j: any) => j.jobId)).toEqual(listed.jobs.map((j: any) => j.jobId));
  });
});
