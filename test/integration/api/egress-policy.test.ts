import { describe, expect, it } from "vitest";
import { MAX_EGRESS_ALLOWED_HOSTS } from "../../../src/limits";
import { newTenant } from "../../helpers/client";
import { admin, anonymous } from "../../helpers/workerd";

const path = (orgId: string) => `/organizations/${orgId}/egress-policy`;

describe("an organization's egress policy", () => {
  it("has no allowlist until one is set; PUT replaces it, null removes it", async () => {
    const { orgId, client } = await newTenant(admin);
    expect(await client.expect(200, client.get(path(orgId)))).toEqual({ allowedHosts: null });

    const hosts = ["api.example.com", "*.example.net", "hooks.example.org:8443", "203.0.113.7", "[2001:db8::1]", "api.example.com"];
    const put = await client.expect(200, client.put(path(orgId), { allowedHosts: hosts }));
    expect(put).toEqual({ allowedHosts: ["api.example.com", "*.example.net", "hooks.example.org:8443", "203.0.113.7", "[2001:db8::1]"] });
    expect(await client.expect(200, client.get(path(orgId)))).toEqual(put);

    expect(await client.expect(200, client.put(path(orgId), { allowedHosts: [] }))).toEqual({ allowedHosts: [] });
    expect(await client.expect(200, client.put(path(orgId), { allowedHosts: null }))).toEqual({ allowedHosts: null });
    expect(await client.expect(200, client.get(path(orgId)))).toEqual({ allowedHosts: null });
  });

  it.each([
    ["a URL", ["https://api.example.com"]],
    ["a path", ["api.example.com/v1"]],
    ["a wildcard in the middle", ["api.*.example.com"]],
    ["a bare wildcard", ["*"]],
    ["a wildcard over a top-level domain", ["*.com"]],
    ["a wildcard over an address", ["*.127.0.0.1"]],
    ["upper case (not canonical)", ["API.example.com"]],
    ["an IPv4 address in another notation", ["0x7f.1"]],
    ["an unbracketed IPv6 address", ["::1"]],
    ["an empty pattern", [""]],
    ["a bad port", ["api.example.com:99999"]],
    ["a space", ["api example.com"]],
    ["too long", [`${"a".repeat(63)}.`.repeat(5) + "com"]],
  ])("refuses %s with 400 naming the pattern", async (_label, allowedHosts) => {
    const { orgId, client } = await newTenant(admin);
    const res = await client.put(path(orgId), { allowedHosts });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("ValidationError");
    expect(Object.keys(res.body.fields ?? {})).toEqual(["allowedHosts.0"]);
    expect(await client.expect(200, client.get(path(orgId)))).toEqual({ allowedHosts: null });
  });

  it.each([
    ["more than the limit", { allowedHosts: Array.from({ length: MAX_EGRESS_ALLOWED_HOSTS + 1 }, (_, i) => `h${i}.example.com`) }],
    ["no allowedHosts", {}],
    ["a string instead of a list", { allowedHosts: "api.example.com" }],
    ["an unknown field", { allowedHosts: null, allowPrivate: true }],
  ])("refuses %s with 400", async (_label, body) => {
    const { orgId, client } = await newTenant(admin);
    const res = await client.put(path(orgId), body);
    expect([res.status, res.body.code]).toEqual([400, "ValidationError"]);
  });

  it("belongs to its organization: another organization's token gets 403 and changes nothing; the admin may act", async () => {
    const a = await newTenant(admin);
    const b = await newTenant(admin);
    await a.client.expect(200, a.client.put(path(a.orgId), { allowedHosts: ["api.example.com"] }));

    for (const res of [await b.client.get(path(a.orgId)), await b.client.put(path(a.orgId), { allowedHosts: null })]) {
      expect([res.status, res.body.code]).toEqual([403, "AuthorizationError"]);
      expect(JSON.stringify(res.body)).not.toContain("api.example.com");
    }
    expect((await anonymous.get(path(a.orgId))).status).toBe(401);
    expect(await a.client.expect(200, a.client.get(path(a.orgId)))).toEqual({ allowedHosts: ["api.example.com"] });
    // B's own policy is B's: A's setting is not visible there.
    expect(await b.client.expect(200, b.client.get(path(b.orgId)))).toEqual({ allowedHosts: null });

    expect(await admin.expect(200, admin.get(path(a.orgId)))).toEqual({ allowedHosts: ["api.example.com"] });
    expect(await admin.expect(200, admin.put(path(a.orgId), { allowedHosts: ["*.example.com"] }))).toEqual({ allowedHosts: ["*.example.com"] });
    expect((await admin.get(path("no-such-organization"))).status).toBe(404);
    expect((await admin.put(path("no-such-organization"), { allowedHosts: null })).status).toBe(404);
  });

  it("is described in /openapi.json", async () => {
    const doc = (await anonymous.get("/openapi.json")).body;
    const ops = doc.paths["/organizations/{organizationId}/egress-policy"];
    expect([ops.get.operationId, ops.put.operationId]).toEqual(["GetEgressPolicy", "PutEgressPolicy"]);
  });
});
