// Notifications through the client's operations: raised once when a top-level job fails or a
// webhook trigger refuses a burst of signatures, listed with unreadCount, marked read.
import { env, runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { newTenant, tenantWith } from "../../helpers/client";
import type { TestClient } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { standardHeaders } from "../../helpers/webhooks";
import { admin } from "../../helpers/workerd";
import { fakeOrigin, scenario } from "../integrations/fake";
import { triggerSetup } from "../webhooks/fixture";
import { raiseNotification } from "../../../src/notifications/raise";
import { WEBHOOK_REFUSAL_THRESHOLD } from "../../../src/limits";
import { countRefusal } from "../../../src/webhooks/rate-limiter";

/** Makes D1 refuse to store `orgId`'s notifications (a real failure of the insert) until undone. */
async function failNotificationInserts(orgId: string): Promise<() => Promise<void>> {
  const name = `fail_notifications_${orgId.replace(/[^A-Za-z0-9]/g, "_")}`;
  await env.DB.prepare(
    `CREATE TRIGGER ${name} BEFORE INSERT ON notifications WHEN NEW.organization_id = '${orgId.replace(/'/g, "''")}'
     BEGIN SELECT RAISE(ABORT, 'injected failure'); END`,
  ).run();
  return async () => {
    await env.DB.prepare(`DROP TRIGGER ${name}`).run();
  };
}

const noop = "/justworkflowit/noop";
const http = "/canopy/http";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function list(client: TestClient, orgId: string) {
  return client.expect(200, client.get(`/organizations/${orgId}/notifications`));
}

/** Polls ListNotifications until `until` holds. */
async function waitForList(client: TestClient, orgId: string, until: (body: any) => boolean) {
  const deadline = Date.now() + 30_000;
  let last: any;
  while (Date.now() < deadline) {
    last = await list(client, orgId);
    if (until(last)) return last;
    await sleep(100);
  }
  throw new Error(`notifications never matched; last: ${JSON.stringify(last)}`);
}

async function failingTenant() {
  const down = await scenario("notify-500", [{ status: 500, body: "down" }]);
  const failing = workflow("failing", [step("prep", noop, {}, "call"), step("call", http, { config: { url: `${fakeOrigin()}/s/${down}` } })]);
  const parent = workflow("parent", [step("spawn", "/justworkflowit/runChildJob", { config: { children: [{ workflowName: "failing", workflowVersion: { tag: "$LIVE" } }] } })]);
  return tenantWith(admin, failing, parent);
}

/** Stores `n` unread notifications of `orgId` created at `createdAt` straight into D1 (one statement). */
async function storeMany(orgId: string, n: number, createdAt: string, prefix: string): Promise<void> {
  await env.DB.prepare(
    `WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?3)
     INSERT INTO notifications (notification_id, organization_id, type, severity, title, message, read, created_at)
     SELECT ?4 || i, ?1, 'JOB_FAILED', 'ERROR', 'old', 'old', 0, ?2 FROM seq`,
  )
    .bind(orgId, createdAt, n, `${prefix}-${crypto.randomUUID()}-`)
    .run();
}

async function countStored(orgId: string): Promise<number> {
  return (await env.DB.prepare(`SELECT COUNT(*) AS n FROM notifications WHERE organization_id = ?`).bind(orgId).first<{ n: number }>())!.n;
}

describe("notifications", () => {
  it("raises one ERROR notification when a top-level job fails, none for its failed child", async () => {
    const { client, orgId } = await failingTenant();
    const jobId = await submit(client, orgId, { workflowName: "failing", workflowVersion: { tag: "$LIVE" }, inputJson: "{}" });
    expect((await waitForJob(client, orgId, jobId)).job.status).toBe("FAILED");
    const body = await waitForList(client, orgId, (b) => b.notifications.length > 0);
    expect(body.unreadCount).toBe(1);
    expect(body.notifications).toHaveLength(1);
    const n = body.notifications[0];
    expect(n).toMatchObject({ severity: "ERROR", read: false, type: "JOB_FAILED", resourceId: jobId });
    expect(n.notificationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(n.title).toContain("failing");
    expect(n.message).toContain(jobId);
    expect(n.message).toContain('step "call"');
    expect(Date.parse(n.createdAt)).not.toBeNaN();

    // The job's alarm firing again raises nothing more.
    const stub = env.JOBS.get(env.JOBS.idFromName(jobId));
    await runDurableObjectAlarm(stub);
    await runDurableObjectAlarm(stub);
    expect((await list(client, orgId)).notifications).toHaveLength(1);

    // A parent whose child fails: one notification, for the parent.
    const parentId = await submit(client, orgId, { workflowName: "parent", workflowVersion: { tag: "$LIVE" }, inputJson: "{}" });
    expect((await waitForJob(client, orgId, parentId)).job.status).toBe("FAILED");
    const after = await waitForList(client, orgId, (b) => b.notifications.length > 1);
    await sleep(1500);
    const settled = await list(client, orgId);
    expect(settled.notifications.map((x: any) => x.resourceId).sort()).toEqual([jobId, parentId].sort());
    expect(after.unreadCount).toBe(2);
  });

  it("marks one or all read, with unreadCount following, and hides other tenants' notifications", async () => {
    const { client, orgId } = await newTenant(admin);
    const other = await newTenant(admin);
    for (const i of [1, 2, 3]) {
      await raiseNotification(env, { organizationId: orgId, type: "JOB_FAILED", title: `t${i}`, message: `m${i}`, dedupeKey: `k${i}` });
    }
    // Raised again with the same key: nothing new.
    const again = await raiseNotification(env, { organizationId: orgId, type: "JOB_FAILED", title: "t1", message: "m1", dedupeKey: "k1" });
    expect(again.created).toBe(false);
    const body = await list(client, orgId);
    expect(body.unreadCount).toBe(3);
    const first = body.notifications[0].notificationId;

    const base = `/organizations/${orgId}/notifications`;
    expect(await client.expect(200, client.put(`${base}/${first}/read`))).toEqual({ notificationId: first });
    expect(await client.expect(200, client.put(`${base}/${first}/read`))).toEqual({ notificationId: first });
    const one = await list(client, orgId);
    expect(one.unreadCount).toBe(2);
    expect(one.notifications.find((n: any) => n.notificationId === first).read).toBe(true);

    expect((await client.put(`${base}/${crypto.randomUUID()}/read`)).body.code).toBe("NotFoundError");
    // Another tenant can neither read nor mark them.
    expect((await other.client.get(base)).status).toBe(403);
    expect((await other.client.put(`${base}/${first}/read`)).status).toBe(403);
    expect((await other.client.put(`/organizations/${other.orgId}/notifications/${first}/read`)).status).toBe(404);
    expect((await list(other.client, other.orgId)).notifications).toEqual([]);

    expect(await client.expect(200, client.put(`${base}/read-all`))).toEqual({ markedCount: 2 });
    expect(await client.expect(200, client.put(`${base}/read-all`))).toEqual({ markedCount: 0 });
    const all = await list(client, orgId);
    expect(all.unreadCount).toBe(0);
    expect(all.notifications.every((n: any) => n.read)).toBe(true);
  });

  it("expires notifications after 30 days, deleting a bounded batch per new one", async () => {
    const { client, orgId } = await newTenant(admin);
    const DAY = 24 * 60 * 60 * 1000;
    await storeMany(orgId, 150, new Date(Date.now() - 31 * DAY).toISOString(), "expired");
    await storeMany(orgId, 2, new Date(Date.now() - 29 * DAY).toISOString(), "kept");
    // Past 30 days a notification is no longer shown, even before it is deleted.
    const before = await list(client, orgId);
    expect(before.notifications).toHaveLength(2);
    expect(before.unreadCount).toBe(2);

    // Each new notification deletes up to 100 expired ones (NOTIFICATION_PRUNE_BATCH).
    await raiseNotification(env, { organizationId: orgId, type: "JOB_FAILED", title: "new", message: "m", dedupeKey: "expiry-1" });
    expect(await countStored(orgId)).toBe(50 + 2 + 1);
    await raiseNotification(env, { organizationId: orgId, type: "JOB_FAILED", title: "new", message: "m", dedupeKey: "expiry-2" });
    expect(await countStored(orgId)).toBe(2 + 2);
    const after = await list(client, orgId);
    expect(after.notifications.map((n: any) => n.title)).toEqual(["new", "new", "old", "old"]);
    expect(after.unreadCount).toBe(4);
  });

  it("marks at most 10,000 read per MarkAllNotificationsRead, and a second call marks the rest", async () => {
    const { client, orgId } = await newTenant(admin);
    await storeMany(orgId, 10_500, new Date().toISOString(), "many");
    const base = `/organizations/${orgId}/notifications`;
    expect(await client.expect(200, client.put(`${base}/read-all`))).toEqual({ markedCount: 10_000 });
    expect((await list(client, orgId)).unreadCount).toBe(500);
    expect(await client.expect(200, client.put(`${base}/read-all`))).toEqual({ markedCount: 500 });
    expect(await client.expect(200, client.put(`${base}/read-all`))).toEqual({ markedCount: 0 });
    expect((await list(client, orgId)).unreadCount).toBe(0);
  });

  it("raises one WARNING for a burst of refused webhook signatures, not one per request", async () => {
    const { hook, trigger, client, orgId } = await triggerSetup();
    const raw = JSON.stringify({ orderId: "o-1" });
    const forged = "whsec_" + btoa("not-the-secret-but-32-bytes-long");
    for (let i = 0; i < WEBHOOK_REFUSAL_THRESHOLD * 2 + 5; i++) {
      expect((await hook(raw, standardHeaders(forged, raw))).status).toBe(401);
    }
    const body = await waitForList(client, orgId, (b) => b.notifications.length > 0);
    await sleep(1000);
    const settled = await list(client, orgId);
    expect(settled.notifications).toHaveLength(1);
    expect(settled.notifications[0]).toMatchObject({ type: "WEBHOOK_SIGNATURES_REFUSED", severity: "WARNING", resourceId: trigger.triggerId });
    expect(body.notifications[0].message).toContain(`${WEBHOOK_REFUSAL_THRESHOLD} deliveries`);
    // Fewer refusals than the threshold raise nothing.
    const quiet = await triggerSetup();
    for (let i = 0; i < WEBHOOK_REFUSAL_THRESHOLD - 1; i++) expect((await quiet.hook(raw, standardHeaders(forged, raw))).status).toBe(401);
    await sleep(1000);
    expect((await list(quiet.client, quiet.orgId)).notifications).toEqual([]);
  });

  it("still raises a burst's notification when the raise at the threshold failed", async () => {
    const { client, orgId } = await newTenant(admin);
    const trigger = { triggerId: `trigger-${crypto.randomUUID()}`, organizationId: orgId, name: "orders" };
    const threshold = 3;
    const undo = await failNotificationInserts(orgId);
    // The threshold-th refusal's raise fails (whether countRefusal reports that or logs it).
    for (let i = 1; i <= threshold; i++) await countRefusal(env, trigger, "bad signature", threshold, 60_000).catch(() => undefined);
    expect((await list(client, orgId)).notifications).toEqual([]);
    await undo();
    // The next refusal of the same window raises it; the ones after raise nothing more.
    for (let i = threshold + 1; i <= threshold + 3; i++) expect((await countRefusal(env, trigger, "bad signature", threshold, 60_000)).count).toBe(i);
    const body = await list(client, orgId);
    expect(body.notifications).toHaveLength(1);
    expect(body.notifications[0]).toMatchObject({ type: "WEBHOOK_SIGNATURES_REFUSED", resourceId: trigger.triggerId });
  });
});
