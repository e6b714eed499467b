/**
 * What a parent keeps for its children shrinks as they go: a child's input is deleted once the
 * child holds it (its start succeeded, or it will never start), and a child forgets the metric
 * events its parent has taken.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { tenantWith } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import type { JobObject } from "../../../src/job/job-object";

const run = "/justworkflowit/runChildJob";
const waitEvents = "/justworkflowit/waitForEventIds";

const stub = (jobId: string): DurableObjectStub<JobObject> => env.JOBS.get(env.JOBS.idFromName(jobId));

const inputRows = (jobId: string) =>
  runInDurableObject(stub(jobId), (o: JobObject) => (o.store.tables.has("child_input") ? o.store.tables.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM child_input`).one().n : 0));

async function childIds(parentJobId: string, status: string, count: number): Promise<string[]> {
  for (let i = 0; i < 400; i++) {
    const ids = await runInDurableObject(stub(parentJobId), (o: JobObject) => o.store.children("spawn", 1).filter((c) => c.status === status).map((c) => c.jobId));
    if (ids.length === count) return ids;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`parent ${parentJobId} never had ${count} ${status} children`);
}

describe("a parent's rows for its children", () => {
  it("deletes a child's input once the child has started, and those of children that never will", async () => {
    const child = workflow("holder", [step("hold", waitEvents, { config: { eventIds: ["go"] } })]);
    // Three listed children, each given the whole 100 KB step input; one runs at a time.
    const parent = workflow("inputs", [
      step("spawn", run, {
        config: { maxConcurrency: 1, children: ["a", "b", "c"].map((id) => ({ id, workflowName: "holder", workflowVersion: { tag: "$LIVE" } })) },
      }),
    ]);
    const { client, orgId, ids } = await tenantWith(admin, child, parent);
    const jobId = await submit(client, orgId, { workflowId: ids.inputs, workflowVersion: { tag: "$LIVE" }, inputJson: { pad: "p".repeat(100_000) } });
    const [first] = await childIds(jobId, "STARTING", 1);
    await waitForJob(client, orgId, first!, (j) => j.currentStepName === "hold");
    await runDurableObjectAlarm(stub(jobId));
    // The started child holds its input now; the two still waiting keep theirs in the parent.
    expect(await inputRows(jobId)).toBe(2);
    const started = await runInDurableObject(stub(first!), (o: JobObject) => o.store.data("workflowInput"));
    expect(started).toMatchObject({ value: { pad: "p".repeat(100_000) } });
    // Cancelled, the two that never started need no input any more.
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/cancel`));
    await waitForJob(client, orgId, jobId);
    expect(await inputRows(jobId)).toBe(0);
  });

  it("has a child forget the metrics its parent took with its report", async () => {
    const child = workflow("metered", [step("hold", waitEvents, { config: { eventIds: ["go"] } })]);
    const parent = workflow("meterParent", [step("spawn", run, { config: { children: [{ workflowName: "metered", workflowVersion: { tag: "$LIVE" } }] } })]);
    const { client, orgId, ids } = await tenantWith(admin, child, parent);
    const jobId = await submit(client, orgId, { workflowId: ids.meterParent, workflowVersion: { tag: "$LIVE" } });
    const [childId] = await childIds(jobId, "STARTING", 1);
    await waitForJob(client, orgId, childId!, (j) => j.currentStepName === "hold");
    // The child cannot reach the job index, so it cannot send its metrics itself: only its parent can.
    await runInDurableObject(stub(childId!), (o: JobObject) => {
      const down = () => {
        throw new Error("the job index is unavailable");
      };
      const self = o as unknown as { env: Env };
      self.env = { ...self.env, JOB_INDEX: { idFromName: down, get: down } as unknown as Env["JOB_INDEX"] };
    });
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${childId}/events`, { eventId: "go" }));
    await waitForJob(client, orgId, jobId);
    for (let i = 0; i < 20; i++) await runDurableObjectAlarm(stub(childId!));
    // Nothing left to seal or to send: the flushes its reports carried are the parent's now.
    const left = await runInDurableObject(stub(childId!), (o: JobObject) => ({ pending: o.store.metrics.hasPending(), outgoing: o.store.metrics.outgoing(1000).length }));
    expect(left).toEqual({ pending: false, outgoing: 0 });
  });
});
