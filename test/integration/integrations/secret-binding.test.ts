/**
 * Secrets bound to hosts (issue 14), through real jobs against the fake far end. The fake listens on
 * 127.0.0.1; `localhost` reaches the same server under another host name, so "another host" is a
 * host that would really receive the secret if the binding did not stop it.
 */
import { env } from "cloudflare:test";
import { afterEach, describe, expect, inject, it, vi } from "vitest";
import { deployWorkflow, newTenant, type TestClient } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import { secretReader } from "../../../src/executors/secret-reader";
import { MAX_SECRET_ALLOWED_HOSTS } from "../../../src/limits";
import { updateOrganizationSecretMetadata } from "../../../src/registry/secrets";
import { fakeOrigin, scenario, seen } from "./fake";

const http = "/canopy/http";
const lambda = "/justworkflowit/aws/lambda";
const gcp = "/justworkflowit/gcp/cloudfunction";
const VALUE = "sk_bound_4b1d-never-show-me";

type Tenant = { client: TestClient; orgId: string };

const port = () => inject("fakePort");
/** The fake far end under its other name: another host, same server. */
const otherOrigin = () => `http://localhost:${port()}`;
const secrets = (t: Tenant) => `/organizations/${t.orgId}/secrets`;

async function putSecret(t: Tenant, key: string, value: string, allowedHosts?: string[] | null) {
  return t.client.expect(200, t.client.post(secrets(t), { key, value, ...(allowedHosts !== undefined ? { allowedHosts } : {}) }));
}

async function bind(t: Tenant, key: string, allowedHosts: string[] | null) {
  return t.client.expect(200, t.client.call("PATCH", `${secrets(t)}/${key}`, { allowedHosts }));
}

/** Runs one step to its end and returns the job. */
async function runStep(t: Tenant, type: string, config: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const { workflowId } = await deployWorkflow(t.client, t.orgId, workflow("bound", [step("call", type, { retries: 2, retryPolicy: { initialIntervalSeconds: 0.05 }, ...extra, config })]));
  const jobId = await submit(t.client, t.orgId, { workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: { n: 1 } });
  const { job } = await waitForJob(t.client, t.orgId, jobId);
  const { state } = await t.client.expect(200, t.client.get(`/organizations/${t.orgId}/jobs/${jobId}/state`));
  return { job, state, jobId };
}

/** An HTTP step sending the secret `key` as its authorization header to `origin`. */
async function callWithSecret(t: Tenant, origin: string, scenarioId: string, key = "API_TOKEN") {
  return runStep(t, http, { url: `${origin}/s/${scenarioId}`, headers: { authorization: { secret: key } } });
}

/** A step that failed on a binding: without retry, the value nowhere in the job. */
function expectDenied(result: { job: any; state: unknown }, host: string) {
  expect(result.job).toMatchObject({ status: "FAILED", error: { code: "SECRET_HOST_DENIED", stepName: "call" }, billableTransactionUnits: 1 });
  expect(result.job.error.message).toContain(`may not be sent to ${host}`);
  expect(JSON.stringify(result)).not.toContain(VALUE);
}

async function unboundUses(orgId: string) {
  const { results } = await env.DB.prepare(`SELECT key, host, job_id, step_name FROM secret_unbound_uses WHERE organization_id = ? ORDER BY key, host`)
    .bind(orgId)
    .all<{ key: string; host: string; job_id: string; step_name: string }>();
  return results;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("allowedHosts in the secrets API", () => {
  it("is stored, shown and changed with the metadata, never with the value", async () => {
    const t = await newTenant(admin);
    const created = await t.client.expect(
      200,
      t.client.post(secrets(t), { key: "PAYMENTS", value: VALUE, description: "payments", allowedHosts: ["api.example.com", "*.payments.example.com:443"] }),
    );
    expect(created).toEqual({
      secretId: expect.any(String),
      key: "PAYMENTS",
      description: "payments",
      allowedHosts: ["api.example.com", "*.payments.example.com:443"],
      createdAt: expect.any(String),
      updatedAt: created.createdAt,
    });
    expect(await t.client.expect(200, t.client.get(`${secrets(t)}/PAYMENTS`))).toEqual(created);
    expect((await t.client.expect(200, t.client.get(secrets(t)))).secrets).toEqual([created]);

    // Rotating the value alone keeps the bindings: a rotation never unbinds a secret.
    const rotated = await putSecret(t, "PAYMENTS", `${VALUE}-2`);
    expect(rotated).toMatchObject({ description: "payments", allowedHosts: created.allowedHosts, createdAt: created.createdAt });

    // UpdateSecret changes the bindings without the value (narrowing them: see below), and the admin's null unbinds.
    const rebound = await bind(t, "PAYMENTS", ["api.example.com"]);
    expect(rebound).toMatchObject({ key: "PAYMENTS", description: "payments", allowedHosts: ["api.example.com"], createdAt: created.createdAt });
    const described = await t.client.expect(200, t.client.call("PATCH", `${secrets(t)}/PAYMENTS`, { description: "new" }));
    expect(described).toMatchObject({ description: "new", allowedHosts: ["api.example.com"] });
    const unbound = await admin.expect(200, admin.call("PATCH", `${secrets(t)}/PAYMENTS`, { allowedHosts: null }));
    expect(unbound).not.toHaveProperty("allowedHosts");
    expect(await t.client.expect(200, t.client.get(`${secrets(t)}/PAYMENTS`))).toEqual(unbound);
    // A replace may bind too; a secret created without allowedHosts has none.
    expect(await putSecret(t, "PAYMENTS", VALUE, ["127.0.0.1:8443"])).toMatchObject({ allowedHosts: ["127.0.0.1:8443"] });
    expect(await putSecret(t, "OTHER", VALUE)).not.toHaveProperty("allowedHosts");
    expect(await putSecret(t, "PAYMENTS", VALUE, null)).not.toHaveProperty("allowedHosts");

    const text = JSON.stringify([created, rotated, rebound, described, unbound, await t.client.get(secrets(t))]);
    expect(text).not.toContain(VALUE);
  });

  const tooMany = Array.from({ length: MAX_SECRET_ALLOWED_HOSTS + 1 }, (_, i) => `h${i}.example.com`);
  it.each([
    ["an empty list", [], "allowedHosts"],
    ["a lone wildcard", ["*"], "allowedHosts.0"],
    ["a top-level wildcard", ["api.example.com", "*.com"], "allowedHosts.1"],
    ["a URL", ["https://api.example.com/"], "allowedHosts.0"],
    ["a host in upper case", ["API.example.com"], "allowedHosts.0"],
    ["a bad port", ["api.example.com:99999"], "allowedHosts.0"],
    ["an IPv4 address in another notation", ["0x7f.0.0.1"], "allowedHosts.0"],
    ["a duplicate", ["api.example.com", "api.example.com"], "allowedHosts.1"],
    ["more than the limit", tooMany, "allowedHosts"],
    ["a list of numbers", [1, 2], "allowedHosts.0"],
    ["a null in the list", ["api.example.com", null], "allowedHosts.1"],
    ["a string", "api.example.com", "allowedHosts"],
  ])("refuses %s with 400 in the error format and changes nothing", async (_label, allowedHosts, field) => {
    const t = await newTenant(admin);
    const before = await putSecret(t, "TOKEN", VALUE, ["api.example.com"]);
    for (const res of [
      await t.client.post(secrets(t), { key: "TOKEN", value: "replaced", allowedHosts }),
      await t.client.post(secrets(t), { key: "NEW", value: "v", allowedHosts }),
      await t.client.call("PATCH", `${secrets(t)}/TOKEN`, { allowedHosts }),
    ]) {
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ code: "ValidationError", message: expect.any(String) });
      expect(res.body.fields).toHaveProperty([field]);
      expect(res.headers.get("x-amzn-errortype")).toBe("ValidationError");
    }
    expect((await t.client.expect(200, t.client.get(secrets(t)))).secrets).toEqual([before]);
    const read = await secretReader(env, { organizationId: t.orgId, jobId: "j", stepName: "s" })("TOKEN", "api.example.com:443");
    expect(read).toEqual({ ok: true, value: VALUE });
  });

  it("names the canonical form of a pattern written another way", async () => {
    const t = await newTenant(admin);
    const res = await t.client.post(secrets(t), { key: "K", value: "v", allowedHosts: ["API.Example.com:443"] });
    expect(res.status).toBe(400);
    expect(res.body.fields["allowedHosts.0"]).toContain('write it as "api.example.com:443"');
  });

  it("refuses an update with nothing to change, an unknown field or a value", async () => {
    const t = await newTenant(admin);
    const before = await putSecret(t, "TOKEN", VALUE);
    for (const body of [{}, { allowedHosts: ["a.example.com"], extra: 1 }, { value: "new value" }, "{nope"]) {
      const res = await t.client.call("PATCH", `${secrets(t)}/TOKEN`, body);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe("ValidationError");
    }
    expect(await t.client.expect(200, t.client.get(`${secrets(t)}/TOKEN`))).toEqual(before);
    expect((await t.client.call("PATCH", `${secrets(t)}/NOPE`, { allowedHosts: ["a.example.com"] })).status).toBe(404);
    expect((await t.client.call("PATCH", `${secrets(t)}/bad%20key`, { allowedHosts: ["a.example.com"] })).status).toBe(400);
  });

  it("lets no other organization see or change the bindings", async () => {
    const a = await newTenant(admin);
    const b = await newTenant(admin);
    const before = await putSecret(a, "TOKEN", VALUE, ["api.example.com"]);
    for (const res of [
      await b.client.post(secrets(a), { key: "TOKEN", value: "evil", allowedHosts: ["evil.example.net"] }),
      await b.client.call("PATCH", `${secrets(a)}/TOKEN`, { allowedHosts: ["evil.example.net"] }),
      await b.client.call("PATCH", `${secrets(a)}/TOKEN`, { allowedHosts: null }),
      await b.client.get(`${secrets(a)}/TOKEN`),
      await b.client.get(secrets(a)),
    ]) {
      expect(res.status).toBe(403);
      expect(res.body.code).toBe("AuthorizationError");
      expect(JSON.stringify(res.body)).not.toContain("api.example.com");
    }
    // Through its own organization, b reaches only its own keys: a's is not there.
    expect((await b.client.call("PATCH", `${secrets(b)}/TOKEN`, { allowedHosts: null })).status).toBe(404);
    expect((await admin.call("PATCH", `/organizations/${crypto.randomUUID()}/secrets/TOKEN`, { allowedHosts: null })).status).toBe(404);
    expect(await a.client.expect(200, a.client.get(`${secrets(a)}/TOKEN`))).toEqual(before);
    const read = await secretReader(env, { organizationId: a.orgId, jobId: "j", stepName: "s" })("TOKEN", "evil.example.net:443");
    expect(read).toMatchObject({ ok: false, error: { code: "SECRET_HOST_DENIED" } });
  });

  it("describes allowedHosts and UpdateSecret in the OpenAPI document", async () => {
    const doc = await admin.expect(200, admin.get("/openapi.json"));
    expect(Object.keys(doc.paths["/organizations/{organizationId}/secrets/{secretId}"])).toEqual(expect.arrayContaining(["get", "patch", "delete"]));
    expect(doc.components.schemas.CreateSecretRequest.properties).toHaveProperty("allowedHosts");
    expect(doc.components.schemas.UpdateSecretRequest.properties).toHaveProperty("allowedHosts");
    expect(doc.components.schemas.SecretMetadata.properties).toHaveProperty("allowedHosts");
  });
});

describe("changing a binding without the value", () => {
  const key = "API_TOKEN";
  const patch = (t: Tenant, allowedHosts: string[] | null) => t.client.call("PATCH", `${secrets(t)}/${key}`, { allowedHosts });
  const metadata = (t: Tenant) => t.client.expect(200, t.client.get(`${secrets(t)}/${key}`));

  /** A refused PATCH: 403 in the error format, pointing at CreateSecret, and the secret as it was. */
  async function expectRefused(t: Tenant, allowedHosts: string[] | null, before: unknown) {
    const res = await patch(t, allowedHosts);
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ code: "AuthorizationError", message: expect.stringContaining("send the value again with CreateSecret") });
    expect(res.headers.get("x-amzn-errortype")).toBe("AuthorizationError");
    expect(await metadata(t)).toEqual(before);
    return res;
  }

  it("refuses an organization token's null, so a binding cannot be removed without the value", async () => {
    const t = await newTenant(admin);
    const before = await putSecret(t, key, VALUE, ["127.0.0.1"]);
    const res = await expectRefused(t, null, before);
    expect(res.body.message).toContain("unbind");
    // Still bound: a job toward another host is refused and sends nothing.
    const id = await scenario("unbind-refused");
    expectDenied(await callWithSecret(t, otherOrigin(), id), `localhost:${port()}`);
    expect(await seen(id)).toHaveLength(0);
  });

  it.each([
    ["another host", ["127.0.0.1", "*.example.com"], ["127.0.0.1", "evil.example.net"], "evil.example.net"],
    ["a host beside a wildcard's domain", ["*.example.com"], ["example.com"], "example.com"],
    ["a wider wildcard", ["*.api.example.com"], ["*.example.com"], "*.example.com"],
    ["a wildcard over an exact host", ["api.example.com"], ["*.api.example.com"], "*.api.example.com"],
    ["any port from one port", ["127.0.0.1:8443"], ["127.0.0.1"], "127.0.0.1"],
    ["another port", ["127.0.0.1:8443"], ["127.0.0.1:8444"], "127.0.0.1:8444"],
  ])("refuses widening to %s, and changes nothing", async (_label, current, wider, outside) => {
    const t = await newTenant(admin);
    const before = await putSecret(t, key, VALUE, current);
    const res = await expectRefused(t, wider, before);
    expect(res.body.message).toContain(`"${outside}" is not covered`);
  });

  it.each([
    ["to fewer patterns", ["127.0.0.1", "*.example.com"], ["127.0.0.1"]],
    ["to the same patterns", ["127.0.0.1", "*.example.com"], ["*.example.com", "127.0.0.1"]],
    ["to a host under a wildcard", ["*.example.com"], ["api.example.com", "a.b.example.com:443"]],
    ["to a deeper wildcard", ["*.example.com:443"], ["*.eu.example.com:443"]],
    ["to one port", ["127.0.0.1"], ["127.0.0.1:8443"]],
  ])("allows narrowing %s", async (_label, current, narrower) => {
    const t = await newTenant(admin);
    const before = await putSecret(t, key, VALUE, current);
    const res = await patch(t, narrower);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ key, allowedHosts: narrower, createdAt: before.createdAt });
    expect(await metadata(t)).toEqual(res.body);
  });

  it("narrows through a job: the host left out is refused from the next call", async () => {
    const t = await newTenant(admin);
    await putSecret(t, key, VALUE, ["127.0.0.1", "localhost"]);
    await bind(t, key, ["localhost"]);
    const id = await scenario("narrowed");
    expectDenied(await callWithSecret(t, fakeOrigin(), id), `127.0.0.1:${port()}`);
    expect(await seen(id)).toHaveLength(0);
  });

  it("allows binding an unbound secret to any hosts", async () => {
    const t = await newTenant(admin);
    await putSecret(t, key, VALUE);
    expect(await bind(t, key, ["localhost"])).toMatchObject({ key, allowedHosts: ["localhost"] });
    const id = await scenario("bound-by-patch");
    expectDenied(await callWithSecret(t, fakeOrigin(), id), `127.0.0.1:${port()}`);
    expect(await seen(id)).toHaveLength(0);
    // Once bound, the same token cannot take it back.
    await expectRefused(t, null, await metadata(t));
  });

  it("lets the admin token unbind or widen", async () => {
    const t = await newTenant(admin);
    await putSecret(t, key, VALUE, ["localhost"]);
    const path = `${secrets(t)}/${key}`;
    expect(await admin.expect(200, admin.call("PATCH", path, { allowedHosts: ["localhost", "127.0.0.1"] }))).toMatchObject({ allowedHosts: ["localhost", "127.0.0.1"] });
    const unbound = await admin.expect(200, admin.call("PATCH", path, { allowedHosts: null }));
    expect(unbound).not.toHaveProperty("allowedHosts");
    expect(await metadata(t)).toEqual(unbound);
    const id = await scenario("admin-unbound", [{ json: { ok: true } }]);
    expect((await callWithSecret(t, fakeOrigin(), id)).job.status).toBe("SUCCEEDED");
    expect((await seen(id))[0]!.headers.authorization).toBe(VALUE);
  });

  it("widens with the value re-sent: the new value is what a job sends, in the same request", async () => {
    const t = await newTenant(admin);
    await putSecret(t, key, VALUE, ["localhost"]);
    const NEW_VALUE = "sk_rotated_9e2c-wider";
    const widened = await putSecret(t, key, NEW_VALUE, ["localhost", "127.0.0.1"]);
    expect(widened).toMatchObject({ key, allowedHosts: ["localhost", "127.0.0.1"] });
    // No call in between: the one write replaced the value along with the binding.
    const read = await secretReader(env, { organizationId: t.orgId, jobId: "j", stepName: "s" })(key, `127.0.0.1:${port()}`);
    expect(read).toEqual({ ok: true, value: NEW_VALUE });
    const id = await scenario("widened", [{ json: { ok: true } }]);
    expect((await callWithSecret(t, fakeOrigin(), id)).job.status).toBe("SUCCEEDED");
    expect((await seen(id)).map((r) => r.headers.authorization)).toEqual([NEW_VALUE]);
    // Unbinding with the value re-sent is allowed the same way.
    expect(await putSecret(t, key, NEW_VALUE, null)).not.toHaveProperty("allowedHosts");
  });

  it("writes a narrowing only over the binding it checked", async () => {
    const t = await newTenant(admin);
    const before = await putSecret(t, key, VALUE, ["127.0.0.1", "localhost"]);
    // Stands for a write landing between the route's check and its update: the update does not apply.
    await env.DB.prepare(`UPDATE organization_secrets SET allowed_hosts = ? WHERE organization_id = ? AND key = ?`)
      .bind(JSON.stringify(["localhost"]), t.orgId, key)
      .run();
    await expect(
      updateOrganizationSecretMetadata(env.DB, t.orgId, key, { allowedHosts: ["127.0.0.1"] }, Date.now(), { ifAllowedHosts: before.allowedHosts }),
    ).rejects.toMatchObject({ code: "ConflictError" });
    expect((await metadata(t)).allowedHosts).toEqual(["localhost"]);
  });
});

describe("HTTP headers from bound secrets", () => {
  it("refuses a secret bound to one host toward another: nothing sent, no retry, until the binding allows it", async () => {
    const t = await newTenant(admin);
    await putSecret(t, "API_TOKEN", VALUE, ["localhost"]);
    const id = await scenario("bound-elsewhere", [{ json: { charged: true } }]);
    expectDenied(await callWithSecret(t, fakeOrigin(), id), `127.0.0.1:${port()}`);
    expect(await seen(id)).toHaveLength(0);

    // Bound to this host, the very same call goes through: the refusal above was the binding's.
    await putSecret(t, "API_TOKEN", VALUE, ["localhost", "127.0.0.1"]);
    expect((await callWithSecret(t, fakeOrigin(), id)).job).toMatchObject({ status: "SUCCEEDED", output: { charged: true } });
    const requests = await seen(id);
    expect(requests).toHaveLength(1);
    expect(requests[0]!.headers.authorization).toBe(VALUE);
  });

  it("refuses the call when any one of its secret headers is bound elsewhere", async () => {
    const t = await newTenant(admin);
    await putSecret(t, "OPEN", "open-value");
    await putSecret(t, "API_TOKEN", VALUE, ["127.0.0.1"]);
    const id = await scenario("one-of-two");
    const result = await runStep(t, http, { url: `${otherOrigin()}/s/${id}`, headers: { "x-open": { secret: "OPEN" }, authorization: { secret: "API_TOKEN" } } });
    expectDenied(result, `localhost:${port()}`);
    expect(result.job.error.message).toContain('"API_TOKEN"');
    expect(await seen(id)).toHaveLength(0);
  });

  it("sends a secret to the host it is bound to, with or without the port", async () => {
    const t = await newTenant(admin);
    for (const pattern of [`127.0.0.1:${port()}`, "127.0.0.1"]) {
      await putSecret(t, "API_TOKEN", VALUE, [pattern]);
      const id = await scenario("bound-here", [{ json: { ok: pattern } }]);
      expect((await callWithSecret(t, fakeOrigin(), id)).job).toMatchObject({ status: "SUCCEEDED", output: { ok: pattern } });
      expect((await seen(id))[0]!.headers.authorization).toBe(VALUE);
    }
    // A pattern with a port matches that port only.
    await putSecret(t, "API_TOKEN", VALUE, [`127.0.0.1:${port() === 1 ? 2 : 1}`]);
    const id = await scenario("other-port");
    expectDenied(await callWithSecret(t, fakeOrigin(), id), `127.0.0.1:${port()}`);
    expect(await seen(id)).toHaveLength(0);
  });

  it("matches a wildcard on subdomains only", async () => {
    const t = await newTenant(admin);
    await putSecret(t, "API_TOKEN", VALUE, ["*.example.com"]);
    const read = secretReader(env, { organizationId: t.orgId, jobId: "j", stepName: "s" });
    for (const host of ["api.example.com:443", "a.b.example.com:8443"]) expect(await read("API_TOKEN", host)).toEqual({ ok: true, value: VALUE });
    for (const host of ["example.com:443", "evilexample.com:443", "example.com.evil.net:443"]) {
      expect(await read("API_TOKEN", host)).toMatchObject({ ok: false, retryable: false, error: { code: "SECRET_HOST_DENIED" } });
    }
    // And through a job: loopback is no subdomain of example.com.
    const id = await scenario("wildcard");
    expectDenied(await callWithSecret(t, fakeOrigin(), id), `127.0.0.1:${port()}`);
    expect(await seen(id)).toHaveLength(0);
    // Nothing bound leaves first-use records behind.
    expect(await unboundUses(t.orgId)).toEqual([]);
  });
});

describe("unbound secrets", () => {
  it("keep working, and their first use toward each host is recorded and logged once", async () => {
    const t = await newTenant(admin);
    await putSecret(t, "API_TOKEN", VALUE);
    const logged: string[] = [];
    const log = console.log.bind(console);
    vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
      logged.push(args.map(String).join(" "));
      log(...args);
    });
    const id = await scenario("unbound", [{ json: { ok: true } }]);
    const first = await callWithSecret(t, fakeOrigin(), id);
    const second = await callWithSecret(t, fakeOrigin(), id);
    for (const { job } of [first, second]) expect(job.status).toBe("SUCCEEDED");
    expect((await seen(id)).map((r) => r.headers.authorization)).toEqual([VALUE, VALUE]);
    expect(await unboundUses(t.orgId)).toEqual([{ key: "API_TOKEN", host: `127.0.0.1:${port()}`, job_id: first.jobId, step_name: "call" }]);

    // Another host is another first use.
    const third = await callWithSecret(t, otherOrigin(), id);
    expect(third.job.status).toBe("SUCCEEDED");
    expect((await unboundUses(t.orgId)).map((u) => [u.host, u.job_id])).toEqual([
      [`127.0.0.1:${port()}`, first.jobId],
      [`localhost:${port()}`, third.jobId],
    ]);

    const lines = logged.flatMap((l) => l.split("\n")).filter((l) => l.includes('"secret.unboundUse"') && l.includes(t.orgId));
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      expect.objectContaining({ event: "secret.unboundUse", organizationId: t.orgId, secretKey: "API_TOKEN", host: `127.0.0.1:${port()}`, jobId: first.jobId }),
      expect.objectContaining({ event: "secret.unboundUse", organizationId: t.orgId, secretKey: "API_TOKEN", host: `localhost:${port()}`, jobId: third.jobId }),
    ]);
    expect(lines.join("\n")).not.toContain(VALUE);
  });

  it("record once across isolates, and lose their records with the secret", async () => {
    const t = await newTenant(admin);
    await putSecret(t, "API_TOKEN", VALUE);
    // Two readers stand for two isolates racing on a first use: the D1 row decides.
    const use = { organizationId: t.orgId, jobId: "job-1", stepName: "s" };
    const reads = await Promise.all([secretReader(env, use)("API_TOKEN", "api.example.com:443"), secretReader(env, { ...use, jobId: "job-2" })("API_TOKEN", "api.example.com:443")]);
    expect(reads).toEqual([{ ok: true, value: VALUE }, { ok: true, value: VALUE }]);
    expect(await unboundUses(t.orgId)).toHaveLength(1);
    await t.client.expect(200, t.client.delete(`${secrets(t)}/API_TOKEN`));
    expect(await unboundUses(t.orgId)).toEqual([]);
  });
});

describe("credentials bound to hosts", () => {
  const AWS = { AWS_ACCESS_KEY_ID: "AKIDBOUNDTEST", AWS_SECRET_ACCESS_KEY: VALUE, AWS_SESSION_TOKEN: "bound-session-token" };
  const lambdaConfig = (fn: string, endpoint = fakeOrigin()) => ({ region: "eu-west-1", accountId: "123456789012", functionName: fn, endpoint });

  it("Lambda: every credential must be allowed at the invoke endpoint's host", async () => {
    const t = await newTenant(admin);
    for (const [key, value] of Object.entries(AWS)) await putSecret(t, key, value, ["127.0.0.1"]);
    const fn = await scenario("bound-fn", [{ json: { done: true } }]);

    // The endpoint at another host: the credentials are not sent there, nor signed for it.
    expectDenied(await runStep(t, lambda, lambdaConfig(fn, otherOrigin())), `localhost:${port()}`);
    // The session token travels in a header too: bound elsewhere, it stops the call alone.
    await putSecret(t, "AWS_SESSION_TOKEN", AWS.AWS_SESSION_TOKEN, ["sts.amazonaws.com"]);
    const denied = await runStep(t, lambda, lambdaConfig(fn));
    expectDenied(denied, `127.0.0.1:${port()}`);
    expect(denied.job.error.message).toContain('"AWS_SESSION_TOKEN"');
    expect(await seen(fn)).toHaveLength(0);

    await putSecret(t, "AWS_SESSION_TOKEN", AWS.AWS_SESSION_TOKEN, [`127.0.0.1:${port()}`]);
    expect((await runStep(t, lambda, lambdaConfig(fn))).job).toMatchObject({ status: "SUCCEEDED", output: { done: true } });
    const [req] = await seen(fn);
    expect(req!.headers.authorization).toContain("Credential=AKIDBOUNDTEST/");
    expect(req!.headers["x-amz-security-token"]).toBe("bound-session-token");
  });

  function serviceAccountKey() {
    const key = inject("gcpKey");
    return JSON.stringify({ type: "service_account", private_key_id: key.privateKeyId, private_key: key.privateKeyPem, client_email: key.clientEmail });
  }
  const gcpConfig = (fnId: string, tokenEndpoint: string, fnOrigin = fakeOrigin()) => ({
    region: "europe-west1",
    projectId: "canopy-test",
    functionName: "resize",
    endpoint: `${fnOrigin}/fn/${fnId}`,
    tokenEndpoint,
  });

  it("Cloud Functions: the key must be allowed at the token endpoint and at the function, checked before either is called", async () => {
    const t = await newTenant(admin);
    const tokenId = await scenario("bound-token");
    const fnId = await scenario("bound-gcp-fn", [{ json: { resized: true } }]);

    // Allowed at the function, not at the token endpoint (where the signed assertion would go).
    await putSecret(t, "GCP_SERVICE_ACCOUNT_KEY", serviceAccountKey(), [`127.0.0.1:${port()}`]);
    const atToken = await runStep(t, gcp, gcpConfig(fnId, `${otherOrigin()}/token/${tokenId}`));
    expectDenied(atToken, `localhost:${port()}`);
    // Allowed at the token endpoint, not at the function (where the ID token would go): the token
    // endpoint is not asked either.
    await putSecret(t, "GCP_SERVICE_ACCOUNT_KEY", serviceAccountKey(), ["localhost"]);
    const atFunction = await runStep(t, gcp, gcpConfig(fnId, `${otherOrigin()}/token/${tokenId}`));
    expectDenied(atFunction, `127.0.0.1:${port()}`);
    expect(await seen(tokenId)).toHaveLength(0);
    expect(await seen(fnId)).toHaveLength(0);
    expect(JSON.stringify([atToken, atFunction])).not.toContain("PRIVATE KEY");

    await putSecret(t, "GCP_SERVICE_ACCOUNT_KEY", serviceAccountKey(), ["127.0.0.1"]);
    expect((await runStep(t, gcp, gcpConfig(fnId, `${fakeOrigin()}/token/${tokenId}`))).job).toMatchObject({ status: "SUCCEEDED", output: { resized: true } });
    expect(await seen(tokenId)).toHaveLength(1);
    expect(await seen(fnId)).toHaveLength(1);
  });
});
