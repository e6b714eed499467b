/**
 * `integrationDetails.secretBindings` (JustWorkflowIt's field) through real jobs against the fake
 * far end: a step reads its secret slots from the organization secrets it binds them to, and those
 * secrets' own `allowedHosts` still decide where they may go.
 */
import { describe, expect, inject, it } from "vitest";
import { deployWorkflow, newTenant, type TestClient } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import { fakeOrigin, scenario, seen } from "./fake";
import { expectedSignature, parseAuthorization } from "./sigv4";

const http = "/canopy/http";
const lambda = "/justworkflowit/aws/lambda";

type Tenant = { client: TestClient; orgId: string };

async function putSecret(t: Tenant, key: string, value: string, allowedHosts?: string[]) {
  await t.client.expect(200, t.client.post(`/organizations/${t.orgId}/secrets`, { key, value, ...(allowedHosts ? { allowedHosts } : {}) }));
}

async function run(t: Tenant, steps: unknown[]) {
  const { workflowId } = await deployWorkflow(t.client, t.orgId, workflow("bindings", steps));
  const jobId = await submit(t.client, t.orgId, { workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: { n: 1 } });
  const { job } = await waitForJob(t.client, t.orgId, jobId);
  const { state } = await t.client.expect(200, t.client.get(`/organizations/${t.orgId}/jobs/${jobId}/state`));
  return { job, state };
}

/** A step (from the `step` helper) with `integrationDetails.secretBindings`. */
function withBindings(s: ReturnType<typeof step>, secretBindings: Record<string, string>) {
  return { ...s, integrationDetails: { ...s.integrationDetails, secretBindings } };
}

const lambdaConfig = (fn: string) => ({ region: "eu-west-1", accountId: "123456789012", functionName: fn, endpoint: fakeOrigin() });

describe("secretBindings", () => {
  it("lets two Lambda steps of one workflow call with two accounts' keys", async () => {
    const t = await newTenant(admin);
    await putSecret(t, "AWS_ACCESS_KEY_ID", "AKIDDEFAULT");
    await putSecret(t, "AWS_SECRET_ACCESS_KEY", "default-secret-key");
    await putSecret(t, "BILLING_KEY_ID", "AKIDBILLING");
    await putSecret(t, "BILLING_SECRET", "billing-secret-key");
    const fn = await scenario("two-accounts", [{ json: { ok: true } }]);
    const { job } = await run(t, [
      step("plain", lambda, { config: lambdaConfig(fn) }, "billing"),
      withBindings(step("billing", lambda, { config: lambdaConfig(fn) }), { AWS_ACCESS_KEY_ID: "BILLING_KEY_ID", AWS_SECRET_ACCESS_KEY: "BILLING_SECRET" }),
    ]);
    expect(job.status).toBe("SUCCEEDED");
    const [plain, billing] = await seen(fn);
    expect(parseAuthorization(plain!.headers.authorization!)!.accessKeyId).toBe("AKIDDEFAULT");
    expect(parseAuthorization(plain!.headers.authorization!)!.signature).toBe(expectedSignature(plain!, "default-secret-key"));
    expect(parseAuthorization(billing!.headers.authorization!)!.accessKeyId).toBe("AKIDBILLING");
    expect(parseAuthorization(billing!.headers.authorization!)!.signature).toBe(expectedSignature(billing!, "billing-secret-key"));
  });

  it("sends an HTTP header slot from the bound secret, which the organization need not have under the slot's name", async () => {
    const t = await newTenant(admin);
    await putSecret(t, "PROD_API_TOKEN", "Bearer prod-token-1", [`127.0.0.1:${inject("fakePort")}`]);
    const id = await scenario("bound-header", [{ json: { ok: true } }]);
    const s = step("call", http, { config: { url: `${fakeOrigin()}/s/${id}`, headers: { authorization: { secret: "token" } } } });
    const { job, state } = await run(t, [withBindings(s, { token: "PROD_API_TOKEN" })]);
    expect(job.status).toBe("SUCCEEDED");
    const [req] = await seen(id);
    expect(req!.headers.authorization).toBe("Bearer prod-token-1");
    expect(JSON.stringify({ job, state })).not.toContain("prod-token-1");
  });

  it("still applies the bound secret's allowedHosts: nothing is sent to another host", async () => {
    const t = await newTenant(admin);
    await putSecret(t, "PROD_API_TOKEN", "Bearer prod-token-2", ["api.example.com"]);
    const id = await scenario("bound-denied", [{ json: { ok: true } }]);
    const s = step("call", http, { retries: 2, config: { url: `${fakeOrigin()}/s/${id}`, headers: { authorization: { secret: "token" } } } });
    const { job } = await run(t, [withBindings(s, { token: "PROD_API_TOKEN" })]);
    expect(job).toMatchObject({ status: "FAILED", error: { code: "SECRET_HOST_DENIED", stepName: "call" }, billableTransactionUnits: 1 });
    expect(job.error.message).toContain('Organization secret "PROD_API_TOKEN" may not be sent to 127.0.0.1');
    expect(await seen(id)).toHaveLength(0);
  });

  it("fails without retry, sending nothing, when the bound secret does not exist", async () => {
    const t = await newTenant(admin);
    await putSecret(t, "AWS_ACCESS_KEY_ID", "AKIDDEFAULT");
    await putSecret(t, "AWS_SECRET_ACCESS_KEY", "default-secret-key");
    const fn = await scenario("bound-missing", [{ json: { ok: true } }]);
    const s = step("call", lambda, { retries: 2, config: lambdaConfig(fn) });
    const { job } = await run(t, [withBindings(s, { AWS_SESSION_TOKEN: "ROLE_SESSION" })]);
    expect(job).toMatchObject({ status: "FAILED", error: { code: "SecretNotFound" }, billableTransactionUnits: 1 });
    expect(job.error.message).toBe('Organization secret "ROLE_SESSION" (bound to "AWS_SESSION_TOKEN" by secretBindings) does not exist.');
    expect(await seen(fn)).toHaveLength(0);
  });

  it("refuses at registration a binding of a slot the executor does not read", async () => {
    const t = await newTenant(admin);
    const s = step("call", http, { config: { url: "https://api.example.com/x", headers: { authorization: { secret: "token" } } } });
    const def = workflow("bad-bindings", [withBindings(s, { tokn: "PROD_API_TOKEN", token: "not a key!" })]);
    const { workflowId } = await t.client.expect(200, t.client.post(`/organizations/${t.orgId}/workflows`, { name: "bad-bindings" }));
    const res = await t.client.post(`/organizations/${t.orgId}/workflows/${workflowId}/versions`, { definition: JSON.stringify(def) });
    expect(res.status).toBe(400);
    const text = JSON.stringify(res.body);
    expect(text).toContain('executor \\"/canopy/http\\" has no secret slot \\"tokn\\" (it reads \\"token\\")');
    expect(text).toContain('\\"not a key!\\" is not an organization secret key');
  });
});
