import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { newTenant, unique } from "../../helpers/client";
import { admin } from "../../helpers/workerd";

const VALUE = "sk_live_resolve-me-9b1";

async function setup() {
  const t = await newTenant(admin);
  const base = `/organizations/${t.orgId}/secrets`;
  const created = await t.client.expect(200, t.client.post(base, { key: "PAYMENTS_TOKEN", value: VALUE, description: "payments" }));
  const resolver = await admin.expect(200, admin.post(`/organizations/${t.orgId}/api-auth-tokens`, { name: unique("r"), permissions: ["secret:resolve"] }));
  return { ...t, base, created, resolver: t.client.as(resolver.token), resolverId: resolver.apiAuthTokenId as string };
}

afterEach(() => vi.restoreAllMocks());

describe("organization secrets by secretId", () => {
  it("are read, replaced and deleted by secretId, and by key where the client sends one", async () => {
    const { client, base, created, resolver } = await setup();
    expect(created.secretId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const byId = await client.expect(200, client.get(`${base}/${created.secretId}`));
    expect(byId).toEqual(created);
    expect(await client.expect(200, client.get(`${base}/PAYMENTS_TOKEN`))).toEqual(created);
    expect((await client.expect(200, client.get(base))).secrets).toEqual([created]);

    // UpdateOrganizationSecret (PUT, the client's): a new value under the same id, the description kept unless given.
    const replaced = await client.expect(200, client.put(`${base}/${created.secretId}`, { value: `${VALUE}-2` }));
    expect(replaced).toMatchObject({ secretId: created.secretId, key: "PAYMENTS_TOKEN", description: "payments" });
    expect((await resolver.expect(200, resolver.post(`${base}/resolve`, { key: "PAYMENTS_TOKEN" }))).value).toBe(`${VALUE}-2`);
    const described = await client.expect(200, client.put(`${base}/PAYMENTS_TOKEN`, { description: "payments v2" }));
    expect(described).toMatchObject({ secretId: created.secretId, description: "payments v2" });
    expect((await resolver.expect(200, resolver.post(`${base}/resolve`, { key: "PAYMENTS_TOKEN" }))).value).toBe(`${VALUE}-2`);
    expect((await client.put(`${base}/${created.secretId}`, {})).status).toBe(400);

    await client.expect(200, client.delete(`${base}/${created.secretId}`));
    for (const ref of [created.secretId, "PAYMENTS_TOKEN"]) {
      expect((await client.get(`${base}/${ref}`)).status).toBe(404);
      expect((await client.put(`${base}/${ref}`, { value: "x" })).status).toBe(404);
      expect((await client.delete(`${base}/${ref}`)).status).toBe(404);
    }
    // Replacing a deleted secret's value did not create it again.
    expect((await client.expect(200, client.get(base))).secrets).toEqual([]);
    const again = await client.expect(200, client.post(base, { key: "PAYMENTS_TOKEN", value: VALUE }));
    expect(again.secretId).not.toBe(created.secretId);
  });

  it("are not found by another organization's token or through another organization's path", async () => {
    const { created, base } = await setup();
    const other = await newTenant(admin);
    expect((await other.client.get(`${base}/${created.secretId}`)).status).toBe(403);
    expect((await other.client.get(`/organizations/${other.orgId}/secrets/${created.secretId}`)).status).toBe(404);
    expect((await other.client.delete(`/organizations/${other.orgId}/secrets/${created.secretId}`)).status).toBe(404);
  });
});

describe("ResolveOrganizationSecret", () => {
  it("returns {key, value} to a token granted secret:resolve, and logs who resolved what without the value", async () => {
    const { orgId, base, resolver, resolverId } = await setup();
    const log = vi.spyOn(console, "log");
    expect(await resolver.expect(200, resolver.post(`${base}/resolve`, { key: "PAYMENTS_TOKEN" }))).toEqual({ key: "PAYMENTS_TOKEN", value: VALUE });
    const lines = log.mock.calls.map((args) => String(args[0])).filter((line) => line.includes("secret.resolved"));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ event: "secret.resolved", organizationId: orgId, key: "PAYMENTS_TOKEN", by: resolverId });
    expect(lines[0]).not.toContain(VALUE);
  });

  it("is refused to tokens without secret:resolve, unknown keys are 404, and a bad body is 400", async () => {
    const { client, base, resolver } = await setup();
    const refused = await client.post(`${base}/resolve`, { key: "PAYMENTS_TOKEN" });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ code: "AuthorizationError", message: expect.stringContaining('"secret:resolve"') });
    expect(JSON.stringify(refused.body)).not.toContain(VALUE);
    expect((await resolver.post(`${base}/resolve`, { key: "NOPE" })).status).toBe(404);
    expect((await resolver.post(`${base}/resolve`, {})).status).toBe(400);
    expect((await resolver.post(`${base}/resolve`, { key: "PAYMENTS_TOKEN", extra: 1 })).status).toBe(400);
  });

  it("does not return a secret bound to hosts to a token, only to the admin", async () => {
    const { client, base, resolver } = await setup();
    await client.expect(200, client.call("PATCH", `${base}/PAYMENTS_TOKEN`, { allowedHosts: ["api.payments.example"] }));
    const res = await resolver.post(`${base}/resolve`, { key: "PAYMENTS_TOKEN" });
    expect(res.status).toBe(403);
    expect(res.body.message).toContain("bound to hosts");
    expect(JSON.stringify(res.body)).not.toContain(VALUE);
    expect((await admin.expect(200, admin.post(`${base}/resolve`, { key: "PAYMENTS_TOKEN" }))).value).toBe(VALUE);
  });
});

describe("migration 0009", () => {
  it("gives a secret stored before it a v4 UUID the API finds it by", async () => {
    const { orgId, client } = await newTenant(admin);
    await client.expect(200, client.post(`/organizations/${orgId}/secrets`, { key: "OLD", value: "v" }));
    // As the secret was before the migration: no id.
    await env.DB.prepare(`UPDATE organization_secrets SET secret_id = NULL WHERE organization_id = ?`).bind(orgId).run();
    const migration = env.TEST_MIGRATIONS.find((m) => m.name.startsWith("0009_"))!;
    const backfill = migration.queries.find((q) => q.startsWith("UPDATE organization_secrets SET secret_id"))!;
    await env.DB.prepare(backfill).run();
    const { secrets } = await client.expect(200, client.get(`/organizations/${orgId}/secrets`));
    expect(secrets[0].secretId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect((await client.expect(200, client.get(`/organizations/${orgId}/secrets/${secrets[0].secretId}`))).key).toBe("OLD");
  });
});
