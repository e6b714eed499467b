// Trigger management: the secret is shown once, stored sealed, and each tenant sees only its own.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { newTenant } from "../../helpers/client";
import { standardHeaders } from "../../helpers/webhooks";
import { admin } from "../../helpers/workerd";
import { triggerSetup } from "./fixture";

describe("webhook triggers", () => {
  it("creates a trigger with a delivery url and a secret shown only once", async () => {
    const { client, orgId, workflowId, trigger } = await triggerSetup({ name: "shop orders" });
    expect(trigger).toMatchObject({
      name: "shop orders",
      workflowId,
      workflowVersion: { tag: "$LIVE" },
      scheme: "standard-webhooks",
      url: `https://canopy.test/hooks/${trigger.triggerId}`,
      rateLimitPerSecond: 100,
    });
    // whsec_ + base64 of 24 to 64 random bytes (the Standard Webhooks secret format).
    const bytes = Buffer.from(trigger.secret.slice("whsec_".length), "base64");
    expect(bytes.length).toBeGreaterThanOrEqual(24);
    expect(bytes.length).toBeLessThanOrEqual(64);

    const list = await client.expect(200, client.get(`/organizations/${orgId}/webhook-triggers`));
    expect(list.webhookTriggers).toHaveLength(1);
    const { secret: _secret, ...shown } = trigger;
    expect(list.webhookTriggers[0]).toEqual(shown);
    expect(JSON.stringify(list)).not.toContain(trigger.secret);
  });

  it("stores the secret encrypted, never in plain text", async () => {
    const { trigger } = await triggerSetup();
    const row = await env.DB.prepare(`SELECT * FROM webhook_triggers WHERE trigger_id = ?`).bind(trigger.triggerId).first();
    const stored = JSON.stringify(row);
    expect(stored).not.toContain(trigger.secret);
    expect(stored).not.toContain(trigger.secret.slice("whsec_".length));
  });

  it("deletes a trigger: gone from the list, a second delete is 404", async () => {
    const { client, orgId, trigger } = await triggerSetup();
    const path = `/organizations/${orgId}/webhook-triggers/${trigger.triggerId}`;
    expect(await client.expect(200, client.delete(path))).toEqual({ success: true });
    expect((await client.expect(200, client.get(`/organizations/${orgId}/webhook-triggers`))).webhookTriggers).toEqual([]);
    expect((await client.delete(path)).status).toBe(404);
  });

  it("refuses invalid requests with the API's error format", async () => {
    const { client, orgId, workflowId } = await triggerSetup();
    const path = `/organizations/${orgId}/webhook-triggers`;
    const base = { name: "t", workflowId, workflowVersion: { tag: "$LIVE" }, scheme: "standard-webhooks" };

    const badScheme = await client.post(path, { ...base, scheme: "stripe" });
    expect(badScheme.status).toBe(400);
    expect(badScheme.headers.get("x-amzn-errortype")).toBe("ValidationError");
    expect((await client.post(path, { ...base, inputTransformer: { fieldset: [{ from: "body.x", to: "y", bogus: 1 }] } })).status).toBe(400);
    expect((await client.post(path, { ...base, rateLimitPerSecond: 0 })).status).toBe(400);

    const unknownWorkflow = await client.post(path, { ...base, workflowId: "00000000-0000-4000-8000-000000000000" });
    expect(unknownWorkflow.status).toBe(404);
    expect(unknownWorkflow.headers.get("x-amzn-errortype")).toBe("NotFoundError");
    expect((await client.post(path, { ...base, workflowVersion: { versionNumber: 9 } })).status).toBe(404);
    expect((await client.post(path, { ...base, workflowVersion: { tag: "$NOT_SET" } })).status).toBe(404);
  });

  it("needs a token for management but none for deliveries", async () => {
    const { orgId, trigger, hook } = await triggerSetup();
    expect((await admin.as(undefined).get(`/organizations/${orgId}/webhook-triggers`)).status).toBe(401);
    const body = JSON.stringify({ orderId: "o-1" });
    expect((await hook(body, { ...standardHeaders(trigger.secret, body), authorization: "Bearer nonsense" })).status).toBe(202);
  });
});

describe("documentation", () => {
  it("lists the trigger routes and the unauthenticated delivery route in /openapi.json", async () => {
    const doc = await admin.expect(200, admin.get("/openapi.json"));
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/organizations/{organizationId}/webhook-triggers", "/organizations/{organizationId}/webhook-triggers/{triggerId}", "/hooks/{triggerId}"]),
    );
    expect(doc.paths["/hooks/{triggerId}"].post.security).toEqual([]);
  });
});

describe("tenancy", () => {
  it("keeps another organization's token away from a tenant's triggers", async () => {
    const { orgId, trigger, client, workflowId } = await triggerSetup();
    const other = await newTenant(admin);

    const list = await other.client.get(`/organizations/${orgId}/webhook-triggers`);
    expect(list.status).toBe(403);
    expect(list.headers.get("x-amzn-errortype")).toBe("AuthorizationError");
    expect((await other.client.delete(`/organizations/${orgId}/webhook-triggers/${trigger.triggerId}`)).status).toBe(403);
    // Through its own organization's path the trigger does not exist.
    expect((await other.client.delete(`/organizations/${other.orgId}/webhook-triggers/${trigger.triggerId}`)).status).toBe(404);
    expect((await other.client.expect(200, other.client.get(`/organizations/${other.orgId}/webhook-triggers`))).webhookTriggers).toEqual([]);
    // Nor can it bind a trigger to this tenant's workflow.
    const stolen = await other.client.post(`/organizations/${other.orgId}/webhook-triggers`, {
      name: "x",
      workflowId,
      workflowVersion: { tag: "$LIVE" },
      scheme: "github",
    });
    expect(stolen.status).toBe(404);

    expect((await client.expect(200, client.get(`/organizations/${orgId}/webhook-triggers`))).webhookTriggers).toHaveLength(1);
  });
});
