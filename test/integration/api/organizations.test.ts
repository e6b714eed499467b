import { describe, expect, it } from "vitest";
import { newTenant, unique } from "../../helpers/client";
import { admin, anonymous } from "../../helpers/workerd";

describe("health and docs", () => {
  it("answers /healthz without auth", async () => {
    const res = await anonymous.get("/healthz");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true });
  });

  it("serves an OpenAPI 3.1 document generated from the route schemas", async () => {
    const res = await anonymous.get("/openapi.json");
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe("3.1.0");
    expect(Object.keys(res.body.paths)).toContain("/organizations/{organizationId}/workflows/{workflowId}/versions");
    const ops = Object.values(res.body.paths).flatMap((p: any) => Object.values(p).map((o: any) => o.operationId));
    expect(ops).toEqual(expect.arrayContaining(["CreateOrganization", "RegisterWorkflowVersion", "SetWorkflowVersionTag"]));
  });

  it("serves /docs", async () => {
    const res = await anonymous.get("/docs");
    expect(res.status).toBe(200);
    expect(String(res.body)).toContain("/openapi.json");
  });

  it("answers an unknown route with 404 UnknownOperation, told apart from an unknown id", async () => {
    const { orgId, client } = await newTenant(admin);
    for (const res of [
      await admin.get("/nope"),
      // Operations of the JustWorkflowIt client Canopy does not have (billing), and a known path with a method it lacks.
      await client.get(`/organizations/${orgId}/subscription-plan`),
      await client.call("PATCH", `/organizations/${orgId}/jobs`, {}),
    ]) {
      expect(res.status).toBe(404);
      expect(res.body.code).toBe("UnknownOperation");
      expect(res.headers.get("x-amzn-errortype")).toBe("UnknownOperation");
    }
    const unknownJob = await client.get(`/organizations/${orgId}/jobs/${crypto.randomUUID()}`);
    expect(unknownJob.status).toBe(404);
    expect(unknownJob.body.code).toBe("NotFoundError");
  });
});

describe("authentication", () => {
  it.each([
    ["no token", undefined],
    ["a wrong token", "cnp_not-a-real-token"],
  ])("refuses %s with 401 AuthenticationError", async (_label, token) => {
    const res = await admin.as(token).get("/organizations");
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("AuthenticationError");
    expect(res.headers.get("x-amzn-errortype")).toBe("AuthenticationError");
  });

  it("accepts a bare token as well as Bearer", async () => {
    const { orgId, token } = await newTenant(admin);
    const res = await anonymous.call("GET", `/organizations/${orgId}`, undefined, { authorization: token });
    expect(res.status).toBe(200);
    expect(res.body.organizationId).toBe(orgId);
  });

  it("refuses a revoked token", async () => {
    const { orgId, client } = await newTenant(admin);
    const { tokens: apiAuthTokens } = await client.expect(200, client.get(`/organizations/${orgId}/api-auth-tokens`));
    await client.expect(200, client.delete(`/organizations/${orgId}/api-auth-tokens/${apiAuthTokens[0].apiAuthTokenId}`));
    expect((await client.get(`/organizations/${orgId}`)).status).toBe(401);
  });

  it("refuses an expired token", async () => {
    const { orgId } = await newTenant(admin);
    const tok = await admin.expect(
      200,
      admin.post(`/organizations/${orgId}/api-auth-tokens`, { name: "old", expiresAt: "2001-01-01T00:00:00.000Z" }),
    );
    expect((await admin.as(tok.token).get(`/organizations/${orgId}`)).status).toBe(401);
  });
});

describe("organizations", () => {
  it("creates, gets and lists with the API's shapes", async () => {
    const key = unique("acme").toLowerCase();
    const org = await admin.expect(200, admin.post("/organizations", { name: "Acme", key, displayName: "Acme Inc" }));
    expect(org).toEqual({
      organizationId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      name: "Acme",
      key,
      displayName: "Acme Inc",
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      marketplaceAllowlistRequired: false,
    });
    expect(await admin.expect(200, admin.get(`/organizations/${org.organizationId}`))).toEqual(org);
    const { organizations } = await admin.expect(200, admin.get("/organizations"));
    expect(organizations).toContainEqual(org);
  });

  it("lets only the admin create organizations", async () => {
    const { client } = await newTenant(admin);
    const res = await client.post("/organizations", { name: "x", key: unique("x"), displayName: "x" });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("AuthorizationError");
  });

  it("refuses a duplicate key with 409", async () => {
    const key = unique("dup");
    await admin.expect(200, admin.post("/organizations", { name: "a", key, displayName: "a" }));
    const res = await admin.post("/organizations", { name: "b", key, displayName: "b" });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("ConflictError");
  });

  it("shows a token only its own organization", async () => {
    const a = await newTenant(admin);
    const b = await newTenant(admin);
    const { organizations } = await a.client.expect(200, a.client.get("/organizations"));
    expect(organizations.map((o: any) => o.organizationId)).toEqual([a.orgId]);
    const res = await a.client.get(`/organizations/${b.orgId}`);
    expect(res.status).toBe(403);
  });

  it("answers 404 for an unknown organization", async () => {
    const res = await admin.get(`/organizations/${crypto.randomUUID()}`);
    expect(res.status).toBe(404);
    expect(res.body.code).toBe("NotFoundError");
  });

  it("refuses invalid input with every problem named", async () => {
    const res = await admin.post("/organizations", { name: "", key: "Bad Key" });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("ValidationError");
    expect(Object.keys(res.body.fields)).toEqual(expect.arrayContaining(["name", "key", "displayName"]));
  });
});

describe("API tokens", () => {
  it("creates a token shown once, lists without secrets, and revokes", async () => {
    const { orgId, client } = await newTenant(admin);
    const created = await client.expect(200, client.post(`/organizations/${orgId}/api-auth-tokens`, { name: "ci" }));
    expect(created).toEqual({ apiAuthTokenId: expect.any(String), name: "ci", createdAt: expect.any(String), token: expect.stringMatching(/^cnp_/) });
    const { tokens: apiAuthTokens } = await client.expect(200, client.get(`/organizations/${orgId}/api-auth-tokens`));
    expect(apiAuthTokens.map((t: any) => t.name).sort()).toEqual(["ci", "tests"]);
    expect(JSON.stringify(apiAuthTokens)).not.toContain(created.token);
    expect(await client.expect(200, client.delete(`/organizations/${orgId}/api-auth-tokens/${created.apiAuthTokenId}`))).toEqual({ success: true });
    expect((await client.as(created.token).get(`/organizations/${orgId}`)).status).toBe(401);
    expect((await client.delete(`/organizations/${orgId}/api-auth-tokens/${created.apiAuthTokenId}`)).status).toBe(404);
  });

  it("refuses another organization's token", async () => {
    const a = await newTenant(admin);
    const b = await newTenant(admin);
    expect((await a.client.post(`/organizations/${b.orgId}/api-auth-tokens`, { name: "x" })).status).toBe(403);
    expect((await a.client.get(`/organizations/${b.orgId}/api-auth-tokens`)).status).toBe(403);
  });
});

describe("request bodies", () => {
  it("refuses malformed JSON with 400 ValidationError", async () => {
    const res = await admin.call("POST", "/organizations", "{not json", { "content-type": "application/json" });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("ValidationError");
  });

  it("refuses a 2 MiB body with 413 before parsing it", async () => {
    const res = await admin.post("/organizations", { name: "x".repeat(2 * 1024 * 1024), key: "big", displayName: "x" });
    expect(res.status).toBe(413);
    expect(res.body.code).toBe("PayloadTooLarge");
    expect(res.headers.get("x-amzn-errortype")).toBe("PayloadTooLarge");
    expect((await admin.get("/organizations")).body.organizations.some((o: any) => o.key === "big")).toBe(false);
  });
});
