import { describe, expect, it } from "vitest";
import { newTenant, unique, type TestClient } from "../../helpers/client";
import { admin, anonymous } from "../../helpers/workerd";
import { env } from "cloudflare:test";
import { boundedUpdate } from "../../../src/api/routes/api-tokens";
import type { Caller } from "../../../src/api/context";
import { DEFAULT_TOKEN_PERMISSIONS, ENGINE_PERMISSIONS, ROUTE_PERMISSIONS } from "../../../src/api/permissions";

/** Every operation /openapi.json lists under /organizations, with its `METHOD path` key. */
async function organizationOperations(): Promise<{ key: string; method: string; path: string }[]> {
  const doc = (await anonymous.get("/openapi.json")).body;
  return Object.entries(doc.paths as Record<string, Record<string, unknown>>)
    .filter(([path]) => path.startsWith("/organizations"))
    .flatMap(([path, ops]) => Object.keys(ops).map((m) => ({ key: `${m.toUpperCase()} ${path}`, method: m.toUpperCase(), path })));
}

/** A concrete path for a template: random ids, a valid tag. */
function concrete(path: string, orgId: string): string {
  return path
    .replace("{organizationId}", orgId)
    .replace("{tag}", "$LIVE")
    .replace(/\{[A-Za-z]+\}/g, () => crypto.randomUUID());
}

async function tokenWith(client: TestClient, orgId: string, permissions: string[], extra: Record<string, unknown> = {}) {
  const t = await admin.expect(200, admin.post(`/organizations/${orgId}/api-auth-tokens`, { name: unique("t"), permissions, ...extra }));
  return { ...t, client: client.as(t.token) };
}

describe("the permission table", () => {
  it("names a requirement for every route under /organizations", async () => {
    const unmapped = (await organizationOperations()).filter((op) => !(op.key in ROUTE_PERMISSIONS)).map((op) => op.key);
    expect(unmapped).toEqual([]);
  });

  it("is enforced on every route: a token without the permission gets 403 naming it, one with it gets past", async () => {
    const { orgId, client } = await newTenant(admin);
    const none = await tokenWith(client, orgId, []);
    // Deleting the organization comes last, as it ends the test's organization.
    const ops = (await organizationOperations()).sort((a, b) => Number(a.key === "DELETE /organizations/{organizationId}") - Number(b.key === "DELETE /organizations/{organizationId}"));
    expect(ops.length).toBeGreaterThan(35);
    for (const op of ops) {
      const requirement = ROUTE_PERMISSIONS[op.key]!;
      const path = concrete(op.path, orgId);
      const body = op.method === "GET" || op.method === "DELETE" ? undefined : {};
      const refused = await none.client.call(op.method, path, body);
      if (requirement === "authenticated") {
        expect(refused.status, op.key).toBe(200);
        continue;
      }
      expect(refused.status, op.key).toBe(403);
      expect(refused.body.code, op.key).toBe("AuthorizationError");
      if (requirement === "admin") continue;
      expect(refused.body.message, op.key).toContain(`"${requirement}"`);
      const allowed = await (await tokenWith(client, orgId, [requirement])).client.call(op.method, path, body);
      expect(allowed.status, `${op.key} with ${requirement}: ${JSON.stringify(allowed.body)}`).not.toBe(403);
      expect(allowed.status, op.key).not.toBe(401);
    }
  });

  it("refuses before anything changes", async () => {
    const { orgId, client } = await newTenant(admin);
    const reader = await tokenWith(client, orgId, ["workflow:read"]);
    expect((await reader.client.post(`/organizations/${orgId}/workflows`, { name: "w" })).status).toBe(403);
    expect((await client.expect(200, client.get(`/organizations/${orgId}/workflows`))).workflows).toEqual([]);
  });
});

describe("tokens created without permissions", () => {
  it("keep every engine permission but secret:resolve and organization:delete, and GetMyPermissions says so", async () => {
    const { orgId, client } = await newTenant(admin);
    const mine = await client.expect(200, client.get(`/organizations/${orgId}/users/me/permissions`));
    expect([...mine.permissions].sort()).toEqual([...DEFAULT_TOKEN_PERMISSIONS].sort());
    expect([...mine.permissions].sort()).toEqual(ENGINE_PERMISSIONS.filter((p) => p !== "secret:resolve" && p !== "organization:delete").sort());
    expect(mine.permissions).not.toContain("secret:resolve");
    expect(mine.permissions).not.toContain("organization:delete");
    const res = await client.post(`/organizations/${orgId}/secrets/resolve`, { key: "X" });
    expect(res.status).toBe(403);
    expect(res.body.message).toContain('"secret:resolve"');
  });

  it("cannot delete their organization, nor mint a token that can; a token granted organization:delete by name can", async () => {
    const { orgId, client } = await newTenant(admin);
    const refused = await client.delete(`/organizations/${orgId}`);
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ code: "AuthorizationError", message: expect.stringContaining('"organization:delete"') });
    expect((await client.expect(200, client.get(`/organizations/${orgId}`))).organizationId).toBe(orgId);
    // What a default token mints, without a list or naming the permission, cannot delete either.
    const minted = await client.expect(200, client.post(`/organizations/${orgId}/api-auth-tokens`, { name: unique("m") }));
    expect((await client.as(minted.token).delete(`/organizations/${orgId}`)).status).toBe(403);
    const escalate = await client.post(`/organizations/${orgId}/api-auth-tokens`, { name: unique("m"), permissions: ["organization:delete"] });
    expect(escalate.status).toBe(403);
    expect((await client.expect(200, client.get(`/organizations/${orgId}`))).organizationId).toBe(orgId);

    const deleter = await tokenWith(client, orgId, ["organization:delete"]);
    expect(await deleter.client.expect(200, deleter.client.delete(`/organizations/${orgId}`))).toEqual({ success: true });
    expect((await admin.get(`/organizations/${orgId}`)).status).toBe(404);
  });

  it("the admin token has every permission", async () => {
    const { orgId } = await newTenant(admin);
    const mine = await admin.expect(200, admin.get(`/organizations/${orgId}/users/me/permissions`));
    expect([...mine.permissions].sort()).toEqual([...ENGINE_PERMISSIONS].sort());
  });

  it("GetMyPermissions of a token with a list is that list, and another organization's is 403", async () => {
    const { orgId, client } = await newTenant(admin);
    const other = await newTenant(admin);
    const t = await tokenWith(client, orgId, ["job:read", "job:list", "billing:manage"]);
    expect(await t.client.expect(200, t.client.get(`/organizations/${orgId}/users/me/permissions`))).toEqual({ permissions: ["job:read", "job:list", "billing:manage"] });
    expect((await t.client.get(`/organizations/${other.orgId}/users/me/permissions`)).status).toBe(403);
  });
});

describe("API tokens as the client reads them", () => {
  it("lists {tokens}, gets one, and updates permissions and expiry with immediate effect", async () => {
    const { orgId, client } = await newTenant(admin);
    const t = await tokenWith(client, orgId, ["job:list", "workflow:read"]);
    const { tokens } = await client.expect(200, client.get(`/organizations/${orgId}/api-auth-tokens`));
    expect(tokens).toHaveLength(2);
    const listed = tokens.find((x: any) => x.apiAuthTokenId === t.apiAuthTokenId);
    expect(listed).toEqual({ apiAuthTokenId: t.apiAuthTokenId, name: t.name, createdAt: t.createdAt, permissions: ["job:list", "workflow:read"] });
    expect(tokens.find((x: any) => x.apiAuthTokenId !== t.apiAuthTokenId).permissions).toEqual([...DEFAULT_TOKEN_PERMISSIONS]);
    expect(await client.expect(200, client.get(`/organizations/${orgId}/api-auth-tokens/${t.apiAuthTokenId}`))).toEqual(listed);

    expect((await t.client.get(`/organizations/${orgId}/workflows`)).status).toBe(200);
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d{3}Z$/, "Z");
    const updated = await client.expect(
      200,
      client.call("PATCH", `/organizations/${orgId}/api-auth-tokens/${t.apiAuthTokenId}`, { permissions: ["job:list"], expiresAt }),
    );
    expect(updated).toEqual({ ...listed, permissions: ["job:list"], expiresAt: new Date(expiresAt).toISOString() });
    const refused = await t.client.get(`/organizations/${orgId}/workflows`);
    expect(refused.status).toBe(403);
    expect(refused.body.message).toContain('"workflow:read"');
  });

  it("answers 404 for an unknown or revoked token and 400 for a permission the client does not know", async () => {
    const { orgId, client } = await newTenant(admin);
    expect((await client.get(`/organizations/${orgId}/api-auth-tokens/${crypto.randomUUID()}`)).status).toBe(404);
    const t = await tokenWith(client, orgId, ["job:list"]);
    await client.expect(200, client.delete(`/organizations/${orgId}/api-auth-tokens/${t.apiAuthTokenId}`));
    expect((await client.get(`/organizations/${orgId}/api-auth-tokens/${t.apiAuthTokenId}`)).status).toBe(404);
    expect((await client.call("PATCH", `/organizations/${orgId}/api-auth-tokens/${t.apiAuthTokenId}`, { permissions: [] })).status).toBe(404);
    const bad = await client.post(`/organizations/${orgId}/api-auth-tokens`, { name: "x", permissions: ["job:read", "job:fly"] });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe("ValidationError");
    expect(JSON.stringify(bad.body.errors)).toContain("PermissionEnum");
    expect((await client.call("PATCH", `/organizations/${orgId}/api-auth-tokens/${t.apiAuthTokenId}`, {})).status).toBe(400);
  });
});

describe("a token mints and changes tokens only within its own bounds", () => {
  it("refuses a permission it lacks and a later expiry, and inherits both when left out", async () => {
    const { orgId, client } = await newTenant(admin);
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    const minter = await tokenWith(client, orgId, ["apitoken:create", "apitoken:update", "apitoken:read", "job:read"], { expiresAt });
    const path = `/organizations/${orgId}/api-auth-tokens`;

    const lacking = await minter.client.post(path, { name: "x", permissions: ["job:read", "job:submit"] });
    expect(lacking.status).toBe(403);
    expect(lacking.body.message).toContain('"job:submit"');
    const later = await minter.client.post(path, { name: "x", permissions: ["job:read"], expiresAt: new Date(Date.now() + 7_200_000).toISOString() });
    expect(later.status).toBe(403);
    expect(later.body.message).toContain("later expiry");
    const { tokens: before } = await client.expect(200, client.get(path));
    expect(before).toHaveLength(2);

    const inherited = await minter.client.expect(200, minter.client.post(path, { name: "child" }));
    expect(inherited).toMatchObject({ expiresAt, permissions: ["apitoken:create", "apitoken:update", "apitoken:read", "job:read"] });
    const narrower = await minter.client.expect(200, minter.client.post(path, { name: "narrow", permissions: ["job:read"] }));
    expect(narrower.expiresAt).toBe(expiresAt);

    // Changing a token: the same bounds, also for the calling token itself.
    const widen = await minter.client.call("PATCH", `${path}/${narrower.apiAuthTokenId}`, { permissions: ["job:read", "job:cancel"] });
    expect(widen.status).toBe(403);
    const extend = await minter.client.call("PATCH", `${path}/${minter.apiAuthTokenId}`, { expiresAt: new Date(Date.now() + 7_200_000).toISOString() });
    expect(extend.status).toBe(403);
    expect((await client.expect(200, client.get(`${path}/${minter.apiAuthTokenId}`))).expiresAt).toBe(expiresAt);
    await minter.client.expect(200, minter.client.call("PATCH", `${path}/${narrower.apiAuthTokenId}`, { permissions: [] }));
  });

  it("checks a PATCH by the token it leaves: no everlasting token gets a short-lived caller's permissions, none gets permissions the caller lacks a longer life", async () => {
    const { orgId, client } = await newTenant(admin);
    const path = `/organizations/${orgId}/api-auth-tokens`;
    const inAnHour = new Date(Date.now() + 3_600_000).toISOString();
    const inAYear = new Date(Date.now() + 365 * 86_400_000).toISOString();

    // A token expiring in an hour, PATCHing an everlasting token's permissions to its own set:
    // the everlasting token would then hold them forever.
    const hourly = await tokenWith(client, orgId, ["apitoken:update", "apitoken:read", "job:read"], { expiresAt: inAnHour });
    const everlasting = await tokenWith(client, orgId, ["organization:read"]);
    const grant = await hourly.client.call("PATCH", `${path}/${everlasting.apiAuthTokenId}`, { permissions: ["job:read"] });
    expect(grant.status).toBe(403);
    expect(grant.body.message).toContain("never expire");
    // Setting both, within the caller's bounds, is fine.
    const bounded = await hourly.client.expect(200, hourly.client.call("PATCH", `${path}/${everlasting.apiAuthTokenId}`, { permissions: ["job:read"], expiresAt: inAnHour }));
    expect(bounded).toMatchObject({ permissions: ["job:read"], expiresAt: inAnHour });

    // A default token (no organization:delete), extending a short-lived organization:delete +
    // secret:resolve token to a year: it would keep permissions the caller lacks for longer.
    const powerful = await tokenWith(client, orgId, ["organization:delete", "secret:resolve"], { expiresAt: inAnHour });
    const extend = await client.call("PATCH", `${path}/${powerful.apiAuthTokenId}`, { expiresAt: inAYear });
    expect(extend.status).toBe(403);
    expect(extend.body.message).toContain('"organization:delete"');
    expect(extend.body.message).toContain('"secret:resolve"');
    // Nothing changed.
    expect(await client.expect(200, client.get(`${path}/${powerful.apiAuthTokenId}`))).toMatchObject({ expiresAt: inAnHour, permissions: ["organization:delete", "secret:resolve"] });
    expect(await client.expect(200, client.get(`${path}/${everlasting.apiAuthTokenId}`))).toMatchObject({ permissions: ["job:read"], expiresAt: inAnHour });
    // The admin has no bounds.
    await admin.expect(200, admin.call("PATCH", `${path}/${powerful.apiAuthTokenId}`, { expiresAt: inAYear }));
  });

  it("judges a change by the token as it is when written: one changed between the check and the write is read and checked again", async () => {
    const { orgId, client } = await newTenant(admin);
    const path = `/organizations/${orgId}/api-auth-tokens`;
    const inAnHour = new Date(Date.now() + 3_600_000).toISOString();
    const target = await tokenWith(client, orgId, ["job:read"], { expiresAt: inAnHour });
    const hourly = await tokenWith(client, orgId, ["apitoken:update", "job:read", "job:list"], { expiresAt: inAnHour });
    const caller: Caller = { kind: "token", organizationId: orgId, apiAuthTokenId: hourly.apiAuthTokenId, name: "hourly", permissions: ["apitoken:update", "job:read", "job:list"], expiresAt: inAnHour };
    // Between this change's read of the token and its write, another request (the admin's) makes
    // the token everlasting: the hourly token's grant of job:list would then never expire.
    let raced = false;
    const db = new Proxy(env.DB, {
      get(target_, prop) {
        if (prop !== "prepare") return Reflect.get(target_, prop);
        return (sql: string) => {
          const stmt = target_.prepare(sql);
          if (raced || !sql.includes("permissions IS ?")) return stmt;
          raced = true;
          return new Proxy(stmt, {
            get(s, p) {
              if (p !== "bind") return Reflect.get(s, p);
              return (...args: unknown[]) => {
                const bound = s.bind(...args);
                return {
                  first: async () => {
                    await admin.expect(200, admin.call("PATCH", `${path}/${target.apiAuthTokenId}`, { expiresAt: new Date(Date.now() + 100 * 365 * 86_400_000).toISOString() }));
                    return bound.first();
                  },
                };
              };
            },
          });
        };
      },
    });
    await expect(boundedUpdate(db, caller, orgId, target.apiAuthTokenId, { permissions: ["job:read", "job:list"] })).rejects.toMatchObject({ code: "AuthorizationError" });
    expect(raced).toBe(true);
    expect((await client.expect(200, client.get(`${path}/${target.apiAuthTokenId}`))).permissions).toEqual(["job:read"]);
  });

  it("a default token cannot mint secret:resolve; the admin can", async () => {
    const { orgId, client } = await newTenant(admin);
    const path = `/organizations/${orgId}/api-auth-tokens`;
    expect((await client.post(path, { name: "r", permissions: ["secret:resolve"] })).status).toBe(403);
    await admin.expect(200, admin.post(path, { name: "r", permissions: ["secret:resolve"] }));
  });
});
