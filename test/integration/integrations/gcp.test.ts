import { describe, expect, it } from "vitest";
import { inject } from "vitest";
import { deployWorkflow, newTenant, type TestClient } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import { fakeOrigin, scenario, seen } from "./fake";

const gcp = "/justworkflowit/gcp/cloudfunction";

/** A service-account key JSON as Google issues it, around the RSA key the fake token endpoint trusts. */
function serviceAccountKey(tokenUri = "https://oauth2.googleapis.com/token", privateKeyPem = inject("gcpKey").privateKeyPem) {
  const key = inject("gcpKey");
  return JSON.stringify({
    type: "service_account",
    project_id: "canopy-test",
    private_key_id: key.privateKeyId,
    private_key: privateKeyPem,
    client_email: key.clientEmail,
    client_id: "1234567890",
    token_uri: tokenUri,
  });
}

/** A PKCS#8 PEM of a fresh RSA key the fake token endpoint has never seen. */
async function strangerPem(): Promise<string> {
  const pair = (await crypto.subtle.generateKey(
    { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
    true,
    ["sign", "verify"],
  )) as CryptoKeyPair;
  const der = new Uint8Array((await crypto.subtle.exportKey("pkcs8", pair.privateKey)) as ArrayBuffer);
  const b64 = btoa(String.fromCharCode(...der)).replace(/(.{64})/g, "$1\n");
  return `-----BEGIN PRIVATE KEY-----\n${b64}\n-----END PRIVATE KEY-----\n`;
}

async function tenantWithKey(keyJson: string) {
  const t = await newTenant(admin);
  await t.client.expect(200, t.client.post(`/organizations/${t.orgId}/secrets`, { key: "GCP_SERVICE_ACCOUNT_KEY", value: keyJson }));
  return t;
}

async function run(t: { client: TestClient; orgId: string }, steps: unknown[], input: unknown = { image: "cat.png" }) {
  const { workflowId } = await deployWorkflow(t.client, t.orgId, workflow("resize", steps));
  const jobId = await submit(t.client, t.orgId, { workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: input });
  const { job } = await waitForJob(t.client, t.orgId, jobId);
  const { state } = await t.client.expect(200, t.client.get(`/organizations/${t.orgId}/jobs/${jobId}/state`));
  return { job, state };
}

const config = (fnId: string, extra: Record<string, unknown> = {}) => ({
  region: "europe-west1",
  projectId: "canopy-test",
  functionName: "resize",
  endpoint: `${fakeOrigin()}/fn/${fnId}`,
  ...extra,
});

describe("/justworkflowit/gcp/cloudfunction", () => {
  it("signs a JWT with the service-account key, calls the function with the ID token, and reuses the token", async () => {
    const tokenId = await scenario("token");
    const fnId = await scenario("fn"); // echoes its input
    const tokenEndpoint = `${fakeOrigin()}/token/${tokenId}`;
    const keyJson = serviceAccountKey();
    const t = await tenantWithKey(keyJson);
    const { job, state } = await run(t, [
      step("first", gcp, { config: config(fnId, { tokenEndpoint }) }, "second"),
      step("second", gcp, { config: config(fnId, { tokenEndpoint }) }),
    ]);
    expect(job).toMatchObject({ status: "SUCCEEDED", output: { image: "cat.png" } });

    const tokenRequests = await seen(tokenId);
    expect(tokenRequests).toHaveLength(1); // the second call used the cached token
    const [tokenReq] = tokenRequests;
    expect(tokenReq!.jwtProblems).toEqual([]); // RS256 signature verified with the public key, claims checked
    expect(tokenReq!.claims).toMatchObject({ iss: inject("gcpKey").clientEmail, aud: tokenEndpoint, target_audience: `${fakeOrigin()}/fn/${fnId}` });
    expect(tokenReq!.headers["content-type"]).toBe("application/x-www-form-urlencoded");

    const calls = await seen(fnId);
    expect(calls).toHaveLength(2);
    expect(calls.map((c) => JSON.parse(c.body))).toEqual([{ image: "cat.png" }, { image: "cat.png" }]);
    expect(calls[0]!.headers.authorization).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    expect(calls[1]!.headers.authorization).toBe(calls[0]!.headers.authorization);

    const text = JSON.stringify({ job, state });
    expect(text).not.toContain("PRIVATE KEY");
    expect(text).not.toContain(calls[0]!.headers.authorization!.slice("Bearer ".length));
  });

  it("uses the key's token_uri when the config names no token endpoint", async () => {
    const tokenId = await scenario("token-uri");
    const fnId = await scenario("fn-uri", [{ json: { resized: true } }]);
    const tokenUri = `${fakeOrigin()}/token/${tokenId}`;
    const t = await tenantWithKey(serviceAccountKey(tokenUri));
    const { job } = await run(t, [step("resize", gcp, { config: config(fnId) })]);
    expect(job).toMatchObject({ status: "SUCCEEDED", output: { resized: true } });
    const [tokenReq] = await seen(tokenId);
    expect(tokenReq).toMatchObject({ jwtProblems: [], claims: { aud: tokenUri } });
  });

  it("gives a cached token only to a holder of the key that obtained it", async () => {
    const tokenId = await scenario("token-shared");
    const fnId = await scenario("fn-shared");
    const tokenEndpoint = `${fakeOrigin()}/token/${tokenId}`;
    const steps = [step("resize", gcp, { retries: 2, retryPolicy: { initialIntervalSeconds: 0.05 }, config: config(fnId, { tokenEndpoint }) })];
    const owner = await tenantWithKey(serviceAccountKey());
    expect((await run(owner, steps)).job.status).toBe("SUCCEEDED");

    // Same client_email, same function, but a key Google would not accept: no token, no call.
    const impostor = await tenantWithKey(serviceAccountKey(undefined, await strangerPem()));
    const { job } = await run(impostor, steps);
    expect(job).toMatchObject({ status: "FAILED", error: { code: "HTTP_400" }, billableTransactionUnits: 1 });
    expect(job.error.message).toContain("invalid_grant");
    const tokenRequests = await seen(tokenId);
    expect(tokenRequests.map((r) => r.jwtProblems)).toEqual([[], ["signature"]]);
    expect(await seen(fnId)).toHaveLength(1);
  });

  it("retries a function that throws (500) under retries, and polls while it answers successful_but_incomplete", async () => {
    const tokenId = await scenario("token-poll");
    const fnId = await scenario("fn-poll", [
      { status: 500, body: "Error: could not handle the request" },
      { json: { status: "successful_but_incomplete", payload: { done: 1, of: 2 } } },
      { json: { resized: 2 } },
    ]);
    const t = await tenantWithKey(serviceAccountKey());
    const { job, state } = await run(t, [
      step("resize", gcp, { retries: 1, retryPolicy: { initialIntervalSeconds: 0.05 }, config: config(fnId, { tokenEndpoint: `${fakeOrigin()}/token/${tokenId}`, pollIntervalSeconds: 1 }) }),
    ]);
    expect(job).toMatchObject({ status: "SUCCEEDED", output: { resized: 2 }, billableTransactionUnits: 3 });
    expect(state.executionHistory.map((h: any) => h.output.status)).toEqual(["failure", "successful_but_incomplete", "success"]);
    expect(state.executionHistory[1].output.payload).toEqual({ done: 1, of: 2 });
    expect(await seen(fnId)).toHaveLength(3);
  });

  it("fails without retry when the secret is not a service-account key", async () => {
    const fnId = await scenario("fn-bad-key");
    const t = await tenantWithKey(JSON.stringify({ client_email: "x@y", private_key: "not a pem" }));
    const { job } = await run(t, [step("resize", gcp, { retries: 2, config: config(fnId) })]);
    expect(job).toMatchObject({ status: "FAILED", error: { code: "InvalidSecret" }, billableTransactionUnits: 1 });
    expect(await seen(fnId)).toHaveLength(0);
  });
});
