import { env, runDurableObjectAlarm, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { deployWorkflow, newTenant, unique } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { createTrigger, postHook, standardHeaders } from "../../helpers/webhooks";
import { admin } from "../../helpers/workerd";
import { reaperFor, type OrganizationReaper } from "../../../src/organizations/reaper";
import { jobStubFor } from "../../../src/job/submit";
import { JobObject } from "../../../src/job/job-object";
import { writeFirstRows } from "../../helpers/job-index";
import type { JobSummary } from "../../../src/job/views";
import type { RpcResult } from "../../../src/errors";
import type { ScheduleObject } from "../../../src/schedule/schedule-object";
import { ORG_REAPER_DELETE_BATCH } from "../../../src/limits";

const TIMEOUT = 120_000;

/**
 * Runs the reaper's alarm until its sweep is done: one step per alarm, and its own alarm may be
 * running a step when the test asks (then there is none to run), so it asks until done.
 */
async function untilReaped(reaper: DurableObjectStub<OrganizationReaper>) {
  for (let i = 0; i < 100 && !(await reaper.status())?.done; i++) {
    if (!(await runDurableObjectAlarm(reaper))) await new Promise((r) => setTimeout(r, 20));
  }
}
const waitFor = (eventId: string) => step("wait", "/justworkflowit/waitForEventIds", { config: { eventIds: [eventId] } });

/** A job's status read from its Durable Object: the API answers 404 for a deleted organization. */
async function statusInObject(orgId: string, jobId: string): Promise<string> {
  const res = (await jobStubFor(env, jobId).describe(orgId)) as RpcResult<JobSummary>;
  if (!res.ok) throw new Error(res.error.message);
  return res.value.status;
}

describe("CreateOrganization without a key", () => {
  it("derives the key from the name, unique", async () => {
    const name = `Acme ${unique("Inc")}!`;
    const first = await admin.expect(200, admin.post("/organizations", { name, displayName: "Acme" }));
    expect(first.key).toBe(name.toLowerCase().replace(/[^a-z0-9_-]+/g, "-").replace(/^-+|-+$/g, ""));
    const second = await admin.expect(200, admin.post("/organizations", { name, displayName: "Acme" }));
    expect(second.key).toBe(`${first.key}-2`);
    const odd = await admin.expect(200, admin.post("/organizations", { name: "¡¡¡", displayName: "x" }));
    expect(odd.key).toMatch(/^org(-\d+|-[0-9a-f]{6})?$/);
    expect((await admin.post("/organizations", { name: "x", key: "Not A Key", displayName: "x" })).status).toBe(400);
  });
});

describe("UpdateOrganization", () => {
  it("changes the display name only, and refuses a marketplace allowlist", async () => {
    const { orgId, client } = await newTenant(admin);
    const before = await client.expect(200, client.get(`/organizations/${orgId}`));
    const after = await client.expect(200, client.call("PATCH", `/organizations/${orgId}`, { displayName: "Renamed", marketplaceAllowlistRequired: false }));
    expect(after).toEqual({ ...before, displayName: "Renamed" });
    const refused = await client.call("PATCH", `/organizations/${orgId}`, { displayName: "x", marketplaceAllowlistRequired: true });
    expect(refused.status).toBe(400);
    expect(await client.expect(200, client.get(`/organizations/${orgId}`))).toEqual(after);
    expect((await client.call("PATCH", `/organizations/${orgId}`, { displayName: "" })).status).toBe(400);
  });
});

describe("DeleteOrganization", () => {
  it("keeps nothing readable, revokes tokens and triggers, deletes secrets, and cancels running jobs in bounded pages", async () => {
    const { orgId, client, token } = await newTenant(admin);
    const { workflowId } = await deployWorkflow(client, orgId, workflow("waiting", [waitFor("go")]));
    const jobIds: string[] = [];
    for (let i = 0; i < 5; i++) jobIds.push(await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" } }));
    for (const id of jobIds) await waitForJob(client, orgId, id, (j) => j.status === "RUNNING");
    const done = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" } });
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${done}/events`, { eventId: "go" }));
    await waitForJob(client, orgId, done);
    const trigger = await createTrigger(client, orgId, { name: "t", workflowId, workflowVersion: { tag: "$LIVE" }, scheme: "standard-webhooks" });
    await client.expect(200, client.post(`/organizations/${orgId}/secrets`, { key: "K", value: "v" }));
    const org = await client.expect(200, client.get(`/organizations/${orgId}`));

    // Two jobs per alarm, so the sweep must page and resume from its cursor.
    const reaper = reaperFor(env, orgId);
    await runInDurableObject(reaper, (o: OrganizationReaper) => void (o.batchSize = 2));
    // Deleting is granted by name only: the tenant's default token may not.
    const deleter = await admin.expect(200, admin.post(`/organizations/${orgId}/api-auth-tokens`, { name: "deleter", permissions: ["organization:delete"] }));
    expect(await client.expect(200, client.as(deleter.token).delete(`/organizations/${orgId}`))).toEqual({ success: true });

    // Unreadable at once: the admin gets 404 on every route, the token 401, the trigger 404.
    for (const path of [`/organizations/${orgId}`, `/organizations/${orgId}/jobs`, `/organizations/${orgId}/jobs/${jobIds[0]}`, `/organizations/${orgId}/workflows`, `/organizations/${orgId}/secrets`]) {
      const res = await admin.get(path);
      expect(res.status, path).toBe(404);
      expect(res.body.code, path).toBe("NotFoundError");
    }
    expect((await admin.post(`/organizations/${orgId}/jobs`, { workflowId, workflowVersion: { tag: "$LIVE" } })).status).toBe(404);
    expect((await admin.as(token).get(`/organizations/${orgId}`)).status).toBe(401);
    expect((await admin.as(deleter.token).delete(`/organizations/${orgId}`)).status).toBe(401);
    expect((await admin.expect(200, admin.get("/organizations"))).organizations.some((o: any) => o.organizationId === orgId)).toBe(false);
    const body = JSON.stringify({ a: 1 });
    expect((await postHook((url, init) => SELF.fetch(url, init), trigger.url, body, standardHeaders(trigger.secret, body))).status).toBe(404);
    expect(await env.DB.prepare(`SELECT count(*) AS n FROM organization_secrets WHERE organization_id = ?`).bind(orgId).first("n")).toBe(0);
    expect((await admin.delete(`/organizations/${orgId}`)).status).toBe(404);
    // Its key is free again.
    await admin.expect(200, admin.post("/organizations", { name: "again", key: org.key, displayName: "again" }));

    // The sweep runs on the reaper's alarm until every running job is cancelled; the finished one stays as it was.
    const deadline = Date.now() + 60_000;
    let status = await reaper.status();
    while (Date.now() < deadline && (status?.pass ?? 1) < 2) {
      await new Promise((r) => setTimeout(r, 100));
      status = await reaper.status();
    }
    expect(status).toMatchObject({ organizationId: orgId, pass: 2, cancelled: 5, done: false });
    // Pages of 2, 2, 1: three alarms, each resuming where the last one stopped.
    expect(status!.pages).toBe(3);
    for (const id of jobIds) expect(await statusInObject(orgId, id)).toBe("CANCELLED");
    expect(await statusInObject(orgId, done)).toBe("SUCCEEDED");

    // The second pass (due a minute after the deletion) finds nothing left, and an alarm that fires again does nothing.
    await untilReaped(reaper);
    expect(await reaper.status()).toMatchObject({ pass: 2, cancelled: 5, done: true });
    await runDurableObjectAlarm(reaper);
    expect(await reaper.status()).toMatchObject({ cancelled: 5, done: true });
  });

  it(
    "deletes every schedule of the organization, paused ones (which have no alarm) included, and its notifications a bounded statement at a time",
    async () => {
      const { orgId, client } = await newTenant(admin);
      await deployWorkflow(client, orgId, workflow("quick", [step("only", "/justworkflowit/noop")]));
      const scheduleIds: string[] = [];
      for (let i = 0; i < 3; i++) {
        const { scheduleId } = await client.expect(200, client.post(`/organizations/${orgId}/schedules`, { workflowName: "quick", workflowVersion: { tag: "$LIVE" }, cron: "0 * * * *" }));
        scheduleIds.push(scheduleId);
      }
      for (const id of scheduleIds.slice(0, 2)) await client.expect(200, client.post(`/organizations/${orgId}/schedules/${id}/pause`));
      const schedule = (id: string) => env.SCHEDULES.get(env.SCHEDULES.idFromName(id)) as DurableObjectStub<ScheduleObject>;
      const stateOf = (id: string) => runInDurableObject(schedule(id), async (o: ScheduleObject, ctx) => ({ control: o.store.control() !== null, alarm: await ctx.storage.getAlarm() }));
      // A paused schedule has no alarm: nothing of its own would ever notice the deletion.
      expect(await stateOf(scheduleIds[0]!)).toEqual({ control: true, alarm: null });
      // Two statements' worth of notifications and one more.
      const notifications = 2 * ORG_REAPER_DELETE_BATCH + 1;
      await env.DB.prepare(
        `INSERT INTO notifications (notification_id, organization_id, type, severity, title, message, created_at)
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
         SELECT ?1 || '-' || i, ?1, 'JOB_FAILED', 'ERROR', 't', 'm', '2026-01-01T00:00:00.000Z' FROM n`,
      )
        .bind(orgId, notifications)
        .run();

      const reaper = reaperFor(env, orgId);
      await admin.expect(200, admin.delete(`/organizations/${orgId}`));
      await untilReaped(reaper);
      const status = await reaper.status();
      expect(status).toMatchObject({ pass: 2, done: true, failures: 0 });
      expect(status!.kinds.schedules!.count).toBe(3);
      // 1,000 + 1,000 + 1 in the first pass, nothing left in the second: never more than one bound per statement.
      expect(status!.kinds.notifications).toEqual({ count: notifications, pages: 4, done: true });

      for (const id of scheduleIds) expect(await stateOf(id)).toEqual({ control: false, alarm: null });
      expect(await env.DB.prepare(`SELECT count(*) AS n FROM schedules WHERE organization_id = ?`).bind(orgId).first("n")).toBe(0);
      expect(await env.DB.prepare(`SELECT count(*) AS n FROM notifications WHERE organization_id = ?`).bind(orgId).first("n")).toBe(0);
    },
    TIMEOUT,
  );

  it("needs organization:delete, and answers 404 for an unknown organization", async () => {
    const { orgId, client } = await newTenant(admin);
    const reader = await admin.expect(200, admin.post(`/organizations/${orgId}/api-auth-tokens`, { name: "r", permissions: ["organization:read"] }));
    const res = await client.as(reader.token).delete(`/organizations/${orgId}`);
    expect(res.status).toBe(403);
    expect(res.body.message).toContain('"organization:delete"');
    expect((await client.expect(200, client.get(`/organizations/${orgId}`))).organizationId).toBe(orgId);
    expect((await admin.delete(`/organizations/${crypto.randomUUID()}`)).status).toBe(404);
  });

  it("a deletion whose D1 write never happened is forgotten by the reaper's alarm", async () => {
    const { orgId, client } = await newTenant(admin);
    const reaper = reaperFor(env, orgId);
    // The intent is stored and the alarm armed, as before D1's write; then the object stops.
    await runInDurableObject(reaper, async (_o: OrganizationReaper, ctx) => {
      ctx.storage.sql.exec(`INSERT INTO sweep (id, organization_id) VALUES (1, ?)`, orgId);
      await ctx.storage.setAlarm(Date.now() + 60_000);
    });
    await runDurableObjectAlarm(reaper);
    expect(await reaper.status()).toBeNull();
    expect((await client.expect(200, client.get(`/organizations/${orgId}`))).organizationId).toBe(orgId);
  });

  it(
    "a cancel that fails keeps the sweep's place and is tried again, with backoff, until the sweep is done",
    async () => {
      const { orgId, client } = await newTenant(admin);
      const { workflowId } = await deployWorkflow(client, orgId, workflow("waiting", [waitFor("go")]));
      const jobIds: string[] = [];
      for (let i = 0; i < 3; i++) jobIds.push(await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" } }));
      for (const id of jobIds) await waitForJob(client, orgId, id, (j) => j.status === "RUNNING");
      const failing = jobIds[1]!;

      // One job's object fails every cancel (as an unreachable object or an overloaded one would)
      // until the fault is lifted; the others answer as usual.
      const cancel = JobObject.prototype.cancel;
      let faulty = true;
      JobObject.prototype.cancel = async function (this: JobObject, organizationId: string) {
        const me = await this.describe(organizationId);
        if (faulty && me.ok && me.value.jobId === failing) throw new Error("injected: the job's object did not answer");
        return cancel.call(this, organizationId);
      };
      const reaper = reaperFor(env, orgId);
      try {
        await admin.expect(200, admin.delete(`/organizations/${orgId}`));
        let status = await reaper.status();
        const deadline = Date.now() + 60_000;
        while (Date.now() < deadline && !(status && status.failures >= 1)) {
          await new Promise((r) => setTimeout(r, 100));
          status = await reaper.status();
        }
        // The failed page did not throw out of the alarm: it counted the failure, stayed in its
        // first pass, and armed the alarm again for later.
        expect(status).toMatchObject({ pass: 1, done: false, failures: expect.any(Number) });
        expect(status!.failures).toBeGreaterThanOrEqual(1);
        const alarm = await runInDurableObject(reaper, (_o: OrganizationReaper, ctx) => ctx.storage.getAlarm());
        expect(alarm).not.toBeNull();
        expect(await statusInObject(orgId, failing)).toBe("RUNNING");
      } finally {
        faulty = false;
        JobObject.prototype.cancel = cancel;
      }

      // The retry cancels the job that failed within the first pass: the cursor stayed before it.
      await runDurableObjectAlarm(reaper);
      let status = await reaper.status();
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline && status!.pass < 2) {
        await new Promise((r) => setTimeout(r, 100));
        status = await reaper.status();
      }
      expect(status).toMatchObject({ pass: 2, cancelled: 3, failures: 0, done: false });
      for (const id of jobIds) expect(await statusInObject(orgId, id)).toBe("CANCELLED");
      await untilReaped(reaper);
      expect(await reaper.status()).toMatchObject({ pass: 2, cancelled: 3, done: true, failures: 0 });
    },
    TIMEOUT,
  );

  it(
    "a batch job accepted but not started when the organization is deleted is created CANCELLED by a later start",
    async () => {
      const { orgId, client } = await newTenant(admin);
      const held = workflow("held", [waitFor("go")]);
      const { workflowId, versionId, versionNumber } = await deployWorkflow(client, orgId, held);
      // What SubmitJobs (batch) leaves before its BatchStarter's alarm: the index row alone.
      const jobId = crypto.randomUUID();
      const now = new Date().toISOString();
      await writeFirstRows(orgId, [
        {
          jobId,
          status: "PENDING",
          workflowId,
          workflowName: "held",
          workflowVersion: { versionId, versionNumber },
          submittedByUser: "tests",
          createdAt: now,
          updatedAt: now,
          rootJobId: jobId,
          billableTransactionUnits: 0,
          runNumber: 1,
        },
      ]);
      const reaper = reaperFor(env, orgId);
      await admin.expect(200, admin.delete(`/organizations/${orgId}`));
      let status = await reaper.status();
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline && (status?.pass ?? 1) < 2) {
        await new Promise((r) => setTimeout(r, 100));
        status = await reaper.status();
      }
      expect(status).toMatchObject({ pass: 2, cancelled: 1, failures: 0 });

      // The start of a BatchStarter that read the organization live just before the deletion.
      const identity = {
        jobId,
        organizationId: orgId,
        workflowId,
        workflowName: "held",
        versionId,
        versionNumber,
        submittedByUser: "tests",
        runNumber: 1,
        rootJobId: jobId,
        depth: 0,
        createdAt: Date.now(),
      };
      const started = await jobStubFor(env, jobId).start({ identity, definition: JSON.stringify(held), executionData: { workflowInput: {} } });
      expect(started).toMatchObject({ ok: true, value: { created: true } });
      expect(await statusInObject(orgId, jobId)).toBe("CANCELLED");
    },
    TIMEOUT,
  );
});

describe("DeleteOrganization's purge", () => {
  it(
    "deletes every job tree of the organization, every run and its whole job index, once the sweep has cancelled what ran",
    async () => {
      const { orgId, client } = await newTenant(admin);
      const leaf = workflow("leaf", [waitFor("go")]);
      const parent = workflow("parent", [
        step("fan", "/justworkflowit/runChildJob", { config: { children: [{ id: "x", workflowName: "leaf", workflowVersion: { tag: "$LIVE" } }, { id: "y", workflowName: "leaf", workflowVersion: { tag: "$LIVE" } }] } }),
      ]);
      const looper = workflow("looper", [
        step("work", "/canopy/transform", { config: { output: { i: { "+": [{ var: "workflowInput.i" }, 1] } } } }, { if: [{ "<": [{ var: "work.output.i" }, 3] }, "again", null] }),
        step("again", "/canopy/continueAsNew", { config: { nextStep: "work" } }),
      ]);
      const ids: Record<string, string> = {};
      for (const def of [leaf, parent, looper]) ids[def.workflowName] = (await deployWorkflow(client, orgId, def)).workflowId;
      const tree = await submit(client, orgId, { workflowId: ids.parent, workflowVersion: { tag: "$LIVE" }, idempotencyKey: "tree" });
      const loop = await submit(client, orgId, { workflowId: ids.looper, workflowVersion: { tag: "$LIVE" }, inputJson: { i: 0 } });
      const running = await submit(client, orgId, { workflowId: ids.leaf, workflowVersion: { tag: "$LIVE" } });
      await waitForJob(client, orgId, loop);
      await waitForJob(client, orgId, running, (j) => j.status === "RUNNING");
      let children: string[] = [];
      for (const deadline = Date.now() + 30_000; children.length < 2 && Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
        children = (await client.expect(200, client.get(`/organizations/${orgId}/jobs?parentJobId=${tree}`))).jobs.map((j: any) => j.jobId);
      }
      // One child ends; the other is still running when the organization goes.
      await waitForJob(client, orgId, children[0]!, (j) => j.status === "RUNNING");
      await client.expect(200, client.post(`/organizations/${orgId}/jobs/${children[0]}/events`, { eventId: "go" }));
      await waitForJob(client, orgId, children[0]!);

      const reaper = reaperFor(env, orgId);
      await admin.expect(200, admin.delete(`/organizations/${orgId}`));
      const objects = [tree, ...children, running, loop, `${loop}#2`, `${loop}#3`];
      const stubOf = (name: string) => env.JOBS.get(env.JOBS.idFromName(name));
      const deadline = Date.now() + 90_000;
      let status = await reaper.status();
      while (status?.purge?.phase !== "done") {
        if (Date.now() > deadline) throw new Error(`the purge did not finish: ${JSON.stringify(status)}`);
        // The reaper's alarms (and the roots' deletions) are driven rather than waited for.
        await runDurableObjectAlarm(reaper);
        for (const root of [tree, running, loop]) await runDurableObjectAlarm(stubOf(root));
        await new Promise((r) => setTimeout(r, 50));
        status = await reaper.status();
      }
      // `roots` counts the roots told to delete their trees: at least the three, and a root told again
      // (its row read again after the drain found rows left, or by the test's driven alarm beside
      // the object's own) counts again. What was deleted is checked object by object below.
      expect(status).toMatchObject({ done: true, failures: 0, purge: { phase: "done" } });
      expect(status!.purge!.roots).toBeGreaterThanOrEqual(3);
      for (const name of objects) {
        const left = await runInDurableObject(stubOf(name), async (_o: JobObject, state) => ({
          tables: state.storage.sql.exec(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'`).toArray(),
          alarm: await state.storage.getAlarm(),
        }));
        expect(left, name).toEqual({ tables: [], alarm: null });
      }
      // The index shard went with its rollups and keys (a later call finds it empty).
      const shard = env.JOB_INDEX.get(env.JOB_INDEX.idFromName(`${orgId}:0`));
      const rows = await runInDurableObject(shard, (_o: unknown, state) =>
        ["job", "hidden_tree", "idempotency_key", "rollup", "flush"].map((t) => state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ${t}`).one().n),
      );
      expect(rows).toEqual([0, 0, 0, 0, 0]);
    },
    TIMEOUT,
  );
});
