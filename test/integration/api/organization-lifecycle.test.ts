import { env, runDurableObjectAlarm, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { deployWorkflow, newTenant, unique } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { createTrigger, postHook, standardHeaders } from "../../helpers/webhooks";
import { admin } from "../../helpers/workerd";
import { reaperFor, type OrganizationReaper } from "../../../src/organizations/reaper";
import { jobStubFor } from "../../../src/job/submit";
import type { JobSummary } from "../../../src/job/views";
import type { RpcResult } from "../../../src/errors";

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
    expect(await client.expect(200, client.delete(`/organizations/${orgId}`))).toEqual({ success: true });

    // Unreadable at once: the admin gets 404 on every route, the token 401, the trigger 404.
    for (const path of [`/organizations/${orgId}`, `/organizations/${orgId}/jobs`, `/organizations/${orgId}/jobs/${jobIds[0]}`, `/organizations/${orgId}/workflows`, `/organizations/${orgId}/secrets`]) {
      const res = await admin.get(path);
      expect(res.status, path).toBe(404);
      expect(res.body.code, path).toBe("NotFoundError");
    }
    expect((await admin.post(`/organizations/${orgId}/jobs`, { workflowId, workflowVersion: { tag: "$LIVE" } })).status).toBe(404);
    expect((await admin.as(token).get(`/organizations/${orgId}`)).status).toBe(401);
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
    for (let i = 0; i < 3 && !(await reaper.status())?.done; i++) await runDurableObjectAlarm(reaper);
    expect(await reaper.status()).toMatchObject({ pass: 2, cancelled: 5, done: true });
    await runDurableObjectAlarm(reaper);
    expect(await reaper.status()).toMatchObject({ cancelled: 5, done: true });
  });

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
});
