/**
 * SubmitJobs (batch) and the submission fast path, through the HTTP API inside workerd: per-item
 * results in order, idempotency keys, jobs listed as soon as the answer arrives, the states of an
 * accepted job before its start, the batch object's alarm, and the registry caches.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { newTenant, tenantWith } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import type { BatchStarter } from "../../../src/job/batch-starter";
import type { JobObject } from "../../../src/job/job-object";
import { runObjectName } from "../../../src/job/naming";
import { indexedCount, writeFirstRows } from "../../helpers/job-index";
import { BATCH_FIRST_PASS_DELAY_MS, BATCH_IDENTITY_RETENTION_MS } from "../../../src/limits";

const TIMEOUT = 120_000;
const transform = "/canopy/transform";
const waitEvents = "/justworkflowit/waitForEventIds";

const quick = workflow("quick", [step("mark", transform, { config: { output: { done: true } } })], {
  workflowInput: { type: "object", properties: { n: { type: "integer" } }, required: ["n"] },
});
const held = workflow("held", [step("hold", waitEvents, { config: { eventIds: ["go"] } })]);

const jobStub = (jobId: string): DurableObjectStub<JobObject> => env.JOBS.get(env.JOBS.idFromName(runObjectName(jobId, 1)));

/** The identity a batch gives job `jobId` of the `held` workflow's version `v`, as SubmitJobs would. */
const heldIdentity = (organizationId: string, workflowId: string, v: { versionId: string; versionNumber: number }, jobId: string) => ({
  jobId,
  organizationId,
  workflowId,
  workflowName: "held",
  versionId: v.versionId,
  versionNumber: v.versionNumber,
  submittedByUser: "tests",
  runNumber: 1,
  rootJobId: jobId,
  depth: 0,
  createdAt: Date.now(),
});

/** What a batch object holds: its starts, definitions and identity rows, or null once its storage is gone. */
const holdings = (starter: DurableObjectStub<BatchStarter>) =>
  runInDurableObject(starter, (_o: BatchStarter, state) => {
    const tables = state.storage.sql.exec<{ name: string }>(`SELECT name FROM sqlite_master WHERE type = 'table'`).toArray();
    if (tables.length === 0) return null;
    const count = (t: string) => state.storage.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM ${t}`).one().n;
    return { starts: count("start"), definitions: count("definition"), identity: count("batch") };
  });

/** Runs the object's alarm as if the batch's identity had been kept its whole retention. */
async function identityExpires(starter: DurableObjectStub<BatchStarter>) {
  await runInDurableObject(starter, (_o: BatchStarter, state) => void state.storage.sql.exec(`UPDATE batch SET since = since - ?`, BATCH_IDENTITY_RETENTION_MS));
  await runDurableObjectAlarm(starter);
}

describe("SubmitJobs (batch)", () => {
  it(
    "answers one result per item in order: valid items become jobs, invalid ones get their own errors",
    async () => {
      const { client, orgId, ids } = await tenantWith(admin, quick);
      const res = await client.expect(
        200,
        client.post(`/organizations/${orgId}/jobs/batch`, {
          jobs: [
            { workflowId: ids.quick, workflowVersion: { tag: "$LIVE" }, inputJson: JSON.stringify({ n: 1 }) },
            { workflowName: "no-such-workflow", workflowVersion: { tag: "$LIVE" } },
            { workflowName: "quick", workflowVersion: { versionNumber: 1 }, inputJson: { n: "not a number" } },
            { workflowId: ids.quick },
            { workflowName: "quick", workflowVersion: { versionNumber: 1 }, inputJson: "{not json" },
            { workflowName: "quick", workflowVersion: { versionNumber: 1 }, inputJson: { n: 2 } },
          ],
        }),
      );
      const r = res.results;
      expect(r).toHaveLength(6);
      expect(r[0]).toEqual({ jobId: expect.any(String) });
      expect(r[1].error).toMatchObject({ code: "NotFoundError" });
      expect(r[2].error).toMatchObject({ code: "ValidationError", message: expect.stringContaining("workflowInput") });
      expect(r[3].error).toMatchObject({ code: "ValidationError", fields: { workflowVersion: expect.any(String) } });
      expect(r[4].error).toMatchObject({ code: "ValidationError", message: "inputJson is not valid JSON." });
      expect(r[5]).toEqual({ jobId: expect.any(String) });
      expect(r[0].jobId).not.toBe(r[5].jobId);

      // Listed as soon as the answer arrived (read-your-writes), whether or not they have started.
      const listed = await client.expect(200, client.get(`/organizations/${orgId}/jobs`));
      expect(listed.totalCount).toBe(2);
      expect(listed.jobs.map((j: any) => j.jobId).sort()).toEqual([r[0].jobId, r[5].jobId].sort());

      for (const [i, n] of [[0, 1], [5, 2]] as const) {
        const done = await waitForJob(client, orgId, r[i].jobId, undefined, 60_000);
        expect(done.job).toMatchObject({ status: "SUCCEEDED", workflowName: "quick", output: { done: true } });
        const state = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${r[i].jobId}/state`));
        expect(JSON.stringify(state)).toContain(`"n":${n}`);
      }
    },
    TIMEOUT,
  );

  it(
    "gives a key one job: twice in one batch, again in a later batch, and through SubmitJob",
    async () => {
      const { client, orgId, ids } = await tenantWith(admin, quick);
      const item = (key: string, n: number) => ({ workflowId: ids.quick, workflowVersion: { tag: "$LIVE" }, inputJson: { n }, idempotencyKey: key });
      const first = await client.expect(
        200,
        client.post(`/organizations/${orgId}/jobs/batch`, { jobs: [item("a", 1), item("b", 2), item("a", 3)] }),
      );
      const [a, b, a2] = first.results.map((x: any) => x.jobId);
      expect(a2).toBe(a);
      expect(b).not.toBe(a);
      const again = await client.expect(200, client.post(`/organizations/${orgId}/jobs/batch`, { jobs: [item("b", 9), item("c", 4)] }));
      expect(again.results[0].jobId).toBe(b);
      const single = await submit(client, orgId, item("a", 7));
      expect(single).toBe(a);

      const done = await waitForJob(client, orgId, a, undefined, 60_000);
      const state = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${a}/state`));
      expect(done.job.status).toBe("SUCCEEDED");
      expect(JSON.stringify(state)).toContain(`"n":1`);
      const listed = await client.expect(200, client.get(`/organizations/${orgId}/jobs`));
      expect(listed.totalCount).toBe(3);
    },
    TIMEOUT,
  );

  it(
    "refuses a batch that is empty, too long or too large as a whole, and creates nothing",
    async () => {
      const { client, orgId, ids } = await tenantWith(admin, quick);
      const item = { workflowId: ids.quick, workflowVersion: { tag: "$LIVE" }, inputJson: { n: 1 } };
      const empty = await client.post(`/organizations/${orgId}/jobs/batch`, { jobs: [] });
      expect(empty.status).toBe(400);
      const tooMany = await client.post(`/organizations/${orgId}/jobs/batch`, { jobs: Array.from({ length: 1001 }, () => item) });
      expect(tooMany.status).toBe(400);
      expect(tooMany.body).toMatchObject({ code: "ValidationError", fields: { jobs: expect.any(String) } });
      const huge = await client.post(`/organizations/${orgId}/jobs/batch`, {
        jobs: [{ ...item, inputJson: { n: 1, pad: "x".repeat(1_100_000) } }],
      });
      expect(huge.status).toBe(413);
      const other = await newTenant(admin);
      const forbidden = await other.client.post(`/organizations/${orgId}/jobs/batch`, { jobs: [item] });
      expect(forbidden.status).toBe(403);
      const listed = await client.expect(200, client.get(`/organizations/${orgId}/jobs`));
      expect(listed.totalCount).toBe(0);
    },
    TIMEOUT,
  );

  it(
    "takes 1,000 items in one request and starts every job once",
    async () => {
      const { client, orgId, ids } = await tenantWith(admin, quick);
      const submissions = Array.from({ length: 1000 }, (_, n) => ({ workflowId: ids.quick, workflowVersion: { tag: "$LIVE" }, inputJson: { n } }));
      const res = await client.expect(200, client.post(`/organizations/${orgId}/jobs/batch`, { jobs: submissions }));
      const jobIds: string[] = res.results.map((x: any) => x.jobId);
      expect(new Set(jobIds).size).toBe(1000);
      const listed = await client.expect(200, client.get(`/organizations/${orgId}/jobs?pageSize=1`));
      expect(listed.totalCount).toBe(1000);
      // Every job ends SUCCEEDED; the index converges on it.
      const deadline = Date.now() + 400_000;
      let succeeded = 0;
      while (Date.now() < deadline) {
        succeeded = (await client.expect(200, client.get(`/organizations/${orgId}/jobs?status=SUCCEEDED&pageSize=1`))).totalCount;
        if (succeeded === 1000) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(succeeded).toBe(1000);
      const last = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobIds[999]}`));
      expect(last.job).toMatchObject({ status: "SUCCEEDED", billableTransactionUnits: 1 });
    },
    // A thousand new Durable Objects take seconds on a quiet machine and minutes on a busy one.
    500_000,
  );

  it(
    "answers for an accepted job whose start no object holds: GetJob PENDING, SendEvent 409, and a cancel the start honours",
    async () => {
      const { client, orgId, ids } = await tenantWith(admin, held);
      const version = await client.expect(200, client.get(`/organizations/${orgId}/workflows/${ids.held}/versions`));
      const v = version.versions[0];
      // The state between the answer and the start, made with the same calls the batch makes.
      const starter = env.BATCH_STARTS.get(env.BATCH_STARTS.newUniqueId());
      const jobId = crypto.randomUUID();
      const identity = heldIdentity(orgId, ids.held!, v, jobId);
      const now = new Date().toISOString();
      await writeFirstRows(orgId, [
        {
          jobId,
          status: "PENDING",
          workflowId: ids.held!,
          workflowName: "held",
          workflowVersion: { versionId: v.versionId, versionNumber: v.versionNumber },
          submittedByUser: "tests",
          createdAt: now,
          updatedAt: now,
          rootJobId: jobId,
          billableTransactionUnits: 0,
          runNumber: 1,
        },
      ]);

      const pending = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}`));
      expect(pending.job).toMatchObject({ jobId, status: "PENDING", workflowName: "held" });
      const event = await client.post(`/organizations/${orgId}/jobs/${jobId}/events`, { eventId: "go" });
      expect(event.status).toBe(409);
      expect(event.body.code).toBe("ConflictError");
      const other = await newTenant(admin);
      expect((await other.client.get(`/organizations/${orgId}/jobs/${jobId}`)).status).toBe(403);
      expect((await admin.get(`/organizations/${other.orgId}/jobs/${jobId}`)).status).toBe(404);

      await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/cancel`));
      await starter.accept({ [v.versionId]: JSON.stringify(held) }, [{ identity, input: {} }]);
      await runDurableObjectAlarm(starter);
      const cancelled = await waitForJob(client, orgId, jobId);
      expect(cancelled.job).toMatchObject({ status: "CANCELLED", error: { code: "CANCELLED", message: "The job was cancelled before it started." } });
    },
    TIMEOUT,
  );

  it(
    "starts each job once when its alarm runs twice, keeps only the batch's identity, and then no storage",
    async () => {
      const { client, orgId, ids } = await tenantWith(admin, held);
      const version = await client.expect(200, client.get(`/organizations/${orgId}/workflows/${ids.held}/versions`));
      const v = version.versions[0];
      const starter = env.BATCH_STARTS.get(env.BATCH_STARTS.newUniqueId());
      const jobIds = [crypto.randomUUID(), crypto.randomUUID()];
      const starts = jobIds.map((jobId) => ({ identity: heldIdentity(orgId, ids.held!, v, jobId), input: {} }));
      const before = Date.now();
      await starter.accept({ [v.versionId]: JSON.stringify(held) }, starts);
      // The first pass waits BATCH_FIRST_PASS_DELAY_MS, leaving the thread to the API's answer.
      const firstPass = await runInDurableObject(starter, (_o: BatchStarter, state) => state.storage.getAlarm());
      expect(firstPass).toBeGreaterThanOrEqual(before + BATCH_FIRST_PASS_DELAY_MS);
      expect(firstPass).toBeLessThanOrEqual(Date.now() + BATCH_FIRST_PASS_DELAY_MS);
      await runDurableObjectAlarm(starter);
      await runDurableObjectAlarm(starter);
      // (The alarm that fired by itself may still be in flight, awaiting D1: wait for the starts.)
      for (const jobId of jobIds) {
        const job = await waitForJob(client, orgId, jobId, (j) => j.status === "RUNNING");
        expect(job.job.currentStepName).toBe("hold");
      }
      // The same start again (a retried pass) changes nothing: the job is returned as it is.
      const again = await jobStub(jobIds[0]!).start({ identity: starts[0]!.identity, definition: JSON.stringify(held), executionData: { workflowInput: {} } });
      expect(again).toMatchObject({ ok: true, value: { created: false } });
      await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobIds[0]}/events`, { eventId: "go" }));
      const done = await waitForJob(client, orgId, jobIds[0]!);
      expect(done.job.status).toBe("SUCCEEDED");
      const state = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobIds[0]}/state`));
      expect(state.state.executionHistory.filter((i: any) => i.historySource === "engine")).toHaveLength(1);
      await runDurableObjectAlarm(starter);
      expect(await holdings(starter)).toEqual({ starts: 0, definitions: 0, identity: 1 });
      await identityExpires(starter);
      expect(await holdings(starter)).toBeNull();
    },
    TIMEOUT,
  );
});

describe("SubmitJobs (batch) and DeleteOrganization", () => {
  it(
    "drops the starts, and the index rows, of a batch whose organization was deleted before its alarm ran",
    async () => {
      const { client, orgId, ids } = await tenantWith(admin, held);
      const version = await client.expect(200, client.get(`/organizations/${orgId}/workflows/${ids.held}/versions`));
      const v = version.versions[0];
      const jobIds = [crypto.randomUUID(), crypto.randomUUID()];
      const now = new Date().toISOString();
      const starts = jobIds.map((jobId) => ({ identity: heldIdentity(orgId, ids.held!, v, jobId), input: {} }));
      await writeFirstRows(
        orgId,
        jobIds.map((jobId) => ({
          jobId,
          status: "PENDING" as const,
          workflowId: ids.held!,
          workflowName: "held",
          workflowVersion: { versionId: v.versionId, versionNumber: v.versionNumber },
          submittedByUser: "tests",
          createdAt: now,
          updatedAt: now,
          rootJobId: jobId,
          billableTransactionUnits: 0,
          runNumber: 1,
        })),
      );
      // The batch was accepted in the moment of the deletion; its object's first alarm comes after.
      await admin.expect(200, admin.delete(`/organizations/${orgId}`));
      const starter = env.BATCH_STARTS.get(env.BATCH_STARTS.newUniqueId());
      await starter.accept({ [v.versionId]: JSON.stringify(held) }, starts);
      // Run its alarm (or let the one that fired by itself finish) until no start is left.
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline && (await holdings(starter))?.starts) {
        await runDurableObjectAlarm(starter);
        await new Promise((r) => setTimeout(r, 50));
      }

      // No job was started: its object holds no run, and nothing lists it.
      for (const jobId of jobIds) {
        const described = await jobStub(jobId).describe(orgId);
        expect(described).toMatchObject({ ok: false, error: { code: "NotFoundError" } });
      }
      expect(await indexedCount(orgId, jobIds)).toBe(0);
      await identityExpires(starter);
      expect(await holdings(starter)).toBeNull();
    },
    TIMEOUT,
  );
});

describe("the submission path's caches", () => {
  it(
    "sees a tag moved and a token revoked through this isolate at once",
    async () => {
      const { client, orgId, ids, token } = await tenantWith(admin, quick);
      const first = await submit(client, orgId, { workflowId: ids.quick, workflowVersion: { tag: "$LIVE" }, inputJson: { n: 1 } });
      const v2def = workflow("quick", [step("mark", transform, { config: { output: { version: 2 } } })]);
      const v2 = await client.expect(
        200,
        client.post(`/organizations/${orgId}/workflows/${ids.quick}/versions`, { definition: JSON.stringify(v2def) }),
      );
      await client.expect(200, client.put(`/organizations/${orgId}/workflows/${ids.quick}/tags/$LIVE`, { versionId: v2.versionId }));
      const second = await submit(client, orgId, { workflowId: ids.quick, workflowVersion: { tag: "$LIVE" }, inputJson: { n: 1 } });
      expect((await waitForJob(client, orgId, first)).job).toMatchObject({ workflowVersion: { versionNumber: 1 }, output: { done: true } });
      expect((await waitForJob(client, orgId, second)).job).toMatchObject({ workflowVersion: { versionNumber: 2 }, output: { version: 2 } });

      const tokens = await client.expect(200, client.get(`/organizations/${orgId}/api-auth-tokens`));
      const list = tokens.tokens ?? tokens.apiAuthTokens;
      const mine = list.find((t: any) => t.name === "tests");
      await admin.expect(200, admin.delete(`/organizations/${orgId}/api-auth-tokens/${mine.apiAuthTokenId}`));
      const refused = await admin.as(token).get(`/organizations/${orgId}/jobs`);
      expect(refused.status).toBe(401);
    },
    TIMEOUT,
  );
});
