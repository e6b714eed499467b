import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { deployWorkflow, newTenant } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import { putOrganizationSecret, readSecretForUse } from "../../../src/registry/secrets";

const secretValue = async (orgId: string, key: string) => (await readSecretForUse(env, orgId, key))?.value;
import { fakeOrigin, scenario, seen } from "./fake";

const http = "/canopy/http";
const VALUE = "sk_live_7f3c9a1e-never-show-me";

describe("organization secrets API", () => {
  it("stores a secret and never returns its value from any route", async () => {
    const { client, orgId } = await newTenant(admin);
    const base = `/organizations/${orgId}/secrets`;
    const created = await client.expect(200, client.post(base, { key: "PAYMENTS_TOKEN", value: VALUE, description: "payments API" }));
    expect(created).toEqual({
      secretId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      key: "PAYMENTS_TOKEN",
      description: "payments API",
      createdAt: expect.any(String),
      updatedAt: created.createdAt,
    });

    // Rotating the value keeps the description and the creation time.
    const rotated = await client.expect(200, client.post(base, { key: "PAYMENTS_TOKEN", value: `${VALUE}-2` }));
    expect(rotated).toMatchObject({ secretId: created.secretId, key: "PAYMENTS_TOKEN", description: "payments API", createdAt: created.createdAt });
    expect(Date.parse(rotated.updatedAt)).toBeGreaterThanOrEqual(Date.parse(created.updatedAt));
    await client.expect(200, client.post(base, { key: "AWS_ACCESS_KEY_ID", value: "AKIDSECRETVALUE" }));

    const list = await client.expect(200, client.get(base));
    expect(list.secrets.map((s: any) => s.key)).toEqual(["AWS_ACCESS_KEY_ID", "PAYMENTS_TOKEN"]);
    const one = await client.expect(200, client.get(`${base}/PAYMENTS_TOKEN`));
    expect(one).toEqual(rotated);
    const deleted = await client.expect(200, client.delete(`${base}/PAYMENTS_TOKEN`));
    expect(deleted).toEqual({ success: true });

    for (const body of [created, rotated, list, one, deleted]) {
      const text = JSON.stringify(body);
      expect(text).not.toContain(VALUE);
      expect(text).not.toContain("AKIDSECRETVALUE");
      expect(text).not.toMatch(/"value"|sealed/);
    }
    expect((await client.get(`${base}/PAYMENTS_TOKEN`)).status).toBe(404);
    expect((await client.delete(`${base}/PAYMENTS_TOKEN`)).status).toBe(404);
    expect((await client.expect(200, client.get(base))).secrets.map((s: any) => s.key)).toEqual(["AWS_ACCESS_KEY_ID"]);
  });

  it("keeps values encrypted at rest, bound to their organization and key", async () => {
    const a = await newTenant(admin);
    const b = await newTenant(admin);
    await a.client.expect(200, a.client.post(`/organizations/${a.orgId}/secrets`, { key: "TOKEN", value: VALUE }));
    const row = await env.DB.prepare(`SELECT * FROM organization_secrets WHERE organization_id = ?`).bind(a.orgId).first<Record<string, string>>();
    expect(JSON.stringify(row)).not.toContain(VALUE);
    expect(row!.sealed_value).toMatch(/^v2\.[0-9a-f]{16}\./);
    expect(await secretValue(a.orgId, "TOKEN")).toBe(VALUE);
    expect(await secretValue(b.orgId, "TOKEN")).toBeUndefined();

    // A ciphertext copied to another organization's row (or another key) does not decrypt.
    await putOrganizationSecret(env, b.orgId, { key: "TOKEN", value: "b's own" }, Date.now());
    await env.DB.prepare(`UPDATE organization_secrets SET sealed_value = ? WHERE organization_id = ?`).bind(row!.sealed_value, b.orgId).run();
    await expect(secretValue(b.orgId, "TOKEN")).rejects.toThrow();
  });

  it("answers 403 to another organization's token and 404 for unknown organizations and keys", async () => {
    const a = await newTenant(admin);
    const b = await newTenant(admin);
    const base = `/organizations/${a.orgId}/secrets`;
    await a.client.expect(200, a.client.post(base, { key: "TOKEN", value: VALUE }));
    for (const res of [
      await b.client.post(base, { key: "TOKEN", value: "overwrite" }),
      await b.client.get(base),
      await b.client.get(`${base}/TOKEN`),
      await b.client.delete(`${base}/TOKEN`),
    ]) {
      expect(res.status).toBe(403);
      expect(res.body.code).toBe("AuthorizationError");
      expect(JSON.stringify(res.body)).not.toContain(VALUE);
    }
    expect(await secretValue(a.orgId, "TOKEN")).toBe(VALUE);

    const nowhere = `/organizations/${crypto.randomUUID()}/secrets`;
    expect((await admin.post(nowhere, { key: "TOKEN", value: "x" })).status).toBe(404);
    expect((await admin.get(nowhere)).status).toBe(404);
    expect((await a.client.get(`${base}/NOPE`)).status).toBe(404);
    expect((await a.client.delete(`${base}/NOPE`)).status).toBe(404);
    // Another organization's key of the same name is not visible through this one.
    expect((await admin.get(`/organizations/${b.orgId}/secrets/TOKEN`)).status).toBe(404);
  });

  it.each([
    ["no value", { key: "K" }],
    ["an empty value", { key: "K", value: "" }],
    ["a value that is not a string", { key: "K", value: { nested: true } }],
    ["a key with a space", { key: "MY KEY", value: "v" }],
    ["a key starting with a digit", { key: "1KEY", value: "v" }],
    ["a key over 128 characters", { key: "K".repeat(129), value: "v" }],
    ["a value over 64 KiB", { key: "K", value: "x".repeat(64 * 1024 + 1) }],
    ["an unknown field", { key: "K", value: "v", secret: true }],
    ["a body that is not JSON", "{nope"],
  ])("refuses %s with 400 and stores nothing", async (_label, body) => {
    const { client, orgId } = await newTenant(admin);
    const res = await client.post(`/organizations/${orgId}/secrets`, body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("ValidationError");
    expect((await client.expect(200, client.get(`/organizations/${orgId}/secrets`))).secrets).toEqual([]);
  });

  it("refuses a malformed key in the path with 400", async () => {
    const { client, orgId } = await newTenant(admin);
    expect((await client.get(`/organizations/${orgId}/secrets/bad%20key`)).status).toBe(400);
    expect((await client.delete(`/organizations/${orgId}/secrets/bad%20key`)).status).toBe(400);
  });

  it("lists the secret routes in the OpenAPI document", async () => {
    const doc = await admin.expect(200, admin.get("/openapi.json"));
    expect(Object.keys(doc.paths["/organizations/{organizationId}/secrets"])).toEqual(expect.arrayContaining(["get", "post"]));
    expect(Object.keys(doc.paths["/organizations/{organizationId}/secrets/{secretId}"])).toEqual(expect.arrayContaining(["get", "delete"]));
  });
});

describe("secrets in jobs", () => {
  it("sends a secret header to the endpoint but never shows it in the job, its state or the job list", async () => {
    const { client, orgId } = await newTenant(admin);
    await client.expect(200, client.post(`/organizations/${orgId}/secrets`, { key: "API_TOKEN", value: VALUE }));
    const id = await scenario("secret-ok", [{ json: { charged: true } }]);
    const def = workflow("charge", [
      step("charge", http, { config: { url: `${fakeOrigin()}/s/${id}`, headers: { authorization: { secret: "API_TOKEN" }, "x-plain": "visible" } } }),
    ]);
    const { workflowId } = await deployWorkflow(client, orgId, def);
    const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: { amount: 5 } });
    const { job } = await waitForJob(client, orgId, jobId);
    expect(job).toMatchObject({ status: "SUCCEEDED", output: { charged: true } });

    const [req] = await seen(id);
    expect(req!.headers.authorization).toBe(VALUE);
    expect(req!.headers["x-plain"]).toBe("visible");
    for (const path of [`/jobs/${jobId}`, `/jobs/${jobId}/state`, `/jobs`, `/workflows/${workflowId}/versions`]) {
      const body = await client.expect(200, client.get(`/organizations/${orgId}${path}`));
      expect(JSON.stringify(body)).not.toContain(VALUE);
    }
  });

  it("keeps a secret an endpoint echoes in its error out of the history", async () => {
    const { client, orgId } = await newTenant(admin);
    await client.expect(200, client.post(`/organizations/${orgId}/secrets`, { key: "API_TOKEN", value: VALUE }));
    const id = await scenario("secret-echo", [{ status: 401, body: `token ${VALUE} is not valid here` }]);
    const { workflowId } = await deployWorkflow(
      client,
      orgId,
      workflow("echoes", [step("call", http, { config: { url: `${fakeOrigin()}/s/${id}`, headers: { authorization: { secret: "API_TOKEN" } } } })]),
    );
    const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" } });
    const { job } = await waitForJob(client, orgId, jobId);
    expect(job.status).toBe("FAILED");
    expect(job.error.message).toContain("token [secret] is not valid here");
    const { state } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state`));
    expect(JSON.stringify({ job, state })).not.toContain(VALUE);
  });

  it("fails a step whose secret does not exist, without calling or retrying", async () => {
    const { client, orgId } = await newTenant(admin);
    const id = await scenario("secret-missing");
    const { workflowId } = await deployWorkflow(
      client,
      orgId,
      workflow("missing", [step("call", http, { retries: 3, config: { url: `${fakeOrigin()}/s/${id}`, headers: { authorization: { secret: "NOPE" } } } })]),
    );
    const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" } });
    const { job } = await waitForJob(client, orgId, jobId);
    expect(job).toMatchObject({ status: "FAILED", error: { code: "SecretNotFound", stepName: "call" }, billableTransactionUnits: 1 });
    expect(job.error.message).toContain('"NOPE"');
    expect(await seen(id)).toHaveLength(0);
  });
});
