import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { deployWorkflow, newTenant } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import countdown from "../../fixtures/countdown.json";
import type { JobObject } from "../../../src/job/job-object";
import { emptyChanges } from "../../../src/engine/overlay";

const noop = "/justworkflowit/noop";
const transform = "/canopy/transform";
const waitEvents = "/justworkflowit/waitForEventIds";
const delay = "/canopy/delay";
const http = "/canopy/http";

function stub(jobId: string): DurableObjectStub<JobObject> {
  return env.JOBS.get(env.JOBS.idFromName(jobId));
}

async function setup(def: any) {
  const t = await newTenant(admin);
  const wf = await deployWorkflow(t.client, t.orgId, def);
  return { ...t, ...wf, jobs: `/organizations/${t.orgId}/jobs` };
}

describe("a job runs its definition", () => {
  it("runs the countdown example to success with the API's shapes", async () => {
    const { client, orgId, workflowId, versionId } = await setup(countdown);
    const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: JSON.stringify({ n: 5 }) });
    const { job } = await waitForJob(client, orgId, jobId);
    expect(job).toMatchObject({
      jobId,
      status: "SUCCEEDED",
      workflowId,
      workflowName: "countdown",
      workflowVersion: { versionId, versionNumber: 1 },
      submittedByUser: "token:tests",
      rootJobId: jobId,
      billableTransactionUnits: 6,
      output: { n: 0 },
      runNumber: 1,
    });
    expect(job.startedAt).toBeDefined();
    expect(job.finishedAt).toBeDefined();
    const { state } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state`));
    expect(state.executionData.workflowInput).toEqual({ n: 5 });
    expect(state.executionData.tickOutput).toEqual({ n: 0 });
    expect(state.executionHistory).toHaveLength(6);
    expect(state.executionHistory[0]).toMatchObject({
      stepName: "init",
      stepExecutorType: noop,
      historySource: "engine",
      input: { n: 5 },
      output: { status: "success", payload: { n: 5 } },
      errors: [],
      warnings: [],
    });
    const meta = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state/metadata`));
    expect(meta.contentLengthBytes).toBe(new TextEncoder().encode(JSON.stringify({ state })).byteLength);
  });

  it("branches with JSON Logic", async () => {
    const def = workflow("branch", [
      step("check", noop, {}, { if: [{ "==": [{ var: "check.output.kind" }, "a"] }, "isA", "notA"] }),
      step("isA", transform, { config: { output: { path: "a" } } }),
      step("notA", transform, { config: { output: { path: "other" } } }),
    ]);
    const { client, orgId, workflowId } = await setup(def);
    const a = await submit(client, orgId, { workflowId, workflowVersion: { versionNumber: 1 }, inputJson: { kind: "a" } });
    const b = await submit(client, orgId, { workflowId, workflowVersion: { versionNumber: 1 }, inputJson: { kind: "b" } });
    expect((await waitForJob(client, orgId, a)).job.output).toEqual({ path: "a" });
    expect((await waitForJob(client, orgId, b)).job.output).toEqual({ path: "other" });
  });

  it("fails a step whose output violates its schema, with the schema error in the history", async () => {
    const def = workflow("bad-output", [step("make", transform, { retries: 3, config: { output: { n: "not a number" } }, output: "num" })], {
      num: { type: "object", properties: { n: { type: "integer" } }, required: ["n"] },
    });
    const { client, orgId, workflowId } = await setup(def);
    const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" } });
    const { job } = await waitForJob(client, orgId, jobId);
    expect(job.status).toBe("FAILED");
    expect(job.error).toMatchObject({ code: "OutputValidationError", stepName: "make" });
    expect(job.billableTransactionUnits).toBe(1);
    const { state } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state`));
    expect(state.executionHistory[0].errors[0]).toMatch(/OutputValidationError.*n/);
  });
});

describe("durable timers and retries", () => {
  it("schedules each retry on the alarm with exponential backoff", async () => {
    // Port 9 on loopback refuses connections: every attempt is a retryable network error.
    const def = workflow("flaky", [
      step("call", http, { retries: 2, retryPolicy: { initialIntervalSeconds: 30, backoffCoefficient: 2 }, config: { url: "http://127.0.0.1:9/x" } }),
    ]);
    const { client, orgId, workflowId } = await setup(def);
    const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" } });
    const s = stub(jobId);
    const retryAt = async () =>
      runInDurableObject(s, async (o: JobObject, ctx) => {
        const wait = o.state!.current?.wait;
        return wait?.type === "retry" ? { at: wait.at, alarm: await ctx.storage.getAlarm(), failedAt: Date.parse(o.history().at(-1)!.endTimestamp) } : null;
      });
    // Right after the failure the alarm may first be due at once, for owed work (the job's index row,
    // its metrics): read once that work is done and the object waits only for the retry.
    let first = await retryAt();
    for (let i = 0; i < 250 && (!first || first.alarm !== first.at); i++) (await new Promise((r) => setTimeout(r, 20)), (first = await retryAt()));
    expect(first).not.toBeNull();
    expect(first!.at - first!.failedAt).toBe(30_000);
    expect(first!.alarm).toBe(first!.at);

    // An alarm that fires early (or twice) changes nothing.
    const before = await runInDurableObject(s, (o: JobObject) => JSON.stringify(o.state));
    await runDurableObjectAlarm(s);
    await runDurableObjectAlarm(s);
    expect(await runInDurableObject(s, (o: JobObject) => JSON.stringify(o.state))).toBe(before);

    // Move the retry due time to now, as if 30 s had passed: the next attempt runs and fails again.
    await runInDurableObject(s, async (o: JobObject) => {
      const st = structuredClone(o.state!);
      (st.current!.wait as { at: number }).at = Date.now();
      o.store.transaction(() => o.store.write({ state: st, changes: emptyChanges(), commands: [], history: [] }, Date.now()));
      (o as any).current.state = st;
    });
    await runDurableObjectAlarm(s);
    let second = await retryAt();
    for (let i = 0; i < 100 && (!second || second.at === first!.at); i++) (await new Promise((r) => setTimeout(r, 20)), (second = await retryAt()));
    expect(second!.at - second!.failedAt).toBe(60_000);
    const { job } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}`));
    expect(job.billableTransactionUnits).toBe(2);
    expect(job.status).toBe("RUNNING");
  });

  it("fails an attempt that outlives timeoutSeconds", async () => {
    const def = workflow("slow", [step("wait", waitEvents, { timeoutSeconds: 1, config: { eventIds: ["never"] } })]);
    const { client, orgId, workflowId } = await setup(def);
    const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" } });
    const { job } = await waitForJob(client, orgId, jobId, undefined, 10_000);
    expect(job.status).toBe("FAILED");
    expect(job.error).toMatchObject({ code: "TIMEOUT", stepName: "wait" });
  });

  it("finishes a delay after the Durable Object is evicted mid-job", async () => {
    const def = workflow("nap", [step("nap", delay, { config: { seconds: 1 } }, "after"), step("after", transform, { config: { output: { done: true } } })]);
    const { client, orgId, workflowId } = await setup(def);
    const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" } });
    await evictDurableObject(stub(jobId));
    const { job } = await waitForJob(client, orgId, jobId, undefined, 10_000);
    expect(job).toMatchObject({ status: "SUCCEEDED", output: { done: true }, billableTransactionUnits: 2 });
  });
});

describe("events", () => {
  const def = workflow("approval", [
    step("prep", delay, { config: { seconds: 0.3 } }, "approve"),
    step("approve", waitEvents, { config: { eventIds: ["first", "second"] } }),
  ]);

  it("uses an event sent before the wait and one sent after it; a duplicate is not used twice", async () => {
    const { client, orgId, workflowId } = await setup(def);
    const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" } });
    const events = `/organizations/${orgId}/jobs/${jobId}/events`;
    expect(await client.expect(200, client.post(events, { eventId: "first", payload: { a: 1 } }))).toEqual({ jobId, eventId: "first" });
    await client.expect(200, client.post(events, { eventId: "first", payload: { a: "dup" } }));
    await waitForJob(client, orgId, jobId, (j) => j.currentStepName === "approve");
    await client.expect(200, client.post(events, { eventId: "second", payload: { b: 2 } }));
    const { job } = await waitForJob(client, orgId, jobId);
    expect(job).toMatchObject({ status: "SUCCEEDED", output: { a: 1, b: 2 } });
    const { state } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state`));
    expect(state.executionHistory.filter((h: any) => h.historySource === "external").map((h: any) => h.eventId)).toEqual(["first", "second"]);
  });

  it("cancels a waiting job and resumes it where it stopped", async () => {
    const { client, orgId, workflowId } = await setup(def);
    const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" } });
    const base = `/organizations/${orgId}/jobs/${jobId}`;
    await waitForJob(client, orgId, jobId, (j) => j.currentStepName === "approve");
    expect(await client.expect(200, client.post(`${base}/cancel`))).toEqual({ jobId });
    let { job } = await client.expect(200, client.get(base));
    expect(job).toMatchObject({ status: "CANCELLED", error: { code: "CANCELLED", stepName: "approve" } });
    expect((await client.post(`${base}/cancel`)).status).toBe(409);

    await client.expect(200, client.post(`${base}/events`, { eventId: "first", payload: { a: 1 } }));
    await client.expect(200, client.post(`${base}/events`, { eventId: "second", payload: { b: 2 } }));
    expect(await client.expect(200, client.post(`${base}/resume`))).toEqual({ jobId });
    ({ job } = await waitForJob(client, orgId, jobId));
    expect(job).toMatchObject({ status: "SUCCEEDED", output: { a: 1, b: 2 } });
    expect(job.error).toBeUndefined();
  });
});

describe("submission", () => {
  it("returns the first job for a repeated idempotency key and starts nothing new", async () => {
    const { client, orgId, workflowId, jobs } = await setup(countdown);
    const body = { workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: { n: 1 }, idempotencyKey: "order-42" };
    const ids = await Promise.all([1, 2, 3, 4].map(() => submit(client, orgId, body)));
    expect(new Set(ids).size).toBe(1);
    expect((await client.expect(200, client.get(jobs))).totalCount).toBe(1);
    const other = await submit(client, orgId, { ...body, idempotencyKey: "order-43" });
    expect(other).not.toBe(ids[0]);
  });

  it("accepts workflowName instead of workflowId and pins the tag's version at submission", async () => {
    const { client, orgId, workflowId, versionId } = await setup(workflow("pin", [step("wait", waitEvents, { config: { eventIds: ["go"] } })]));
    const jobId = await submit(client, orgId, { workflowName: "pin", workflowVersion: { tag: "$LIVE" } });
    const v2 = await client.expect(200, client.post(`/organizations/${orgId}/workflows/${workflowId}/versions`, { definition: workflow("pin", [step("x", noop)]) }));
    await client.expect(200, client.put(`/organizations/${orgId}/workflows/${workflowId}/tags/$LIVE`, { versionId: v2.versionId }));
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/events`, { eventId: "go", payload: { went: true } }));
    const { job } = await waitForJob(client, orgId, jobId);
    expect(job.workflowVersion.versionId).toBe(versionId);
    expect(job.output).toEqual({ went: true });
  });

  it.each([
    ["a missing workflow", { workflowId: crypto.randomUUID(), workflowVersion: { tag: "$LIVE" } }, 404],
    ["an unset tag", { workflowVersion: { tag: "$NOPE" } }, 404],
    ["a bad version selector", { workflowVersion: { tag: "$LIVE", versionNumber: 1 } }, 400],
    ["a malformed tag", { workflowVersion: { tag: "live" } }, 400],
    ["input violating workflowInput", { workflowVersion: { tag: "$LIVE" }, inputJson: { n: -1 } }, 400],
    ["inputJson that is not JSON", { workflowVersion: { tag: "$LIVE" }, inputJson: "{nope" }, 400],
    ["neither workflowId nor workflowName", { workflowVersion: { tag: "$LIVE" }, noWorkflow: true }, 400],
  ])("refuses %s and creates nothing", async (_label, body: any, status) => {
    const { client, workflowId, jobs } = await setup(countdown);
    const { noWorkflow, ...rest } = body;
    const res = await client.post(jobs, noWorkflow ? rest : { workflowId, inputJson: { n: 1 }, ...rest });
    expect(res.status).toBe(status);
    expect(res.headers.get("x-amzn-errortype")).toBe(res.body.code);
    expect((await client.expect(200, client.get(jobs))).totalCount).toBe(0);
  });

  it("answers 404 for an unknown job and for another tenant's job, 409 for resuming a running job", async () => {
    const { client, orgId, workflowId } = await setup(workflow("w", [step("wait", waitEvents, { config: { eventIds: ["go"] } })]));
    const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" } });
    const unknown = crypto.randomUUID();
    for (const path of ["", "/state", "/state/metadata"]) expect((await client.get(`/organizations/${orgId}/jobs/${unknown}${path}`)).status).toBe(404);
    expect((await client.post(`/organizations/${orgId}/jobs/${unknown}/events`, { eventId: "go" })).status).toBe(404);
    expect((await client.post(`/organizations/${orgId}/jobs/not-a-uuid/cancel`)).status).toBe(404);
    const resumed = await client.post(`/organizations/${orgId}/jobs/${jobId}/resume`);
    expect(resumed.status).toBe(409);
    expect(resumed.body.code).toBe("ConflictError");

    const other = await newTenant(admin);
    expect((await other.client.get(`/organizations/${orgId}/jobs/${jobId}`)).status).toBe(403);
    expect((await admin.get(`/organizations/${other.orgId}/jobs/${jobId}`)).status).toBe(404);
    expect((await admin.post(`/organizations/${other.orgId}/jobs/${jobId}/events`, { eventId: "go" })).status).toBe(404);
    const { job } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}`));
    expect(job.status).toBe("RUNNING");
  });
});

describe("ListJobs", () => {
  it("pages without repeating or dropping a job, with filters and totalCount", async () => {
    const { client, orgId, workflowId, jobs } = await setup(countdown);
    const ids = new Set<string>();
    for (let i = 0; i < 7; i++) ids.add(await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: { n: i } }));
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await client.expect(200, client.get(`${jobs}?pageSize=3${token ? `&pageToken=${token}` : ""}`));
      expect(page.totalCount).toBe(7);
      seen.push(...page.jobs.map((j: any) => j.jobId));
      token = page.nextPageToken;
      pages += 1;
    } while (token);
    expect(pages).toBe(3);
    expect(seen).toHaveLength(7);
    expect(new Set(seen)).toEqual(ids);

    for (const id of ids) await waitForJob(client, orgId, id);
    const filtered = await client.expect(200, client.get(`${jobs}?status=SUCCEEDED&workflowName=countdown&workflowVersionNumber=1&jobHierarchy=TOP_LEVEL_ONLY`));
    expect(filtered.totalCount).toBe(7);
    expect((await client.expect(200, client.get(`${jobs}?status=FAILED`))).totalCount).toBe(0);
    expect((await client.expect(200, client.get(`${jobs}?jobHierarchy=CHILD_JOBS_ONLY`))).totalCount).toBe(0);
    expect((await client.expect(200, client.get(`${jobs}?createdAfter=2999-01-01T00:00:00.000Z`))).totalCount).toBe(0);
    expect((await client.get(`${jobs}?pageSize=0`)).status).toBe(400);
    expect((await client.get(`${jobs}?pageToken=garbage`)).status).toBe(400);
    expect((await client.get(`${jobs}?status=DONE`)).status).toBe(400);
  });
});
