import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { deployWorkflow, newTenant, tenantWith } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import type { JobObject } from "../../../src/job/job-object";
import { MAX_NESTING_DEPTH } from "../../../src/limits";

const noop = "/justworkflowit/noop";
const run = "/justworkflowit/runChildJob";
const waitEvents = "/justworkflowit/waitForEventIds";

const stub = (jobId: string): DurableObjectStub<JobObject> => env.JOBS.get(env.JOBS.idFromName(jobId));

const child = (name: string, workflowName: string, extra: Record<string, unknown> = {}) =>
  step(name, run, { config: { children: [{ workflowName, workflowVersion: { tag: "$LIVE" } }], ...extra } });

describe("a job tree", () => {
  it("cancels every unfinished descendant through three levels with PARENT_CANCELLED", async () => {
    const leaf = workflow("leaf", [step("hold", waitEvents, { config: { eventIds: ["never"] } })]);
    const mid = workflow("mid", [child("spawn", "leaf")]);
    const top = workflow("top", [child("spawn", "mid")]);
    const { client, orgId, ids } = await tenantWith(admin, leaf, mid, top);
    const jobId = await submit(client, orgId, { workflowId: ids.top, workflowVersion: { tag: "$LIVE" } });
    const midJob = (await waitForJob(client, orgId, jobId, () => true, 5000)) && (await childOf(client, orgId, jobId));
    const leafJob = await childOf(client, orgId, midJob);
    await waitForJob(client, orgId, leafJob, (j) => j.currentStepName === "hold");

    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/cancel`));
    const l = await waitForJob(client, orgId, leafJob);
    const m = await waitForJob(client, orgId, midJob);
    const t = await waitForJob(client, orgId, jobId);
    expect(t.job.status).toBe("CANCELLED");
    expect(m.job).toMatchObject({ status: "CANCELLED", error: { code: "PARENT_CANCELLED" }, rootJobId: jobId, parentJobId: jobId });
    expect(l.job).toMatchObject({ status: "CANCELLED", error: { code: "PARENT_CANCELLED" }, rootJobId: jobId, parentJobId: midJob });
    // Units still roll up to the root after the cascade: 1 (top) + 1 (mid) + 1 (leaf).
    const units = await waitForJob(client, orgId, jobId, (j) => j.billableTransactionUnits === 3);
    expect(units.job.billableTransactionUnits).toBe(3);
  });

  it(`fails a self-recursive workflow at nesting depth ${MAX_NESTING_DEPTH} instead of running away`, async () => {
    const t = await newTenant(admin);
    const { workflowId } = await t.client.expect(200, t.client.post(`/organizations/${t.orgId}/workflows`, { name: "recurse" }));
    await deployWorkflow(t.client, t.orgId, workflow("recurse", [child("again", "recurse")]));
    const jobId = await submit(t.client, t.orgId, { workflowId, workflowVersion: { tag: "$LIVE" } });
    const { job } = await waitForJob(t.client, t.orgId, jobId, undefined, 30_000);
    expect(job.status).toBe("FAILED");
    expect(job.error.code).toBe("ChildJobsFailed");
    const all = await t.client.expect(200, t.client.get(`/organizations/${t.orgId}/jobs?pageSize=100`));
    expect(all.totalCount).toBe(MAX_NESTING_DEPTH + 1);
    const deepest = await waitForDeepest(t.client, t.orgId);
    expect(deepest.error).toMatchObject({ code: "MaxNestingDepthExceeded", stepName: "again" });
  });

  it("rolls units up the tree exactly, and shows the hierarchy in GetJob and ListJobs", async () => {
    const leaf = workflow("leaf", [step("a", noop, {}, "b"), step("b", noop)]);
    const mid = workflow("mid", [step("prep", noop, {}, "spawn"), child("spawn", "leaf")]);
    const top = workflow("top", [step("fan", run, { config: { children: [
      { id: "one", workflowName: "mid", workflowVersion: { tag: "$LIVE" } },
      { id: "two", workflowName: "mid", workflowVersion: { tag: "$LIVE" } },
    ] } })]);
    const { client, orgId, ids } = await tenantWith(admin, leaf, mid, top);
    const jobId = await submit(client, orgId, { workflowId: ids.top, workflowVersion: { tag: "$LIVE" } });
    await waitForJob(client, orgId, jobId);
    // GetJob's childJobs and ListJobs read the index, which a parent writes for its children in
    // batches after it applied their reports: it may lag the parent's end by an alarm.
    let done: any;
    for (let i = 0; i < 400 && !done; i++) {
      const res = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}`));
      const indexed = await client.expect(200, client.get(`/organizations/${orgId}/jobs?rootJobId=${jobId}&status=SUCCEEDED&pageSize=1`));
      if (res.childJobs?.every((c: any) => c.status === "SUCCEEDED") && indexed.totalCount === 5) done = res;
      else await new Promise((r) => setTimeout(r, 50));
    }
    expect(done, "the index never showed the whole tree SUCCEEDED").toBeDefined();
    // top 1 + 2 × (mid 2 + leaf 2)
    expect(done.job.billableTransactionUnits).toBe(9);
    expect(done.parentJob).toBeUndefined();
    expect(done.childJobs).toHaveLength(2);
    expect(done.childJobs[0]).toEqual({ jobId: expect.any(String), status: "SUCCEEDED", workflowName: "mid", parentStepName: "fan", createdAt: expect.any(String), finishedAt: expect.any(String) });
    const midView = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${done.childJobs[0].jobId}`));
    expect(midView.job).toMatchObject({ parentJobId: jobId, parentStepName: "fan", rootJobId: jobId, billableTransactionUnits: 4 });
    expect(midView.parentJob).toEqual({ jobId, status: "SUCCEEDED", workflowName: "top", stepName: "fan" });
    expect(midView.childJobs).toHaveLength(1);

    const list = (h: string) => client.expect(200, client.get(`/organizations/${orgId}/jobs?jobHierarchy=${h}`));
    expect((await list("ALL")).totalCount).toBe(5);
    const top1 = await list("TOP_LEVEL_ONLY");
    expect(top1.jobs.map((j: any) => j.jobId)).toEqual([jobId]);
    const kids = await list("CHILD_JOBS_ONLY");
    expect(kids.totalCount).toBe(4);
    expect(kids.jobs.every((j: any) => j.rootJobId === jobId && j.parentJobId)).toBe(true);

    // A job's tree, one level at a time (parentJobId) or whole (rootJobId), with counts per status.
    const q = (query: string) => client.expect(200, client.get(`/organizations/${orgId}/jobs?${query}`));
    const direct = await q(`parentJobId=${jobId}`);
    expect(direct.jobs.map((j: any) => j.jobId).sort()).toEqual(done.childJobs.map((c: any) => c.jobId).sort());
    expect(direct.totalCount).toBe(2);
    expect(direct.statusCounts).toEqual({ PENDING: 0, RUNNING: 0, SUCCEEDED: 2, FAILED: 0, CANCELLED: 0 });
    const grandchildren = await q(`parentJobId=${done.childJobs[0].jobId.toUpperCase()}`);
    expect(grandchildren.jobs).toHaveLength(1);
    expect(grandchildren.jobs[0]).toMatchObject({ workflowName: "leaf", parentJobId: done.childJobs[0].jobId, rootJobId: jobId });
    const first = await q(`parentJobId=${jobId}&pageSize=1`);
    const second = await q(`parentJobId=${jobId}&pageSize=1&pageToken=${first.nextPageToken}`);
    expect([first.jobs[0].jobId, second.jobs[0].jobId].sort()).toEqual(direct.jobs.map((j: any) => j.jobId).sort());
    expect(second.nextPageToken).toBeUndefined();
    const tree = await q(`rootJobId=${jobId}`);
    expect(tree.totalCount).toBe(5);
    expect(tree.statusCounts.SUCCEEDED).toBe(5);
    expect((await q(`rootJobId=${jobId}&jobHierarchy=CHILD_JOBS_ONLY&workflowName=leaf`)).totalCount).toBe(2);
    expect((await q(`parentJobId=${jobId}&status=FAILED`)).statusCounts).toEqual({ PENDING: 0, RUNNING: 0, SUCCEEDED: 0, FAILED: 0, CANCELLED: 0 });
    expect((await q(`parentJobId=${crypto.randomUUID()}`)).totalCount).toBe(0);
    // Another organization's tree is not visible through the filters.
    const other = await newTenant(admin);
    expect((await other.client.expect(200, other.client.get(`/organizations/${other.orgId}/jobs?rootJobId=${jobId}`))).totalCount).toBe(0);
    expect((await client.get(`/organizations/${orgId}/jobs?parentJobId=`)).status).toBe(400);
  });

  it("records a child's outcome once when its report is refused twice and then delivered", async () => {
    const leaf = workflow("leaf", [step("hold", waitEvents, { config: { eventIds: ["go"] } })]);
    const top = workflow("top", [child("spawn", "leaf")]);
    const { client, orgId, ids } = await tenantWith(admin, leaf, top);
    const jobId = await submit(client, orgId, { workflowId: ids.top, workflowVersion: { tag: "$LIVE" } });
    const leafJob = await childOf(client, orgId, jobId);
    await waitForJob(client, orgId, leafJob, (j) => j.currentStepName === "hold");

    // The parent refuses the next two reports, as an overloaded or unreachable object would.
    // RPC dispatches through the class, so the refusal is installed there, for this instance only.
    const parent = stub(jobId) as unknown as DurableObjectStub;
    await runInDurableObject(parent, (o: object) => refuseReports(o, 2));
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${leafJob}/events`, { eventId: "go", payload: { ok: 1 } }));
    const { job } = await waitForJob(client, orgId, jobId, undefined, 20_000);
    expect(job.status).toBe("SUCCEEDED");
    expect(await runInDurableObject(parent, (o: object) => (o as { refusals(): number }).refusals())).toBe(2);
    expect(job.output.results).toEqual([{ id: "0", jobId: leafJob, workflowName: "leaf", status: "SUCCEEDED", output: { ok: 1 } }]);
    const { state } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state`));
    expect(state.executionHistory.filter((h: any) => h.stepName === "spawn")).toHaveLength(1);
    expect(job.billableTransactionUnits).toBe(2);
  });
});

/** Makes this parent instance refuse its next `n` child reports. RPC dispatches through the class, so the refusal is installed there, for this instance only. */
function refuseReports(instance: object, n: number): void {
  const o = instance as { refusals?: () => number };
  const proto = Object.getPrototypeOf(instance) as { receiveChildReport: (this: unknown, report: unknown) => Promise<unknown> };
  const real = proto.receiveChildReport;
  let refusals = 0;
  proto.receiveChildReport = async function (this: unknown, report: unknown) {
    if (this === instance && refusals < n) {
      refusals += 1;
      if (refusals === n) proto.receiveChildReport = real;
      throw new Error("parent unavailable");
    }
    return real.call(this, report);
  };
  o.refusals = () => refusals;
}

async function childOf(client: any, orgId: string, jobId: string): Promise<string> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const ids = await runInDurableObject(stub(jobId), (o: JobObject) => {
      const cur = o.state?.current;
      return cur?.wait?.type === "children" ? o.store.children(cur.name, cur.attempt).map((c) => c.jobId) : [];
    });
    if (ids[0]) {
      const res = await client.get(`/organizations/${orgId}/jobs/${ids[0]}`);
      if (res.status === 200) return ids[0];
    }
    await new Promise((r) => setTimeout(r, 30));
  }
  throw new Error(`no child of ${jobId} started`);
}

async function waitForDeepest(client: any, orgId: string): Promise<any> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const { jobs } = await client.expect(200, client.get(`/organizations/${orgId}/jobs?status=FAILED&pageSize=100`));
    const deepest = jobs.find((j: any) => j.error?.code === "MaxNestingDepthExceeded");
    if (deepest) return deepest;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("no job failed on the depth bound");
}
