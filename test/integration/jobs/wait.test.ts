import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { newTenant, tenantWith } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import type { JobObject } from "../../../src/job/job-object";
import { runObjectName } from "../../../src/job/naming";

const transform = "/canopy/transform";
const again = "/canopy/continueAsNew";
const waitEvents = "/justworkflowit/waitForEventIds";

// Waits are real seconds here; nothing asserts how long anything took.
const TIMEOUT = 60_000;

const runStub = (jobId: string, runNumber = 1): DurableObjectStub<JobObject> => env.JOBS.get(env.JOBS.idFromName(runObjectName(jobId, runNumber)));

/** Ends when the event `go` arrives. */
const held = workflow("held", [step("hold", waitEvents, { config: { eventIds: ["go"] } })]);
/** Never ends on its own. */
const forever = workflow("forever", [step("hold", waitEvents, { config: { eventIds: ["never"] } })]);
/** Ends at once. */
const quick = workflow("quick", [step("mark", transform, { config: { output: { done: true } } })]);
/** Waits for `go` in run 1, continues as new, and waits for `go2` in run 2. */
const relay = workflow("relay", [
  step("hold", waitEvents, { config: { eventIds: ["go"] } }, "roll"),
  step("roll", again, { config: { nextStep: "hold2" } }),
  step("hold2", waitEvents, { config: { eventIds: ["go2"] } }),
]);

/** Polls the run's Durable Object until it holds `count` waiters. */
async function waitersHeld(jobId: string, runNumber: number, count: number): Promise<void> {
  let size = -1;
  for (let i = 0; i < 1000; i++) {
    size = await runInDurableObject(runStub(jobId, runNumber), (o: JobObject) => o.waiters.size);
    if (size === count) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`run ${runNumber} of ${jobId} holds ${size} waiters, not ${count}`);
}

describe("GetJob with waitForTerminalSeconds", () => {
  it(
    "holds the request until an event ends the job, then answers SUCCEEDED",
    async () => {
      const { client, orgId, ids } = await tenantWith(admin, held);
      const jobId = await submit(client, orgId, { workflowId: ids.held, workflowVersion: { tag: "$LIVE" } });
      const waiting = client.get(`/organizations/${orgId}/jobs/${jobId}?waitForTerminalSeconds=30`);
      let answered = false;
      void waiting.then(() => (answered = true));
      await waitersHeld(jobId, 1, 1);
      expect(answered).toBe(false);

      const sentAt = Date.now();
      await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/events`, { eventId: "go" }));
      const res = await waiting;
      expect(res.status).toBe(200);
      expect(res.body.job).toMatchObject({ jobId, status: "SUCCEEDED", runNumber: 1 });
      expect(Date.parse(res.body.job.finishedAt)).toBeGreaterThanOrEqual(sentAt);
      await waitersHeld(jobId, 1, 0);
    },
    TIMEOUT,
  );

  it(
    "answers RUNNING when the time is up, and lets the waiter go",
    async () => {
      const { client, orgId, ids } = await tenantWith(admin, forever);
      const jobId = await submit(client, orgId, { workflowId: ids.forever, workflowVersion: { tag: "$LIVE" } });
      const res = await client.get(`/organizations/${orgId}/jobs/${jobId}?waitForTerminalSeconds=1`);
      expect(res.status).toBe(200);
      expect(res.body.job.status).toBe("RUNNING");
      expect(await runInDurableObject(runStub(jobId), (o: JobObject) => o.waiters.size)).toBe(0);
    },
    TIMEOUT,
  );

  it(
    "answers a job that has ended at once",
    async () => {
      const { client, orgId, ids } = await tenantWith(admin, quick);
      const jobId = await submit(client, orgId, { workflowId: ids.quick, workflowVersion: { tag: "$LIVE" } });
      await waitForJob(client, orgId, jobId);
      // Held for the full 60 s, this would outlast the test's own timeout.
      const { job } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}?waitForTerminalSeconds=60`));
      expect(job).toMatchObject({ jobId, status: "SUCCEEDED", output: { done: true } });
    },
    TIMEOUT,
  );

  it(
    "follows a job that continues as new to its live run",
    async () => {
      const { client, orgId, ids } = await tenantWith(admin, relay);
      const jobId = await submit(client, orgId, { workflowId: ids.relay, workflowVersion: { tag: "$LIVE" } });
      const waiting = client.get(`/organizations/${orgId}/jobs/${jobId}?waitForTerminalSeconds=30`);
      await waitersHeld(jobId, 1, 1);
      await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/events`, { eventId: "go" }));
      // Run 1 handed over: the request now waits in run 2, and run 1 holds nothing.
      await waitersHeld(jobId, 2, 1);
      await waitersHeld(jobId, 1, 0);

      const sentAt = Date.now();
      await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/events`, { eventId: "go2" }));
      const res = await waiting;
      expect(res.status).toBe(200);
      expect(res.body.job).toMatchObject({ jobId, status: "SUCCEEDED", runNumber: 2 });
      expect(Date.parse(res.body.job.finishedAt)).toBeGreaterThanOrEqual(sentAt);
    },
    TIMEOUT,
  );

  it(
    "answers the job as it is when its Durable Object is evicted mid-wait",
    async () => {
      const { client, orgId, ids } = await tenantWith(admin, forever);
      const jobId = await submit(client, orgId, { workflowId: ids.forever, workflowVersion: { tag: "$LIVE" } });
      const waiting = client.get(`/organizations/${orgId}/jobs/${jobId}?waitForTerminalSeconds=60`);
      await waitersHeld(jobId, 1, 1);
      // Eviction waits for in-flight calls to drain; resetting the object drops them as a real eviction would.
      await runInDurableObject(runStub(jobId), (_o: JobObject, ctx) => ctx.abort("evicted")).catch(() => undefined);
      const res = await waiting;
      expect(res.status).toBe(200);
      expect(res.body.job).toMatchObject({ jobId, status: "RUNNING" });
    },
    TIMEOUT,
  );

  it.each(["61", "-1", "abc", "1.5"])(
    "refuses waitForTerminalSeconds=%s with 400 in the API's error format",
    async (value) => {
      const { client, orgId, ids } = await tenantWith(admin, quick);
      const jobId = await submit(client, orgId, { workflowId: ids.quick, workflowVersion: { tag: "$LIVE" } });
      const res = await client.get(`/organizations/${orgId}/jobs/${jobId}?waitForTerminalSeconds=${value}`);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ code: "ValidationError", message: expect.any(String) });
      expect(JSON.stringify(res.body)).toContain("waitForTerminalSeconds");
    },
    TIMEOUT,
  );

  it(
    "gives another organization 403 on the path and 404 for the job, without waiting",
    async () => {
      const { client, orgId, ids } = await tenantWith(admin, forever);
      const jobId = await submit(client, orgId, { workflowId: ids.forever, workflowVersion: { tag: "$LIVE" } });
      const other = await newTenant(admin);
      expect((await other.client.get(`/organizations/${orgId}/jobs/${jobId}?waitForTerminalSeconds=60`)).status).toBe(403);
      expect((await other.client.get(`/organizations/${other.orgId}/jobs/${jobId}?waitForTerminalSeconds=60`)).status).toBe(404);
      expect((await client.get(`/organizations/${orgId}/jobs/${crypto.randomUUID()}?waitForTerminalSeconds=60`)).status).toBe(404);
      expect(await runInDurableObject(runStub(jobId), (o: JobObject) => o.waiters.size)).toBe(0);
    },
    TIMEOUT,
  );
});
