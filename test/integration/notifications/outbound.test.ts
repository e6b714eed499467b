// An organization's outbound notification URL: every notification is POSTed there, signed with
// Standard Webhooks, retried by the organization's NotificationOutbox until acknowledged, always
// with the same webhook-id, and only where the egress policy allows.
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { newTenant } from "../../helpers/client";
import type { TestClient } from "../../helpers/client";
import { standardSignature } from "../../helpers/webhooks";
import { admin } from "../../helpers/workerd";
import { fakeOrigin, scenario, seen, type SeenRequest } from "../integrations/fake";
import { raiseNotification } from "../../../src/notifications/raise";
import type { NotificationOutbox } from "../../../src/notifications/outbox";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function outbox(orgId: string): DurableObjectStub<NotificationOutbox> {
  return env.NOTIFICATION_OUTBOX.get(env.NOTIFICATION_OUTBOX.idFromName(orgId));
}

async function waitForRequests(id: string, n: number, timeoutMs = 60_000): Promise<SeenRequest[]> {
  const deadline = Date.now() + timeoutMs;
  let got: SeenRequest[] = [];
  while (Date.now() < deadline) {
    got = await seen(id);
    if (got.length >= n) return got;
    await sleep(100);
  }
  throw new Error(`the receiver saw ${got.length} requests, expected ${n}`);
}

async function subscribe(client: TestClient, orgId: string, url: string): Promise<string> {
  const res = await client.expect(200, client.put(`/organizations/${orgId}/notification-settings`, { url }));
  expect(res.url).toBe(url);
  expect(res.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
  return res.secret;
}

describe("outbound notifications", () => {
  it("POSTs a signed notification, retries failures with backoff, and keeps its webhook-id", async () => {
    const { client, orgId } = await newTenant(admin);
    const id = await scenario("outbound", [{ status: 500, body: "down" }, { status: 503, body: "busy" }, { status: 204 }]);
    const url = `${fakeOrigin()}/s/${id}/hook`;
    const secret = await subscribe(client, orgId, url);

    const { notification } = await raiseNotification(env, { organizationId: orgId, type: "JOB_FAILED", title: "A job failed", message: "details", resourceId: "job-1", dedupeKey: "outbound-1" });
    const requests = await waitForRequests(id, 3);
    expect(requests).toHaveLength(3);
    for (const r of requests) {
      expect(r.method).toBe("POST");
      expect(r.headers["content-type"]).toBe("application/json");
      expect(r.headers["webhook-id"]).toBe(notification.notificationId);
      // Verified with the reference algorithm (node:crypto), not the engine's own code.
      expect(r.headers["webhook-signature"]).toBe(standardSignature(secret, r.headers["webhook-id"]!, Number(r.headers["webhook-timestamp"]), r.body));
      expect(Math.abs(Number(r.headers["webhook-timestamp"]) - Date.now() / 1000)).toBeLessThan(300);
      expect(JSON.parse(r.body)).toEqual({
        type: "notification.created",
        timestamp: notification.createdAt,
        data: { organizationId: orgId, ...notification },
      });
    }
    expect(requests.map((r) => r.body)).toEqual([requests[0]!.body, requests[0]!.body, requests[0]!.body]);
    // Backoff: the second retry waits longer than the first.
    expect(requests[2]!.at - requests[1]!.at).toBeGreaterThan(requests[1]!.at - requests[0]!.at);
    await sleep(200);
    const [delivery] = await outbox(orgId).deliveries();
    expect(delivery).toMatchObject({ notificationId: notification.notificationId, state: "delivered", attempts: 3 });

    // Raised again (a retry of whatever raised it), or the alarm firing again: nothing more is sent.
    await raiseNotification(env, { organizationId: orgId, type: "JOB_FAILED", title: "A job failed", message: "details", resourceId: "job-1", dedupeKey: "outbound-1" });
    await runDurableObjectAlarm(outbox(orgId));
    await sleep(500);
    expect(await seen(id)).toHaveLength(3);
  });

  it("keeps retrying when the settings cannot be read, and delivers once they can", async () => {
    const { client, orgId } = await newTenant(admin);
    const id = await scenario("outbound-unreadable", [{ status: 204 }]);
    const secret = await subscribe(client, orgId, `${fakeOrigin()}/s/${id}/hook`);
    // A sealed secret that no longer opens (a real failure of getOutboundTarget, like D1 refusing).
    const { sealed_secret: sealed } = (await env.DB.prepare(`SELECT sealed_secret FROM notification_settings WHERE organization_id = ?`).bind(orgId).first<{ sealed_secret: string }>())!;
    await env.DB.prepare(`UPDATE notification_settings SET sealed_secret = 'not-a-sealed-secret' WHERE organization_id = ?`).bind(orgId).run();

    const { notification } = await raiseNotification(env, { organizationId: orgId, type: "JOB_FAILED", title: "t", message: "m", dedupeKey: "unreadable" });
    const deadline = Date.now() + 30_000;
    let delivery = (await outbox(orgId).deliveries())[0];
    while (Date.now() < deadline && (delivery?.attempts ?? 0) < 1) {
      await sleep(100);
      delivery = (await outbox(orgId).deliveries())[0];
    }
    // The failed pass counted an attempt, pushed the delivery back, and re-armed the alarm for it.
    expect(delivery).toMatchObject({ notificationId: notification.notificationId, state: "pending", attempts: expect.any(Number) });
    expect(delivery!.attempts).toBeGreaterThanOrEqual(1);
    expect(delivery!.lastError).toContain("could not be read");
    const alarm = await runInDurableObject(outbox(orgId), (_, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
    expect(await seen(id)).toEqual([]);

    // Readable again: the outbox's own alarm delivers it, with no new notification needed.
    await env.DB.prepare(`UPDATE notification_settings SET sealed_secret = ? WHERE organization_id = ?`).bind(sealed, orgId).run();
    const [request] = await waitForRequests(id, 1);
    expect(request!.headers["webhook-id"]).toBe(notification.notificationId);
    expect(request!.headers["webhook-signature"]).toBe(standardSignature(secret, request!.headers["webhook-id"]!, Number(request!.headers["webhook-timestamp"]), request!.body));
  });

  it("sends nothing where the organization's egress policy refuses, and retries later", async () => {
    const { client, orgId } = await newTenant(admin);
    const id = await scenario("outbound-denied", [{ status: 200 }]);
    await subscribe(client, orgId, `${fakeOrigin()}/s/${id}/hook`);
    await client.expect(200, client.put(`/organizations/${orgId}/egress-policy`, { allowedHosts: ["hooks.example.com"] }));
    await raiseNotification(env, { organizationId: orgId, type: "JOB_FAILED", title: "t", message: "m", dedupeKey: "denied" });
    const deadline = Date.now() + 30_000;
    let delivery: Awaited<ReturnType<NotificationOutbox["deliveries"]>>[number] | undefined;
    while (Date.now() < deadline) {
      [delivery] = await outbox(orgId).deliveries();
      if (delivery && delivery.attempts >= 1) break;
      await sleep(100);
    }
    expect(delivery).toMatchObject({ state: "pending" });
    expect(delivery!.attempts).toBeGreaterThanOrEqual(1);
    expect(delivery!.lastError).toMatch(/refused/);
    expect(await seen(id)).toEqual([]);

    // Allowed again: the queued delivery goes out on its next attempt.
    await client.expect(200, client.put(`/organizations/${orgId}/egress-policy`, { allowedHosts: null }));
    expect(await waitForRequests(id, 1)).toHaveLength(1);
  });

  it("keeps no outbox for an organization without a URL, and drops queued deliveries when the URL is removed", async () => {
    const { client, orgId } = await newTenant(admin);
    await raiseNotification(env, { organizationId: orgId, type: "JOB_FAILED", title: "t", message: "m", dedupeKey: "none" });
    expect(await outbox(orgId).deliveries()).toEqual([]);

    const id = await scenario("outbound-removed", [{ status: 500, body: "down" }]);
    await subscribe(client, orgId, `${fakeOrigin()}/s/${id}/hook`);
    await raiseNotification(env, { organizationId: orgId, type: "JOB_FAILED", title: "t", message: "m", dedupeKey: "removed" });
    await waitForRequests(id, 1);
    await client.expect(200, client.delete(`/organizations/${orgId}/notification-settings`));
    await runDurableObjectAlarm(outbox(orgId));
    const deadline = Date.now() + 30_000;
    let state = "";
    while (Date.now() < deadline) {
      state = (await outbox(orgId).deliveries())[0]?.state ?? "";
      if (state === "dropped") break;
      await sleep(100);
    }
    expect(state).toBe("dropped");
  });

  it("keeps nothing of a deleted organization's notifications, and sends its queued ones nowhere", async () => {
    const { client, orgId } = await newTenant(admin);
    const id = await scenario("outbound-deleted", [{ status: 500, body: "down" }]);
    await subscribe(client, orgId, `${fakeOrigin()}/s/${id}/hook`);
    await raiseNotification(env, { organizationId: orgId, type: "JOB_FAILED", title: "t", message: "m", dedupeKey: "deleted" });
    await waitForRequests(id, 1);
    await admin.expect(200, admin.delete(`/organizations/${orgId}`));
    // The settings go with the deletion; the notifications with the reaper's sweep, a bounded
    // statement at a time (unreadable meanwhile: the organization answers 404).
    expect(await env.DB.prepare(`SELECT COUNT(*) AS n FROM notification_settings WHERE organization_id = ?`).bind(orgId).first("n")).toBe(0);
    expect((await admin.get(`/organizations/${orgId}/notifications`)).status).toBe(404);
    await expect.poll(() => env.DB.prepare(`SELECT COUNT(*) AS n FROM notifications WHERE organization_id = ?`).bind(orgId).first("n"), { timeout: 30_000 }).toBe(0);
    const deadline = Date.now() + 30_000;
    let state = "";
    while (Date.now() < deadline && state !== "dropped") {
      state = (await outbox(orgId).deliveries())[0]?.state ?? "";
      await sleep(100);
    }
    expect(state).toBe("dropped");
  });

  it("manages the URL: secret shown once, bad URLs refused, other tenants kept out", async () => {
    const { client, orgId } = await newTenant(admin);
    const other = await newTenant(admin);
    const path = `/organizations/${orgId}/notification-settings`;
    expect((await client.get(path)).body.code).toBe("NotFoundError");
    const url = "https://hooks.example.com/canopy";
    const first = await subscribe(client, orgId, url);
    const got = await client.expect(200, client.get(path));
    expect(got).toEqual({ url, updatedAt: expect.any(String) });
    expect(JSON.stringify(got)).not.toContain(first);
    // A PUT issues a new secret.
    expect(await subscribe(client, orgId, url)).not.toBe(first);

    for (const bad of [{ url: "not a url" }, { url: "ftp://example.com/x" }, { url: url, extra: 1 }, {}]) {
      const res = await client.put(path, bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(res.body.code).toBe("ValidationError");
    }
    await client.expect(200, client.put(`/organizations/${orgId}/egress-policy`, { allowedHosts: ["api.example.com"] }));
    expect((await client.put(path, { url })).body.code).toBe("ValidationError");
    expect((await client.get(path)).body.url).toBe(url);

    expect((await other.client.get(path)).status).toBe(403);
    expect((await other.client.put(path, { url })).status).toBe(403);
    expect((await other.client.delete(path)).status).toBe(403);
    await client.expect(200, client.delete(path));
    expect((await client.delete(path)).body.code).toBe("NotFoundError");
  });
});
