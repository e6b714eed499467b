/**
 * `successful_but_incomplete` inside workerd: the poll is the job object's alarm, kept in its
 * storage, so it survives an eviction; an early or duplicated alarm does nothing; each poll is a
 * history item the API shows.
 */
import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { deployWorkflow, newTenant } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import type { JobObject } from "../../../src/job/job-object";
import { emptyChanges } from "../../../src/engine/overlay";
import { fakeOrigin, scenario, seen } from "../integrations/fake";

const http = "/canopy/http";

const stub = (jobId: string): DurableObjectStub<JobObject> => env.JOBS.get(env.JOBS.idFromName(jobId));

/** The step's poll wait and the object's alarm, or null while it is not waiting to poll. */
const pollWait = (jobId: string) =>
  runInDurableObject(stub(jobId), async (o: JobObject, ctx) => {
    const wait = o.state?.current?.wait;
    return wait?.type === "poll" ? { at: wait.at, alarm: await ctx.storage.getAlarm(), polls: o.state!.current!.polls, answeredAt: Date.parse(o.history().at(-1)!.endTimestamp) } : null;
  });

async function until<T>(read: () => Promise<T | null>, what: string): Promise<T> {
  for (let i = 0; i < 500; i++) {
    const value = await read();
    if (value !== null) return value;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Makes the poll due now, as if its interval had passed (the alarm still has to fire). */
const makeDue = (jobId: string) =>
  runInDurableObject(stub(jobId), async (o: JobObject) => {
    const st = structuredClone(o.state!);
    (st.current!.wait as { at: number }).at = Date.now();
    o.store.transaction(() => o.store.write({ state: st, changes: emptyChanges(), commands: [], history: [] }, Date.now()));
    (o as unknown as { current: { state: unknown } }).current.state = st;
  });

describe("successful_but_incomplete", () => {
  it("polls on the object's alarm, which survives eviction, until the far end has a result", async () => {
    const id = await scenario("export", [
      { json: { status: "successful_but_incomplete", payload: { progress: 50, handle: "h-1" } } },
      { json: { status: "successful_but_incomplete", progress: 90 } },
      { json: { file: "export.csv" } },
    ]);
    const { client, orgId } = await newTenant(admin);
    const def = workflow("export", [
      step("export", http, {
        pollIntervalSeconds: 30,
        config: { url: `${fakeOrigin()}/s/${id}/export` },
        inputTransformer: { fieldset: [{ from: "workflowInput.table", to: "table" }, { from: "exportOutput.handle", to: "handle" }] },
      }),
    ]);
    const { workflowId } = await deployWorkflow(client, orgId, def);
    const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: { table: "orders" } });

    const first = await until(() => pollWait(jobId), "the first poll wait");
    expect(first.at - first.answeredAt).toBe(30_000);
    expect(first.alarm).toBe(first.at);
    expect(first.polls).toBe(1);
    const running = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}`));
    expect(running.job).toMatchObject({ status: "RUNNING", billableTransactionUnits: 1 });

    // Evicted, the object comes back with its wait and its alarm: the timer is durable.
    await evictDurableObject(stub(jobId));
    expect(await pollWait(jobId)).toEqual(first);

    // An alarm before the poll is due (or a duplicate) changes nothing.
    await runDurableObjectAlarm(stub(jobId));
    expect(await pollWait(jobId)).toEqual(first);
    expect(await seen(id)).toHaveLength(1);

    await makeDue(jobId);
    await runDurableObjectAlarm(stub(jobId));
    const second = await until(async () => {
      const w = await pollWait(jobId);
      return w && w.polls === 2 ? w : null;
    }, "the second poll wait");
    expect(second.at - second.answeredAt).toBe(30_000);

    await makeDue(jobId);
    await runDurableObjectAlarm(stub(jobId));
    const { job } = await waitForJob(client, orgId, jobId, undefined, 30_000);
    expect(job).toMatchObject({ status: "SUCCEEDED", output: { file: "export.csv" }, billableTransactionUnits: 3 });

    const requests = await seen(id);
    expect(requests.map((r) => JSON.parse(r.body))).toEqual([{ table: "orders" }, { table: "orders", handle: "h-1" }, { table: "orders" }]);
    const { state } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state`));
    expect(state.executionHistory.map((h: any) => [h.stepName, h.output.status, h.output.payload])).toEqual([
      ["export", "successful_but_incomplete", { progress: 50, handle: "h-1" }],
      ["export", "successful_but_incomplete", { status: "successful_but_incomplete", progress: 90 }],
      ["export", "success", { file: "export.csv" }],
    ]);
    expect(state.executionData.exportOutput).toEqual({ file: "export.csv" });
  });

  it("times out a step still incomplete when its timeoutSeconds runs out", async () => {
    const id = await scenario("never-done", [{ json: { status: "successful_but_incomplete", payload: {} } }]);
    const { client, orgId } = await newTenant(admin);
    const def = workflow("never", [step("export", http, { timeoutSeconds: 5, pollIntervalSeconds: 1, config: { url: `${fakeOrigin()}/s/${id}/x` } })]);
    const { workflowId } = await deployWorkflow(client, orgId, def);
    const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" } });
    const { job } = await waitForJob(client, orgId, jobId, undefined, 60_000);
    expect(job).toMatchObject({ status: "FAILED", error: { code: "TIMEOUT", stepName: "export" } });
    expect(job.error.message).toMatch(/still incomplete after \d+ polls when its timeoutSeconds \(5 s\) ran out/);
    const { state } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state`));
    const statuses = state.executionHistory.map((h: any) => h.output.status);
    expect(statuses.at(-1)).toBe("failure");
    expect(statuses.slice(0, -1).every((s: string) => s === "successful_but_incomplete")).toBe(true);
    expect(statuses.length).toBeGreaterThanOrEqual(2);
  });
});
