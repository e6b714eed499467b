/**
 * A child's report to its parent is bounded where it is made: error messages are cut at creation,
 * the report carries each thing once, and a report the parent still cannot keep ends the child's
 * place in the parent's step (FAILED, REPORT_TOO_LARGE) instead of being retried for ever.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { tenantWith } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import type { JobObject } from "../../../src/job/job-object";
import { MAX_ERROR_MESSAGE_CHARS, MAX_STORED_VALUE_BYTES } from "../../../src/limits";

const run = "/justworkflowit/runChildJob";
const transform = "/canopy/transform";
const waitEvents = "/justworkflowit/waitForEventIds";

const stub = (jobId: string): DurableObjectStub<JobObject> => env.JOBS.get(env.JOBS.idFromName(jobId));

/** 12,000 numbers where the schema wants strings: about 12,000 schema problems (~650 KB of text). */
const list = new Array(12_000).fill(0);
const strings = { type: "object", properties: { list: { type: "array", items: { type: "string" } } } };
const check = step("check", transform, { config: { output: { list: { var: "workflowInput.list" } } }, output: "strings" });

const parentOf = (name: string, child: string) => workflow(name, [step("spawn", run, { config: { children: [{ workflowName: child, workflowVersion: { tag: "$LIVE" } }] } })]);

/** Polls GetJob, running the job's alarm between polls so a retry backoff does not slow the test. */
async function settle(client: any, orgId: string, jobId: string, until: (job: any) => boolean, timeoutMs = 15_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  let last: any;
  while (Date.now() < deadline) {
    last = (await client.get(`/organizations/${orgId}/jobs/${jobId}`)).body;
    if (last?.job && until(last.job)) return last;
    await runDurableObjectAlarm(stub(jobId)).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`job ${jobId} never settled; last seen ${JSON.stringify(last).slice(0, 500)}`);
}

function expectBoundedSchemaError(message: string): void {
  expect(message.length).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_CHARS);
  expect(message).toMatch(/^Step output violates its schema: \/list\/0: /);
  expect(message).toMatch(/… and \d+ more problems\.$/);
}

describe("a child's report to its parent", () => {
  it("bounds a child's schema error at creation, so a child that ends during its start does not strand its parent", async () => {
    const child = workflow("strict", [check], { strings });
    const { client, orgId, ids } = await tenantWith(admin, child, parentOf("strictParent", "strict"));
    const jobId = await submit(client, orgId, { workflowId: ids.strictParent, workflowVersion: { tag: "$LIVE" }, inputJson: { list } });
    const { job } = await settle(client, orgId, jobId, (j) => j.status !== "RUNNING" && j.status !== "PENDING");
    expect(job).toMatchObject({ status: "FAILED", error: { code: "ChildJobsFailed", stepName: "spawn" } });
    // The child's own error is the bounded one, in its GetJob and in the parent's record of it.
    const children = await runInDurableObject(stub(jobId), (o: JobObject) => o.store.children("spawn", 1));
    expect(children).toHaveLength(1);
    expect(children[0]).toMatchObject({ status: "FAILED", error: { code: "OutputValidationError" } });
    expectBoundedSchemaError(children[0]!.error!.message);
    const seen = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${children[0]!.jobId}`));
    expectBoundedSchemaError(seen.job.error.message);
  });

  it("bounds the report of a child that ends later, so its notifyParent is taken at once and never retried", async () => {
    const child = workflow("lateStrict", [step("hold", waitEvents, { config: { eventIds: ["go"] } }, "check"), check], { strings });
    const { client, orgId, ids } = await tenantWith(admin, child, parentOf("lateParent", "lateStrict"));
    const jobId = await submit(client, orgId, { workflowId: ids.lateParent, workflowVersion: { tag: "$LIVE" }, inputJson: { list } });
    let childId: string | undefined;
    for (let i = 0; i < 200 && !childId; i++) {
      childId = await runInDurableObject(stub(jobId), (o: JobObject) => o.store.children("spawn", 1).find((c) => c.status === "STARTING")?.jobId);
      if (!childId) await new Promise((r) => setTimeout(r, 25));
    }
    await waitForJob(client, orgId, childId!, (j) => j.currentStepName === "hold");
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${childId}/events`, { eventId: "go" }));
    const ended = await settle(client, orgId, childId!, (j) => j.status === "FAILED");
    expectBoundedSchemaError(ended.job.error.message);
    // The child's report went through: nothing is owed for it any more.
    await runDurableObjectAlarm(stub(childId!));
    const owed = await runInDurableObject(stub(childId!), (o: JobObject) => o.store.queue.dueWork(Number.MAX_SAFE_INTEGER, 10).map((w) => w.kind));
    expect(owed).not.toContain("notifyParent");
    const { job } = await settle(client, orgId, jobId, (j) => j.status === "FAILED");
    expect(job.error).toMatchObject({ code: "ChildJobsFailed", stepName: "spawn" });
  });

  it("records a report too large to keep as the child's failure, so the parent's step ends and nobody retries", async () => {
    const child = workflow("held", [step("hold", waitEvents, { config: { eventIds: ["go"] } })]);
    const { client, orgId, ids } = await tenantWith(admin, child, parentOf("heldParent", "held"));
    const jobId = await submit(client, orgId, { workflowId: ids.heldParent, workflowVersion: { tag: "$LIVE" } });
    let childId: string | undefined;
    for (let i = 0; i < 200 && !childId; i++) {
      childId = await runInDurableObject(stub(jobId), (o: JobObject) => o.store.children("spawn", 1).find((c) => c.status === "STARTING")?.jobId);
      if (!childId) await new Promise((r) => setTimeout(r, 25));
    }
    // A report built by some other code path than today's, over the size of an inbox row.
    const huge = { childJobId: childId!, workflowName: "held", status: "SUCCEEDED" as const, units: 7, output: { pad: "z".repeat(MAX_STORED_VALUE_BYTES) } };
    const answer = await stub(jobId).receiveChildReport(huge);
    expect(answer).toEqual({ ok: true });
    const { job } = await settle(client, orgId, jobId, (j) => j.status === "FAILED");
    expect(job.error).toMatchObject({ code: "ChildJobsFailed", stepName: "spawn" });
    const [row] = await runInDurableObject(stub(jobId), (o: JobObject) => o.store.children("spawn", 1));
    expect(row).toMatchObject({ status: "FAILED", units: 7, error: { code: "REPORT_TOO_LARGE" } });
    expect(row!.error!.message).toMatch(/report of \d+ bytes/);
  });
});
