// A job id is a lower-case UUID, and every route that takes one reaches the same job whatever the
// case of the id in the path: a job's Durable Object is named by its id, so an upper-case spelling
// must not name a second, empty object.
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { deployWorkflow, newTenant } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { createTrigger, postHook, standardHeaders } from "../../helpers/webhooks";
import { admin } from "../../helpers/workerd";

const TIMEOUT = 60_000;
const LOWER_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const waitFor = (eventId: string) => step("wait", "/justworkflowit/waitForEventIds", { config: { eventIds: [eventId] } });

describe("job ids", () => {
  it(
    "reach the same job from GET, state, events, cancel and resume in upper case",
    async () => {
      const { orgId, client } = await newTenant(admin);
      const { workflowId } = await deployWorkflow(client, orgId, workflow("waiting", [waitFor("go")]));
      const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" } });
      expect(jobId).toMatch(LOWER_UUID);
      await waitForJob(client, orgId, jobId, (j) => j.currentStepName === "wait", TIMEOUT);
      const lower = `/organizations/${orgId}/jobs/${jobId}`;
      const upper = `/organizations/${orgId}/jobs/${jobId.toUpperCase()}`;

      const got = await client.expect(200, client.get(upper));
      expect(got.job).toMatchObject({ jobId, status: "RUNNING", currentStepName: "wait" });
      expect(await client.expect(200, client.get(`${upper}/state`))).toEqual(await client.expect(200, client.get(`${lower}/state`)));
      expect((await client.expect(200, client.get(`${upper}/state/metadata`))).runNumber).toBe(1);

      // An event sent through the upper-case id is the job's own: it shows in its history.
      expect(await client.expect(200, client.post(`${upper}/events`, { eventId: "early" }))).toEqual({ jobId, eventId: "early" });
      const { state } = await client.expect(200, client.get(`${lower}/state`));
      expect(state.executionHistory.map((h: any) => h.eventId)).toContain("early");

      expect(await client.expect(200, client.post(`${upper}/cancel`))).toEqual({ jobId });
      expect((await waitForJob(client, orgId, jobId, undefined, TIMEOUT)).job.status).toBe("CANCELLED");
      expect(await client.expect(200, client.post(`${upper}/resume`))).toEqual({ jobId });
      await waitForJob(client, orgId, jobId, (j) => j.status === "RUNNING" && j.currentStepName === "wait", TIMEOUT);
      await client.expect(200, client.post(`${upper}/events`, { eventId: "go" }));
      expect((await waitForJob(client, orgId, jobId, undefined, TIMEOUT)).job.status).toBe("SUCCEEDED");
      expect((await client.expect(200, client.get(`/organizations/${orgId}/jobs`))).totalCount).toBe(1);
    },
    TIMEOUT,
  );

  it(
    "list a parent's children when the parent is read by its upper-case id",
    async () => {
      const { orgId, client } = await newTenant(admin);
      await deployWorkflow(client, orgId, workflow("leaf", [waitFor("never")]));
      const run = { config: { children: [{ workflowName: "leaf", workflowVersion: { tag: "$LIVE" } }] } };
      const { workflowId } = await deployWorkflow(client, orgId, workflow("parent", [step("spawn", "/justworkflowit/runChildJob", run)]));
      const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" } });
      // The child shows in GetJob once the parent has started it and the index has it.
      let childJobs: unknown[] | undefined;
      const deadline = Date.now() + TIMEOUT;
      while (childJobs === undefined && Date.now() < deadline) {
        childJobs = (await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}`))).childJobs;
        if (childJobs === undefined) await new Promise((r) => setTimeout(r, 50));
      }
      expect(childJobs).toHaveLength(1);
      const upper = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId.toUpperCase()}`));
      expect(upper.job.jobId).toBe(jobId);
      expect(upper.childJobs).toEqual(childJobs);
      await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId.toUpperCase()}/cancel`));
    },
    TIMEOUT,
  );

  it(
    "answer 404 for an upper-case id of no job, on every route",
    async () => {
      const { orgId, client } = await newTenant(admin);
      const missing = `/organizations/${orgId}/jobs/${crypto.randomUUID().toUpperCase()}`;
      const answers = await Promise.all([
        client.get(missing),
        client.get(`${missing}/state`),
        client.post(`${missing}/events`, { eventId: "go" }),
        client.post(`${missing}/cancel`),
        client.post(`${missing}/resume`),
      ]);
      for (const res of answers) {
        expect(res.status).toBe(404);
        expect(res.body.code).toBe("NotFoundError");
      }
      expect((await client.expect(200, client.get(`/organizations/${orgId}/jobs`))).totalCount).toBe(0);
    },
    TIMEOUT,
  );

  it(
    "of jobs started by webhook deliveries are lower case too",
    async () => {
      const { orgId, client } = await newTenant(admin);
      const { workflowId } = await deployWorkflow(client, orgId, workflow("hooked", [waitFor("go")]));
      const trigger = await createTrigger(client, orgId, { name: "t", workflowId, workflowVersion: { tag: "$LIVE" }, scheme: "standard-webhooks" });
      const body = JSON.stringify({ order: "o-1" });
      const res = await postHook((url, init) => SELF.fetch(url, init), trigger.url, body, standardHeaders(trigger.secret, body, { id: "MSG_UPPER_CASE" }));
      expect(res.status).toBe(202);
      expect(res.body.jobId).toMatch(LOWER_UUID);
      const upper = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${res.body.jobId.toUpperCase()}`));
      expect(upper.job.jobId).toBe(res.body.jobId);
    },
    TIMEOUT,
  );
});
