/**
 * The audit log (src/audit/) through the API and inside its Durable Object: every action writes an
 * entry with the right actor and target; a job's cancel is recorded by the job's own commit; no stored
 * row holds a secret's value or a token; pages, filters, the write-ahead outcome, retention, bounds.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { AuditLog } from "../../../src/audit/audit-log";
import type { JobObject } from "../../../src/job/job-object";
import { jobStubFor } from "../../../src/job/submit";
import { auditLogStub, deliverOwedAudit, owedAudit } from "../../../src/audit/record";
import type { EntryRow } from "../../../src/audit/store";
import { AUDIT_MAX_DETAIL_BYTES, AUDIT_MAX_PAGE_SIZE, AUDIT_PENDING_GRACE_MS, AUDIT_PRUNE_BATCH, AUDIT_RETENTION_MS } from "../../../src/limits";
import { deployWorkflow, newTenant, unique, type TestClient } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";

const SECRET_VALUE = "sk_live_audit-never-store-me-7f3c";

async function log(client: TestClient, orgId: string, query = ""): Promise<any> {
  return client.expect(200, client.get(`/organizations/${orgId}/audit-log${query}`));
}

/** Polls ListAuditLog until an entry matches (entries owed by a job arrive from its alarm). */
async function waitForEntry(client: TestClient, orgId: string, match: (e: any) => boolean, query = ""): Promise<any> {
  for (let i = 0; i < 200; i++) {
    const found = (await log(client, orgId, query)).entries.find(match);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("no such audit entry");
}

const rawRows = (orgId: string) => runInDurableObject(auditLogStub(env, orgId), (o: AuditLog) => o.rawRows());

describe("ListAuditLog", () => {
  it("records token creation, secret creation and resolution, and a job cancelled by an org token, with their actors and targets", async () => {
    const { orgId, client } = await newTenant(admin);
    const tokensBefore = await client.expect(200, client.get(`/organizations/${orgId}/api-auth-tokens`));
    const callerId: string = tokensBefore.tokens[0].apiAuthTokenId;

    // A token made by the org's token, and one granted secret:resolve, which only the admin can grant here.
    const minted = await client.expect(200, client.post(`/organizations/${orgId}/api-auth-tokens`, { name: "helper" }));
    const resolver = await admin.expect(200, admin.post(`/organizations/${orgId}/api-auth-tokens`, { name: "resolver", permissions: ["secret:resolve"] }));
    const secret = await client.expect(200, client.post(`/organizations/${orgId}/secrets`, { key: "PAYMENTS", value: SECRET_VALUE }));
    const resolved = await client.as(resolver.token).expect(200, client.as(resolver.token).post(`/organizations/${orgId}/secrets/resolve`, { key: "PAYMENTS" }));
    expect(resolved.value).toBe(SECRET_VALUE);

    const { workflowId } = await deployWorkflow(client, orgId, workflow("sleeper", [step("nap", "/canopy/delay", { config: { seconds: 3600 } })]));
    const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" } });
    await waitForJob(client, orgId, jobId, (j) => j.currentStepName === "nap");
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/cancel`));

    const cancel = await waitForEntry(client, orgId, (e) => e.action === "job.cancel");
    expect(cancel).toEqual({ at: expect.any(String), actor: { type: "token", apiAuthTokenId: callerId }, action: "job.cancel", target: { type: "job", id: jobId } });
    const { entries } = await log(client, orgId);
    const byAction = (a: string) => entries.filter((e: any) => e.action === a);
    expect(byAction("apitoken.create")).toEqual([
      expect.objectContaining({ actor: { type: "admin" }, target: { type: "apitoken", id: resolver.apiAuthTokenId }, detail: { name: "resolver", permissions: ["secret:resolve"] } }),
      expect.objectContaining({ actor: { type: "token", apiAuthTokenId: callerId }, target: { type: "apitoken", id: minted.apiAuthTokenId }, detail: { name: "helper" } }),
      // The tenant's first token, made by the admin.
      expect.objectContaining({ actor: { type: "admin" }, target: { type: "apitoken", id: callerId } }),
    ]);
    expect(byAction("secret.create")).toEqual([
      expect.objectContaining({ actor: { type: "token", apiAuthTokenId: callerId }, target: { type: "secret", id: secret.secretId }, detail: { key: "PAYMENTS", replacedValue: false } }),
    ]);
    expect(byAction("secret.resolve")).toEqual([
      expect.objectContaining({ actor: { type: "token", apiAuthTokenId: resolver.apiAuthTokenId }, target: { type: "secret", id: secret.secretId }, detail: { key: "PAYMENTS" } }),
    ]);
    // Newest first.
    const times = entries.map((e: any) => Date.parse(e.at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    expect(entries[0].action).toBe("job.cancel");

    // No stored row holds the secret's value or a token, whoever made it.
    const stored = JSON.stringify(await rawRows(orgId));
    expect(stored).toContain(secret.secretId);
    for (const forbidden of [SECRET_VALUE, minted.token, resolver.token, client.token!]) expect(stored).not.toContain(forbidden);
  });

  it("owes a job's cancel entry in the cancel's own commit: it is queued work of the job before any await", async () => {
    const { orgId, client } = await newTenant(admin);
    const { workflowId } = await deployWorkflow(client, orgId, workflow("sleeper3", [step("nap", "/canopy/delay", { config: { seconds: 3600 } })]));
    const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" } });
    await waitForJob(client, orgId, jobId, (j) => j.currentStepName === "nap");
    const stub = jobStubFor(env, jobId) as unknown as DurableObjectStub<JobObject>;
    const owed = await runInDurableObject(stub, async (job: JobObject) => {
      const answer = await job.cancel(orgId, { type: "token", apiAuthTokenId: "tok-1" });
      expect(answer.ok).toBe(true);
      // Read right after the commit, before the alarm could deliver anything: the entry is owed work.
      return job.store.queue.dueWork(Date.now() + 1000, 400).filter((w) => w.kind === "audit").map((w) => w.payload);
    });
    expect(owed).toEqual([
      { organizationId: orgId, entry: expect.objectContaining({ action: "job.cancel", actor: { type: "token", apiAuthTokenId: "tok-1" }, target: { type: "job", id: jobId } }) },
    ]);
    // The alarm delivers it.
    await waitForEntry(client, orgId, (e) => e.action === "job.cancel" && e.target.id === jobId);
  });

  it("records a resume by its job's commit, and an owed entry delivered twice once", async () => {
    const { orgId, client } = await newTenant(admin);
    const { workflowId } = await deployWorkflow(client, orgId, workflow("sleeper2", [step("nap", "/canopy/delay", { config: { seconds: 3600 } })]));
    const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" } });
    await waitForJob(client, orgId, jobId, (j) => j.currentStepName === "nap");
    await admin.expect(200, admin.post(`/organizations/${orgId}/jobs/${jobId}/cancel`));
    await waitForJob(client, orgId, jobId);
    await admin.expect(200, admin.post(`/organizations/${orgId}/jobs/${jobId}/resume`));
    const resumed = await waitForEntry(client, orgId, (e) => e.action === "job.resume", `?targetId=${jobId}`);
    expect(resumed).toMatchObject({ actor: { type: "admin" }, target: { type: "job", id: jobId } });
    expect((await log(client, orgId, `?targetId=${jobId}`)).entries.map((e: any) => e.action)).toEqual(["job.resume", "job.cancel"]);

    const owed = owedAudit(orgId, { actor: { type: "admin" }, action: "job.pause", target: { type: "job", id: jobId } });
    await deliverOwedAudit(env, owed.payload);
    await deliverOwedAudit(env, owed.payload);
    expect((await log(client, orgId, "?action=job.pause")).entries).toHaveLength(1);
  });

  it("records a job's pause and unpause by the job's own commits, and a rerun with the job it made", async () => {
    const { orgId, client } = await newTenant(admin);
    const { workflowId } = await deployWorkflow(client, orgId, workflow(unique("nap"), [step("nap", "/canopy/delay", { config: { seconds: 3600 } })]));
    const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" } });
    const o = `/organizations/${orgId}/jobs/${jobId}`;
    await client.expect(200, client.post(`${o}/pause`));
    await client.expect(200, client.post(`${o}/unpause`));
    // An unpause that lifts nothing is no action: no second entry.
    await client.expect(200, client.post(`${o}/unpause`));
    await client.expect(200, client.post(`${o}/cancel`));
    await waitForJob(client, orgId, jobId);
    const { jobId: rerunJobId } = await client.expect(201, client.post(`${o}/rerun`, {}));
    const rerun = await waitForEntry(client, orgId, (e) => e.action === "job.rerun", `?targetId=${jobId}`);
    expect(rerun).toMatchObject({ actor: { type: "token" }, target: { type: "job", id: jobId }, detail: { rerunJobId } });
    await waitForEntry(client, orgId, (e) => e.action === "job.unpause", `?targetId=${jobId}`);
    const actions = (await log(client, orgId, `?targetId=${jobId}`)).entries.map((e: any) => e.action);
    expect(actions.sort()).toEqual(["job.cancel", "job.pause", "job.rerun", "job.unpause"]);
  });

  it("records DeleteJob, none for a delete refused, and keeps the entry readable once the job is gone", async () => {
    const { orgId, client } = await newTenant(admin);
    const { workflowId } = await deployWorkflow(client, orgId, workflow(unique("gone"), [step("only", "/justworkflowit/noop")]));
    const sleeper = await deployWorkflow(client, orgId, workflow(unique("nap"), [step("nap", "/canopy/delay", { config: { seconds: 3600 } })]));
    const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" } });
    await waitForJob(client, orgId, jobId, (j) => j.status === "SUCCEEDED");
    const running = await submit(client, orgId, { workflowId: sleeper.workflowId, workflowVersion: { tag: "$LIVE" } });
    await waitForJob(client, orgId, running, (j) => j.currentStepName === "nap");
    // Refused: a job that has not ended (409), and an unknown one (404). Neither leaves an entry.
    expect((await client.delete(`/organizations/${orgId}/jobs/${running}`)).status).toBe(409);
    expect((await client.delete(`/organizations/${orgId}/jobs/${crypto.randomUUID()}`)).status).toBe(404);
    await client.expect(200, client.delete(`/organizations/${orgId}/jobs/${jobId}`));
    expect((await client.get(`/organizations/${orgId}/jobs/${jobId}`)).status).toBe(404);

    const deleted = (await log(client, orgId, "?action=job.delete")).entries;
    expect(deleted).toEqual([{ at: expect.any(String), actor: { type: "token", apiAuthTokenId: expect.any(String) }, action: "job.delete", target: { type: "job", id: jobId } }]);
    // The log names the job by its id alone: it reads the same once the job's records are gone.
    expect((await log(client, orgId, `?targetId=${jobId}`)).entries.map((e: any) => e.action)).toEqual(["job.delete"]);
    expect((await log(client, orgId, `?targetId=${running}`)).entries).toEqual([]);
  });

  it("records every other action of the API, with no entry for an action refused", async () => {
    const { orgId, client } = await newTenant(admin);
    const o = `/organizations/${orgId}`;
    const { workflowId, versionId } = await deployWorkflow(client, orgId, workflow("w", [step("only", "/justworkflowit/noop")]));
    const token = await client.expect(200, client.post(`${o}/api-auth-tokens`, { name: "other" }));
    await client.expect(200, client.call("PATCH", `${o}/api-auth-tokens/${token.apiAuthTokenId}`, { permissions: ["job:read"] }));
    await client.expect(200, client.delete(`${o}/api-auth-tokens/${token.apiAuthTokenId}`));
    const s = await client.expect(200, client.post(`${o}/secrets`, { key: "K", value: SECRET_VALUE }));
    await client.expect(200, client.put(`${o}/secrets/K`, { value: `${SECRET_VALUE}-2` }));
    await client.expect(200, client.call("PATCH", `${o}/secrets/${s.secretId}`, { description: "d" }));
    await client.expect(200, client.delete(`${o}/secrets/K`));
    await client.expect(200, client.call("PATCH", o, { displayName: "Renamed" }));
    await client.expect(200, client.put(`${o}/egress-policy`, { allowedHosts: ["api.example.com"] }));
    await client.expect(200, client.put(`${o}/retention`, { failedSeconds: 3600 }));
    await client.expect(200, client.put(`${o}/workflows/${workflowId}/tags/$STAGING`, { versionId }));
    const trigger = await client.expect(200, client.post(`${o}/webhook-triggers`, { name: "t", workflowId, workflowVersion: { tag: "$LIVE" }, scheme: "github" }));
    await client.expect(200, client.delete(`${o}/webhook-triggers/${trigger.triggerId}`));
    const schedule = { workflowId, workflowVersion: { tag: "$LIVE" }, cron: "0 0 * * *" };
    const { scheduleId } = await client.expect(200, client.post(`${o}/schedules`, schedule));
    await client.expect(200, client.put(`${o}/schedules/${scheduleId}`, { ...schedule, cron: "0 1 * * *" }));
    await client.expect(200, client.post(`${o}/schedules/${scheduleId}/pause`, { note: "quiet" }));
    await client.expect(200, client.delete(`${o}/schedules/${scheduleId}`));
    // Refused actions change nothing, and leave no entry.
    expect((await client.delete(`${o}/api-auth-tokens/${crypto.randomUUID()}`)).status).toBe(404);
    expect((await client.delete(`${o}/secrets/NOPE`)).status).toBe(404);
    expect((await client.put(`${o}/workflows/${workflowId}/tags/$LIVE`, { versionId: crypto.randomUUID() })).status).toBe(404);
    expect((await client.put(`${o}/retention`, { failedSeconds: 1 })).status).toBe(400);

    const { entries } = await log(client, orgId, `?pageSize=${AUDIT_MAX_PAGE_SIZE}`);
    const actions = entries.map((e: any) => e.action).reverse();
    expect(actions).toEqual([
      "apitoken.create", // the tenant's first token (newTenant)
      "workflow.tag", // deployWorkflow tags $LIVE
      "apitoken.create",
      "apitoken.update",
      "apitoken.revoke",
      "secret.create",
      "secret.update",
      "secret.update",
      "secret.delete",
      "organization.update",
      "egresspolicy.update",
      "retention.update",
      "workflow.tag",
      "trigger.create",
      "trigger.delete",
      "schedule.create",
      "schedule.update",
      "schedule.update",
      "schedule.delete",
    ]);
    const find = (a: string) => entries.filter((e: any) => e.action === a);
    expect(find("secret.update").map((e: any) => e.target)).toEqual([{ type: "secret", id: s.secretId }, { type: "secret", id: s.secretId }]);
    expect(find("secret.delete")[0]).toMatchObject({ target: { type: "secret", id: s.secretId }, detail: { key: "K" } });
    expect(find("trigger.create")[0]).toMatchObject({ target: { type: "trigger", id: trigger.triggerId } });
    expect(find("workflow.tag")[0]).toMatchObject({ target: { type: "workflow", id: workflowId }, detail: { tag: "$STAGING", versionId } });
    expect(find("schedule.update")[0]).toMatchObject({ target: { type: "schedule", id: scheduleId }, detail: { paused: true, note: "quiet" } });
    expect(find("retention.update")).toEqual([expect.objectContaining({ actor: { type: "token", apiAuthTokenId: expect.any(String) }, target: { type: "organization", id: orgId }, detail: { failedSeconds: 3600 } })]);
    const stored = JSON.stringify(await rawRows(orgId));
    for (const forbidden of [SECRET_VALUE, trigger.secret, token.token]) expect(stored).not.toContain(forbidden);

    // Deleting the organization is recorded in its log, which the API no longer shows.
    await admin.expect(200, admin.delete(o));
    expect((await admin.get(`${o}/audit-log`)).status).toBe(404);
    expect((await rawRows(orgId)).some((r: EntryRow) => r.action === "organization.delete" && r.actor_type === "admin")).toBe(true);
  });

  it("pages newest first, filters by action and targetId, and refuses bad queries and callers", async () => {
    const { orgId, client } = await newTenant(admin);
    for (let i = 0; i < 5; i++) await client.expect(200, client.post(`/organizations/${orgId}/secrets`, { key: `K${i}`, value: "v" }));
    const first = await log(client, orgId, "?pageSize=2&action=secret.create");
    expect(first.entries.map((e: any) => e.detail.key)).toEqual(["K4", "K3"]);
    const second = await log(client, orgId, `?pageSize=2&action=secret.create&pageToken=${first.nextPageToken}`);
    expect(second.entries.map((e: any) => e.detail.key)).toEqual(["K2", "K1"]);
    const third = await log(client, orgId, `?pageSize=2&action=secret.create&pageToken=${second.nextPageToken}`);
    expect(third.entries.map((e: any) => e.detail.key)).toEqual(["K0"]);
    expect(third.nextPageToken).toBeUndefined();
    const one = first.entries[0].target.id;
    expect((await log(client, orgId, `?targetId=${one}`)).entries.map((e: any) => e.detail.key)).toEqual(["K4"]);

    for (const q of [`?pageSize=${AUDIT_MAX_PAGE_SIZE + 1}`, "?pageSize=0", "?action=secret.read", "?pageToken=bm90IGEgdG9rZW4"]) {
      const res = await client.get(`/organizations/${orgId}/audit-log${q}`);
      expect(res.status, q).toBe(400);
      expect(res.body.code, q).toBe("ValidationError");
    }
    const other = await newTenant(admin);
    expect((await other.client.get(`/organizations/${orgId}/audit-log`)).status).toBe(403);
    const noRead = await client.expect(200, client.post(`/organizations/${orgId}/api-auth-tokens`, { name: unique("n"), permissions: ["job:read"] }));
    const refused = await client.as(noRead.token).get(`/organizations/${orgId}/audit-log`);
    expect(refused.status).toBe(403);
    expect(refused.body.message).toContain('"organization:read"');
  });
});

describe("the AuditLog Durable Object", () => {
  const entry = (id: string, at: number, detail?: Record<string, unknown>) => ({
    id,
    at,
    actor: { type: "admin" as const },
    action: "organization.update" as const,
    target: { type: "organization", id: "o" },
    ...(detail ? { detail } : {}),
  });

  it("shows an entry whose action never reported back as outcome unknown, and drops one whose action was refused", async () => {
    const { orgId, client } = await newTenant(admin);
    const stub = auditLogStub(env, orgId);
    const now = Date.now();
    await stub.begin(entry("in-flight", now));
    await stub.begin(entry("abandoned", now - AUDIT_PENDING_GRACE_MS - 1000));
    await stub.begin(entry("refused", now - AUDIT_PENDING_GRACE_MS - 1000));
    await stub.settle("refused", "discard");
    const shown = (await log(client, orgId, "?action=organization.update")).entries;
    expect(shown).toEqual([expect.objectContaining({ detail: { outcome: "unknown" } })]);
    await stub.settle("in-flight", "done", { detail: { displayName: "x" } });
    expect((await log(client, orgId, "?action=organization.update")).entries.map((e: any) => e.detail)).toEqual([{ displayName: "x" }, { outcome: "unknown" }]);
  });

  it(`deletes entries older than ${AUDIT_RETENTION_MS / 86_400_000} days from its alarm, ${AUDIT_PRUNE_BATCH} per pass`, async () => {
    const { orgId } = await newTenant(admin);
    const stub = auditLogStub(env, orgId);
    const old = Date.now() - AUDIT_RETENTION_MS - 60_000;
    const ids = Array.from({ length: AUDIT_PRUNE_BATCH + 5 }, (_, i) => `old-${i}`);
    for (let i = 0; i < ids.length; i += 100) await stub.record(ids.slice(i, i + 100).map((id, j) => entry(id, old + i + j)));
    await stub.record([entry("recent", Date.now())]);
    const count = () => runInDurableObject(stub, (o: AuditLog) => o.rawRows()).then((r) => r.filter((e) => e.action === "organization.update").length);
    expect(await count()).toBe(AUDIT_PRUNE_BATCH + 6);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await count()).toBe(6);
    // A full batch went: the alarm is set again at once, and the next pass takes the rest. Set for
    // now, it may fire on its own before this test runs it: either way the rest goes.
    for (let i = 0; i < 100 && (await count()) > 1; i++) await runDurableObjectAlarm(stub);
    expect(await count()).toBe(1);
    // What is left is armed for when it expires.
    const alarm = await runInDurableObject(stub, (_o: AuditLog, ctx) => ctx.storage.getAlarm());
    expect(alarm).toBeGreaterThan(Date.now() + AUDIT_RETENTION_MS - 60_000);
  });

  it("keeps an entry once per id, and no detail over the bound", async () => {
    const { orgId, client } = await newTenant(admin);
    const stub = auditLogStub(env, orgId);
    await stub.record([entry("same", Date.now(), { displayName: "a" })]);
    await stub.record([entry("same", Date.now(), { displayName: "b" })]);
    await stub.record([entry("big", Date.now(), { displayName: "x".repeat(AUDIT_MAX_DETAIL_BYTES) })]);
    const shown = (await log(client, orgId, "?action=organization.update")).entries;
    expect(shown.map((e: any) => e.detail)).toEqual(expect.arrayContaining([{ displayName: "a" }, { omitted: `The detail was over ${AUDIT_MAX_DETAIL_BYTES} bytes.` }]));
    expect(shown).toHaveLength(2);
    const tooMany = Array.from({ length: 101 }, (_, i) => entry(`many-${i}`, Date.now()));
    await runInDurableObject(stub, async (o: AuditLog) => {
      await expect(o.record(tooMany)).rejects.toThrow("At most 100 audit entries per write");
    });
  });
});
