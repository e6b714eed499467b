import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { newTenant, tenantWith } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import { fakeOrigin, scenario, seen } from "../integrations/fake";
import type { JobObject } from "../../../src/job/job-object";
import { MAX_PAYLOAD_BYTES, MAX_STORED_VALUE_BYTES } from "../../../src/limits";

const noop = "/justworkflowit/noop";
const run = "/justworkflowit/runChildJob";
const transform = "/canopy/transform";
const waitEvents = "/justworkflowit/waitForEventIds";
const delay = "/canopy/delay";
const http = "/canopy/http";

const stub = (jobId: string): DurableObjectStub<JobObject> => env.JOBS.get(env.JOBS.idFromName(jobId));

const forEachItems = (workflowName: string, config: Record<string, unknown> = {}) => ({
  config: { children: [{ workflowName, workflowVersion: { tag: "$LIVE" }, forEach: { arrayPath: "workflowInput.items" } }], ...config },
});

/** The child ids of the step attempt a parent waits on now, in order. */
async function waitingChildren(parentJobId: string, count: number): Promise<string[]> {
  for (let i = 0; i < 400; i++) {
    const ids = await runInDurableObject(stub(parentJobId), (o: JobObject) => {
      const cur = o.state?.current;
      return cur?.wait?.type === "children" ? o.store.children(cur.name, cur.attempt).map((c) => c.jobId) : [];
    });
    if (ids.length === count) return ids;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`parent ${parentJobId} never waited on ${count} children`);
}

/**
 * Holds this parent instance's incoming child reports (each is refused, so the child retries it
 * later) until `release()`. RPC dispatches through the class, so the gate is installed there, for
 * this instance only.
 */
async function holdReports(parentJobId: string): Promise<{ release: () => Promise<void> }> {
  await runInDurableObject(stub(parentJobId), (instance: object) => {
    const proto = Object.getPrototypeOf(instance) as { receiveChildReport: (this: unknown, report: unknown) => Promise<unknown>; __real?: unknown };
    const real = proto.receiveChildReport;
    proto.receiveChildReport = async function (this: unknown, report: unknown) {
      if (this === instance) throw new Error("parent busy");
      return real.call(this, report);
    };
    (instance as { release?: () => void }).release = () => {
      proto.receiveChildReport = real;
    };
  });
  return {
    release: () => runInDurableObject(stub(parentJobId), (o: object) => (o as { release: () => void }).release()),
  };
}

describe("the job store", () => {
  it("keeps a multi-MiB fan-out in rows of at most 1 MiB, and every reader gets the whole results", async () => {
    // Each child returns three copies of its ~3 KB item: 300 children make ~2.7 MB of results.
    const item = workflow("fat", [
      step("grow", transform, { config: { output: { a: { var: "workflowInput" }, b: { var: "workflowInput" }, c: { var: "workflowInput" } } } }),
    ]);
    const parent = workflow("fatBatch", [step("fan", run, forEachItems("fat"), "after"), step("after", noop)]);
    const { client, orgId, ids } = await tenantWith(admin, item, parent);
    const pad = "x".repeat(3000);
    const items = Array.from({ length: 300 }, (_, i) => ({ i, pad }));
    const jobId = await submit(client, orgId, { workflowId: ids.fatBatch, workflowVersion: { tag: "$LIVE" }, inputJson: { items } });
    const { job } = await waitForJob(client, orgId, jobId, undefined, 120_000);
    expect(job.status).toBe("SUCCEEDED");

    // The parent's output (the next step's input, passed through) is the whole fan-out, in order:
    // too large for one answer, GetJob says where to read it, a page of about 1 MiB at a time.
    expect(job.output).toBeUndefined();
    expect(job.outputTooLarge).toMatchObject({ executionDataKey: "afterOutput" });
    const readAll = async (path: string) => {
      const pages: any[] = [];
      let token: string | undefined;
      do {
        const page = await client.expect(200, client.get(`${path}${token ? `&pageToken=${token}` : ""}`));
        pages.push(page.value);
        token = page.nextPageToken;
      } while (token);
      return { results: pages.flatMap((p) => p.results), succeeded: pages[0].succeeded, failed: pages[0].failed };
    };
    const output = await readAll(job.outputTooLarge.read);
    expect(output.succeeded).toBe(300);
    expect(output.results).toHaveLength(300);
    output.results.forEach((r: any, i: number) => {
      expect(r).toMatchObject({ id: String(i), workflowName: "fat", status: "SUCCEEDED" });
      expect(r.output).toEqual({ a: items[i], b: items[i], c: items[i] });
    });
    const total = JSON.stringify(output).length;
    expect(total).toBeGreaterThan(2.5 * 1024 * 1024);
    expect(job.outputTooLarge.bytes).toBe(total);

    // GetWorkflowState shows where the same JSON is, in the execution data and in the history.
    const { state } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state`));
    expect(await readAll(state.executionData.fanOutput.canopyOmitted.read)).toEqual(output);
    expect(await readAll(state.executionData.afterInput.canopyOmitted.read)).toEqual(output);
    expect(await readAll(state.executionHistory.find((h: any) => h.stepName === "fan").output.payload.canopyOmitted.read)).toEqual(output);

    // Yet no value that the parent's object stored is over 1 MiB.
    const largest = await runInDurableObject(stub(jobId), (o: JobObject) => o.store.largestValues());
    console.log(`largest stored value per table (bytes): ${JSON.stringify(largest)}`);
    expect(Object.keys(largest)).toEqual(expect.arrayContaining(["control", "data", "child", "history", "blob", "work"]));
    for (const [table, bytes] of Object.entries(largest)) expect.soft(bytes, table).toBeLessThanOrEqual(MAX_STORED_VALUE_BYTES);
    expect(largest.child).toBeGreaterThan(9000); // the children's outputs are in their rows
  }, 180_000);

  it("fails a step whose output is over the payload limit with PAYLOAD_TOO_LARGE, and the job can be resumed", async () => {
    const big = { blob: "y".repeat(MAX_PAYLOAD_BYTES + 10) };
    const id = await scenario("http-huge", [{ json: big }, { json: { small: true } }]);
    const def = workflow("huge", [step("call", http, { config: { url: `${fakeOrigin()}/s/${id}/x` } })]);
    const { client, orgId, ids } = await tenantWith(admin, def);
    const jobId = await submit(client, orgId, { workflowId: ids.huge, workflowVersion: { tag: "$LIVE" } });
    const { job } = await waitForJob(client, orgId, jobId, undefined, 30_000);
    expect(job).toMatchObject({ status: "FAILED", error: { code: "PAYLOAD_TOO_LARGE", stepName: "call" } });
    expect(job.error.message).toMatch(/output of step "call" is \d+ bytes of JSON; the limit is/);
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/resume`));
    const resumed = await waitForJob(client, orgId, jobId, undefined, 30_000);
    expect(resumed.job).toMatchObject({ status: "SUCCEEDED", output: { small: true } });
    expect(await seen(id)).toHaveLength(2);
  }, 60_000);

  it("fails the step with a clear error when a commit throws, and does not call again", async () => {
    const id = await scenario("http-commit", [{ json: { ok: true } }]);
    const def = workflow("commitFails", [
      step("nap", delay, { config: { seconds: 1 } }, "call"),
      step("call", http, { config: { url: `${fakeOrigin()}/s/${id}/x` } }),
    ]);
    const { client, orgId, ids } = await tenantWith(admin, def);
    const jobId = await submit(client, orgId, { workflowId: ids.commitFails, workflowVersion: { tag: "$LIVE" } });
    // While the job sleeps, its store starts refusing the commit of the call's result (a full disk).
    await runInDurableObject(stub(jobId), (o: JobObject) => {
      const real = o.store.write.bind(o.store);
      o.store.write = (decision, now) => {
        if (decision.history.some((h) => h.stepName === "call" && h.output.status === "success")) throw new Error("SQLITE_FULL: database or disk is full");
        return real(decision, now);
      };
    });
    const { job } = await waitForJob(client, orgId, jobId, undefined, 30_000);
    expect(job).toMatchObject({ status: "FAILED", error: { code: "COMMIT_FAILED", stepName: "call" } });
    expect(job.error.message).toContain("SQLITE_FULL");
    // Nothing is owed any more: more alarms change nothing, and the call ran once.
    await runDurableObjectAlarm(stub(jobId));
    await runDurableObjectAlarm(stub(jobId));
    expect(await seen(id)).toHaveLength(1);
    expect(await runInDurableObject(stub(jobId), (o: JobObject) => o.store.queue.dueWork(Date.now() + 3_600_000, 10))).toEqual([]);
  }, 60_000);

  it("re-arms a lost alarm when the object wakes, so a sleeping job still finishes", async () => {
    const def = workflow("sleeper", [step("nap", delay, { config: { seconds: 1 } }, "done"), step("done", noop)]);
    const { client, orgId, ids } = await tenantWith(admin, def);
    const jobId = await submit(client, orgId, { workflowId: ids.sleeper, workflowVersion: { tag: "$LIVE" } });
    // The alarm is gone (its retries ran out) and the object is evicted.
    await runInDurableObject(stub(jobId), async (_o: JobObject, ctx) => ctx.storage.deleteAlarm());
    await evictDurableObject(stub(jobId));
    expect(await runInDurableObject(stub(jobId), async (_o: JobObject, ctx) => ctx.storage.getAlarm())).not.toBeNull();
    const { job } = await waitForJob(client, orgId, jobId, undefined, 30_000);
    expect(job.status).toBe("SUCCEEDED");
  }, 60_000);

  it("applies children's reports while the job index is down, and the index catches up after", async () => {
    const child = workflow("gated", [step("hold", waitEvents, { config: { eventIds: ["go"] } })]);
    const parent = workflow("gatedBatch", [step("fan", run, forEachItems("gated"))]);
    const { client, orgId, ids } = await tenantWith(admin, child, parent);
    const jobId = await submit(client, orgId, { workflowId: ids.gatedBatch, workflowVersion: { tag: "$LIVE" }, inputJson: { items: [{}, {}, {}] } });
    const children = await waitingChildren(jobId, 3);
    for (const c of children) await waitForJob(client, orgId, c, (j) => j.currentStepName === "hold");
    // The parent cannot reach the job index from now on.
    await runInDurableObject(stub(jobId), (o: JobObject) => {
      const down = () => {
        throw new Error("the job index is unavailable");
      };
      const self = o as unknown as { env: Env; realIndex?: Env["JOB_INDEX"] };
      self.realIndex = self.env.JOB_INDEX;
      self.env = { ...self.env, JOB_INDEX: { idFromName: down, get: down } as unknown as Env["JOB_INDEX"] };
    });
    for (const c of children) await client.expect(200, client.post(`/organizations/${orgId}/jobs/${c}/events`, { eventId: "go", payload: { c } }));
    const { job } = await waitForJob(client, orgId, jobId, undefined, 30_000);
    expect(job.status).toBe("SUCCEEDED");
    expect(job.output.results.map((r: any) => r.output.c)).toEqual(children);
    // None of the children's rows (written only through the parent) is indexed yet.
    expect((await client.expect(200, client.get(`/organizations/${orgId}/jobs?jobHierarchy=CHILD_JOBS_ONLY&status=SUCCEEDED`))).totalCount).toBe(0);
    // The index comes back: those rows reach it.
    await runInDurableObject(stub(jobId), (o: JobObject) => {
      const self = o as unknown as { env: Env; realIndex: Env["JOB_INDEX"] };
      self.env = { ...self.env, JOB_INDEX: self.realIndex };
    });
    const deadline = Date.now() + 60_000;
    let listed: any;
    do {
      await runDurableObjectAlarm(stub(jobId));
      listed = await client.expect(200, client.get(`/organizations/${orgId}/jobs?jobHierarchy=CHILD_JOBS_ONLY&status=SUCCEEDED`));
      if (listed.totalCount === 3) break;
      await new Promise((r) => setTimeout(r, 200));
    } while (Date.now() < deadline);
    expect(listed.totalCount).toBe(3);
    const top = await client.expect(200, client.get(`/organizations/${orgId}/jobs?jobHierarchy=TOP_LEVEL_ONLY`));
    expect(top.jobs[0]).toMatchObject({ jobId, status: "SUCCEEDED" });
  }, 120_000);

  it("records a child that succeeds after its parent was cancelled, and a resume keeps it", async () => {
    const child = workflow("gated", [step("hold", waitEvents, { config: { eventIds: ["go"] } })]);
    const parent = workflow("cancelBatch", [step("fan", run, forEachItems("gated"))]);
    const { client, orgId, ids } = await tenantWith(admin, child, parent);
    const jobId = await submit(client, orgId, { workflowId: ids.cancelBatch, workflowVersion: { tag: "$LIVE" }, inputJson: { items: [{}, {}, {}] } });
    const first = await waitingChildren(jobId, 3);
    for (const c of first) await waitForJob(client, orgId, c, (j) => j.currentStepName === "hold");

    // Child 0 succeeds, but its report reaches the parent only after the parent was cancelled.
    const gate = await holdReports(jobId);
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${first[0]}/events`, { eventId: "go", payload: { early: true } }));
    await waitForJob(client, orgId, first[0]!);
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/cancel`));
    await gate.release();
    for (const c of first.slice(1)) expect((await waitForJob(client, orgId, c)).job.status).toBe("CANCELLED");
    const recorded = async () =>
      runInDurableObject(stub(jobId), (o: JobObject) => {
        const r = o.state!.resumeChildren!;
        return o.store.children(r.stepName, r.attempt).map((c) => c.status);
      });
    for (let i = 0; i < 200 && (await recorded()).join() !== "SUCCEEDED,CANCELLED,CANCELLED"; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await recorded()).toEqual(["SUCCEEDED", "CANCELLED", "CANCELLED"]);

    // The resume keeps child 0 and re-runs the two that were cancelled, with new ids.
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/resume`));
    const second = await waitingChildren(jobId, 3);
    expect(second[0]).toBe(first[0]);
    expect(second[1]).not.toBe(first[1]);
    expect(second[2]).not.toBe(first[2]);
    for (const c of second.slice(1)) {
      await waitForJob(client, orgId, c, (j) => j.currentStepName === "hold");
      await client.expect(200, client.post(`/organizations/${orgId}/jobs/${c}/events`, { eventId: "go", payload: { late: true } }));
    }
    const { job } = await waitForJob(client, orgId, jobId, undefined, 30_000);
    expect(job.status).toBe("SUCCEEDED");
    expect(job.output.results.map((r: any) => [r.jobId, r.output])).toEqual([
      [first[0], { early: true }],
      [second[1], { late: true }],
      [second[2], { late: true }],
    ]);
  }, 120_000);

  it("has a one-step child report through its start: it owes nothing after and sets no alarm", async () => {
    const child = workflow("quick", [step("only", noop)]);
    const parent = workflow("quickBatch", [step("fan", run, forEachItems("quick"))]);
    const { client, orgId, ids } = await tenantWith(admin, child, parent);
    const jobId = await submit(client, orgId, { workflowId: ids.quickBatch, workflowVersion: { tag: "$LIVE" }, inputJson: { items: [{ a: 1 }, { a: 2 }, { a: 3 }] } });
    const { job } = await waitForJob(client, orgId, jobId, undefined, 30_000);
    expect(job).toMatchObject({ status: "SUCCEEDED", billableTransactionUnits: 4 });
    for (const r of job.output.results) {
      const owed = await runInDurableObject(stub(r.jobId), async (o: JobObject, ctx) => ({
        status: o.state?.status,
        work: o.store.queue.dueWork(Number.MAX_SAFE_INTEGER, 10).map((w) => w.id),
        alarm: await ctx.storage.getAlarm(),
        commits: o.store.commits,
      }));
      expect(owed).toMatchObject({ status: "SUCCEEDED", work: [], alarm: null });
      // Created, run and finished in one durable commit (none, if this instance was recreated since).
      expect(owed.commits).toBeLessThanOrEqual(1);
    }
  });

  it("creates no storage for a job id that never existed", async () => {
    const { client, orgId } = await newTenant(admin);
    const ghost = crypto.randomUUID();
    for (const path of ["", "/state", "/state/metadata"]) {
      await client.expect(404, client.get(`/organizations/${orgId}/jobs/${ghost}${path}`));
    }
    await client.expect(404, client.post(`/organizations/${orgId}/jobs/${ghost}/events`, { eventId: "e", payload: {} }));
    const tables = await runInDurableObject(stub(ghost), (_o: JobObject, ctx) =>
      ctx.storage.sql.exec(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_cf_%'`).toArray(),
    );
    expect(tables).toEqual([]);
    expect(await runInDurableObject(stub(ghost), async (_o: JobObject, ctx) => ctx.storage.getAlarm())).toBeNull();
  });
});
