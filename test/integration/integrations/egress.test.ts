/**
 * The egress policy and bounded responses, inside workerd against a real HTTP server (the fake far
 * end on 127.0.0.1, which logs every request it receives).
 *
 * The test bindings lift the address check (ALLOW_PRIVATE_EGRESS=true: the fake is on loopback),
 * so the deployed policy is exercised by handing the guarded fetch that policy directly, with the
 * real network underneath: whatever the check let through would reach the fake and show in its
 * log. Jobs exercise what the bindings leave in force: an organization's allowlist, redirects
 * checked hop by hop, and the response bounds.
 */
import { describe, expect, it } from "vitest";
import { EgressError, guardedFetch, type Transport } from "../../../src/egress/guarded-fetch";
import { egressPolicy } from "../../../src/egress/policy";
import { MAX_JSON_DEPTH, MAX_RESPONSE_BYTES } from "../../../src/limits";
import { deployWorkflow, newTenant, type TestClient } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import { fakeOrigin, scenario, seen, type Reply } from "./fake";

const deployed = egressPolicy({ ALLOW_PRIVATE_EGRESS: "false" }, null);
const local = egressPolicy({ ALLOW_PRIVATE_EGRESS: "true" }, null);
const port = () => new URL(fakeOrigin()).port;

const post = () => ({ method: "POST", headers: { "content-type": "application/json" }, body: '{"probe":true}', signal: AbortSignal.timeout(10_000) });

/**
 * Stands in for DNS: `public.example.com` is served by the fake far end, so a public https host can
 * be "allowed" and then redirect elsewhere. Every other URL goes to the real network as it is.
 */
const publicHost: Transport = (url, init) => {
  const u = new URL(url);
  return u.hostname === "public.example.com" ? fetch(`${fakeOrigin()}${u.pathname}${u.search}`, init) : fetch(url, init);
};

async function refused(p: Promise<unknown>): Promise<EgressError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(EgressError);
  return e as EgressError;
}

describe("the deployed policy, against a real server", () => {
  it.each([
    ["http://127.0.0.1:PORT", /loopback/],
    ["https://127.0.0.1:PORT", /loopback/],
    ["http://2130706433:PORT", /loopback/],
    ["http://0177.0.0.1:PORT", /loopback/],
    ["http://0x7f.1:PORT", /loopback/],
    ["http://127.1:PORT", /loopback/],
    ["http://127.0.0.1.:PORT", /loopback/],
    ["http://localhost:PORT", /localhost/],
    ["http://[::ffff:127.0.0.1]:PORT", /IPv4-mapped address of 127\.0\.0\.1/],
    ["http://[::ffff:7f00:1]:PORT", /IPv4-mapped address of 127\.0\.0\.1/],
    ["http://[::1]:PORT", /loopback/],
    ["http://0.0.0.0:PORT", /unspecified/],
  ])("refuses %s and sends nothing", async (origin, reason) => {
    const id = await scenario("egress-literal");
    const url = `${origin.replace("PORT", port())}/s/${id}/x`;
    const e = await refused(guardedFetch(url, post(), deployed));
    expect(e.code).toBe("EGRESS_DENIED");
    expect(e.message).toMatch(reason);
    expect(e.message).toMatch(/Nothing was sent\.$/);
    expect(await seen(id)).toEqual([]);
  });

  it("would have reached the server: the same spellings get through with ALLOW_PRIVATE_EGRESS=true", async () => {
    const spellings = ["127.0.0.1", "2130706433", "0177.0.0.1", "0x7f.1", "127.1", "127.0.0.1.", "localhost", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "0.0.0.0"];
    for (const origin of spellings.map((host) => `http://${host}:PORT`)) {
      const id = await scenario("egress-control");
      const res = await guardedFetch(`${origin.replace("PORT", port())}/s/${id}/x`, post(), local);
      expect([origin, res.status, await res.json()]).toEqual([origin, 200, { probe: true }]);
      expect(await seen(id)).toHaveLength(1);
    }
  });

  it("calls https only: plain http to a public host is refused, https to it goes through", async () => {
    const id = await scenario("egress-https", [{ json: { ok: true } }]);
    const e = await refused(guardedFetch(`http://public.example.com/s/${id}`, post(), deployed, publicHost));
    expect(e.message).toBe("Egress to public.example.com refused: plain http is refused: a deployed engine calls https only. Nothing was sent.");
    expect(await seen(id)).toEqual([]);
    const res = await guardedFetch(`https://public.example.com/s/${id}`, post(), deployed, publicHost);
    expect(await res.json()).toEqual({ ok: true });
    expect(await seen(id)).toHaveLength(1);
  });

  it.each([
    ["http://127.0.0.1:PORT/s/TARGET", /loopback/],
    ["http://[::ffff:127.0.0.1]:PORT/s/TARGET", /IPv4-mapped/],
    ["http://2130706433:PORT/s/TARGET", /loopback/],
    ["https://169.254.169.254/latest/meta-data/iam/security-credentials/", /cloud metadata/],
  ])("refuses a redirect from an allowed host to %s at the hop", async (location, reason) => {
    const target = await scenario("egress-hop-target");
    const start = await scenario("egress-hop-start", [{ status: 302, headers: { location: location.replace("PORT", port()).replace("TARGET", target) } }]);
    const e = await refused(guardedFetch(`https://public.example.com/s/${start}`, post(), deployed, publicHost));
    expect(e.message).toMatch(/\(a redirect from public\.example\.com\) refused/);
    expect(e.message).toMatch(reason);
    expect(await seen(start)).toHaveLength(1);
    expect(await seen(target)).toEqual([]);
  });
});

/** Deploys a one-step workflow and runs a job of it to the end. */
async function runStep(t: { client: TestClient; orgId: string }, type: string, stepExtra: Record<string, any>) {
  const { workflowId } = await deployWorkflow(t.client, t.orgId, workflow("egress", [step("call", type, { retries: 2, retryPolicy: { initialIntervalSeconds: 0.05 }, ...stepExtra })]));
  const jobId = await submit(t.client, t.orgId, { workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: { orderId: 42 } });
  const { job } = await waitForJob(t.client, t.orgId, jobId, undefined, 30_000);
  const { state } = await t.client.expect(200, t.client.get(`/organizations/${t.orgId}/jobs/${jobId}/state`));
  return { job, history: state.executionHistory as any[] };
}

async function tenantAllowing(allowedHosts: string[] | null) {
  const t = await newTenant(admin);
  await t.client.expect(200, t.client.put(`/organizations/${t.orgId}/egress-policy`, { allowedHosts }));
  return t;
}

const http = (url: string, extra: Record<string, unknown> = {}) => ({ config: { url, ...extra } });

describe("an organization's allowlist, through jobs", () => {
  it("fails the step with EGRESS_DENIED, once and without retry, and sends nothing to a host not on it", async () => {
    const id = await scenario("egress-allowlist");
    const t = await tenantAllowing(["api.example.com", "*.example.net"]);
    const { job, history } = await runStep(t, "/canopy/http", http(`${fakeOrigin()}/s/${id}`, { headers: { authorization: "Bearer not-for-you" } }));
    expect(job).toMatchObject({ status: "FAILED", error: { code: "EGRESS_DENIED", stepName: "call" }, billableTransactionUnits: 1 });
    expect(job.error.message).toBe(`POST ${fakeOrigin()}/s/${id}: Egress to 127.0.0.1 refused: it is not on the organization's egress allowlist. Nothing was sent.`);
    expect(history).toHaveLength(1);
    expect(await seen(id)).toEqual([]);
  });

  it("applies to the Lambda endpoint and to both Google calls", async () => {
    const fn = await scenario("egress-lambda");
    const token = await scenario("egress-token");
    const gfn = await scenario("egress-gcp");
    const t = await tenantAllowing(["lambda.eu-west-1.amazonaws.com"]);
    for (const [key, value] of Object.entries({ AWS_ACCESS_KEY_ID: "AKIDEGRESS", AWS_SECRET_ACCESS_KEY: "egress-secret", GCP_SERVICE_ACCOUNT_KEY: '{"client_email":"a@b.c","private_key":"x"}' })) {
      await t.client.expect(200, t.client.post(`/organizations/${t.orgId}/secrets`, { key, value }));
    }
    const lambda = await runStep(t, "/justworkflowit/aws/lambda", { config: { region: "eu-west-1", accountId: "123456789012", functionName: fn, endpoint: fakeOrigin() } });
    expect(lambda.job).toMatchObject({ status: "FAILED", error: { code: "EGRESS_DENIED" }, billableTransactionUnits: 1 });
    expect(lambda.job.error.message).toMatch(/^Lambda arn:aws:lambda:eu-west-1:123456789012:function:egress-lambda\S*: Egress to 127\.0\.0\.1 refused/);

    const gcp = { region: "europe-west1", projectId: "p", functionName: "f", endpoint: `${fakeOrigin()}/fn/${gfn}`, tokenEndpoint: `${fakeOrigin()}/token/${token}` };
    const google = await runStep(t, "/justworkflowit/gcp/cloudfunction", { config: gcp });
    expect(google.job).toMatchObject({ status: "FAILED", error: { code: "EGRESS_DENIED" }, billableTransactionUnits: 1 });
    expect(google.job.error.message).toMatch(/^Cloud Function http:\/\/127\.0\.0\.1:\d+\/fn\/\S+: Egress to 127\.0\.0\.1 refused/);

    // The function's host allowed, the token endpoint's not: Google is not asked for a token either.
    await t.client.expect(200, t.client.put(`/organizations/${t.orgId}/egress-policy`, { allowedHosts: ["127.0.0.1"] }));
    const tokenElsewhere = await runStep(t, "/justworkflowit/gcp/cloudfunction", { config: { ...gcp, tokenEndpoint: `http://localhost:${port()}/token/${token}` } });
    expect(tokenElsewhere.job).toMatchObject({ status: "FAILED", error: { code: "EGRESS_DENIED" } });
    expect(tokenElsewhere.job.error.message).toMatch(/^The token endpoint http:\/\/localhost:\d+\/token\/\S+: Egress to localhost refused: it is not on the organization's egress allowlist/);

    expect([await seen(fn), await seen(token), await seen(gfn)]).toEqual([[], [], []]);
  });

  it("checks every redirect hop: a hop to a host off the list fails the step, a hop on it is followed", async () => {
    const t = await tenantAllowing(["127.0.0.1"]);
    const target = await scenario("egress-redirect-target", [{ json: { via: "redirect" } }]);
    const offList = await scenario("egress-redirect-off", [{ status: 302, headers: { location: `http://localhost:${port()}/s/${target}` } }]);
    const denied = await runStep(t, "/canopy/http", http(`${fakeOrigin()}/s/${offList}`));
    expect(denied.job).toMatchObject({ status: "FAILED", error: { code: "EGRESS_DENIED" }, billableTransactionUnits: 1 });
    expect(denied.job.error.message).toMatch(/Egress to localhost \(a redirect from 127\.0\.0\.1:\d+\) refused: it is not on the organization's egress allowlist/);
    expect(await seen(offList)).toHaveLength(1);
    expect(await seen(target)).toEqual([]);

    const onList = await scenario("egress-redirect-on", [{ status: 303, headers: { location: `/s/${target}` } }]);
    const followed = await runStep(t, "/canopy/http", http(`${fakeOrigin()}/s/${onList}`));
    expect(followed.job).toMatchObject({ status: "SUCCEEDED", output: { via: "redirect" } });
    expect((await seen(target)).map((r) => [r.method, r.body])).toEqual([["GET", ""]]);
  });

  it("stops after 5 redirects with TOO_MANY_REDIRECTS", async () => {
    const t = await tenantAllowing(null);
    const loop = await scenario("egress-loop");
    await fetch(`${fakeOrigin()}/__scenario/${encodeURIComponent(loop)}`, { method: "PUT", body: JSON.stringify({ replies: [{ status: 307, headers: { location: `/s/${loop}` } }] }) });
    const { job } = await runStep(t, "/canopy/http", http(`${fakeOrigin()}/s/${loop}`));
    expect(job).toMatchObject({ status: "FAILED", error: { code: "TOO_MANY_REDIRECTS" }, billableTransactionUnits: 1 });
    expect(await seen(loop)).toHaveLength(6);
  });
});

describe("redirects to another origin, through jobs", () => {
  // The fake listens on 127.0.0.1; `localhost:<port>` is the same server under another origin, so
  // whatever a cross-origin hop carried would really arrive and show in the fake's log.
  const otherOrigin = () => `http://localhost:${port()}`;
  const TOKEN = "ghp_egress_redirect_never_leaves_0000";

  it("sends a {secret} header named User-Agent on a same-origin hop, and none of the step's headers to another origin", async () => {
    const t = await tenantAllowing(null);
    await t.client.expect(200, t.client.post(`/organizations/${t.orgId}/secrets`, { key: "GH_TOKEN", value: TOKEN, allowedHosts: [`127.0.0.1:${port()}`] }));
    const target = await scenario("egress-xo-target", [{ json: { reached: true } }]);
    const mid = await scenario("egress-xo-mid", [{ status: 302, headers: { location: `${otherOrigin()}/s/${target}` } }]);
    const start = await scenario("egress-xo-start", [{ status: 302, headers: { location: `/s/${mid}` } }]);
    const headers = { "User-Agent": { secret: "GH_TOKEN" }, accept: { secret: "GH_TOKEN" }, "x-trace": "tenant-chosen" };
    const { job } = await runStep(t, "/canopy/http", http(`${fakeOrigin()}/s/${start}`, { method: "GET", headers }));
    expect(job).toMatchObject({ status: "SUCCEEDED", output: { reached: true } });
    expect((await seen(mid)).map((r) => [r.headers["user-agent"], r.headers.accept, r.headers["x-trace"]])).toEqual([[TOKEN, TOKEN, "tenant-chosen"]]);
    const atTarget = await seen(target);
    expect(atTarget).toHaveLength(1);
    expect([atTarget[0]!.headers["user-agent"], atTarget[0]!.headers.accept, atTarget[0]!.headers["x-trace"]]).toEqual(["Canopy", "application/json", undefined]);
    expect(JSON.stringify(atTarget)).not.toContain(TOKEN);
  });

  it("fails the step with REDIRECT_REFUSED, once and without retry, when a 307 to another origin would re-send the body", async () => {
    const t = await tenantAllowing(null);
    const target = await scenario("egress-307-target");
    const start = await scenario("egress-307-start", [{ status: 307, headers: { location: `${otherOrigin()}/s/${target}` } }]);
    const { job, history } = await runStep(t, "/canopy/http", http(`${fakeOrigin()}/s/${start}`));
    expect(job).toMatchObject({ status: "FAILED", error: { code: "REDIRECT_REFUSED", stepName: "call" }, billableTransactionUnits: 1 });
    expect(job.error.message).toBe(
      `POST ${fakeOrigin()}/s/${start}: 127.0.0.1:${port()} answered 307, a redirect to localhost:${port()} (another origin) that would send the request body again; a body is never sent to another origin. Nothing was sent to localhost:${port()}.`,
    );
    expect(history).toHaveLength(1);
    expect((await seen(start)).map((r) => [r.method, r.body])).toEqual([["POST", '{"orderId":42}']]);
    expect(await seen(target)).toEqual([]);
  });

  it("refuses a 308 of the signed Lambda invocation to another origin", async () => {
    const t = await tenantAllowing(null);
    for (const [key, value] of Object.entries({ AWS_ACCESS_KEY_ID: "AKIDEGRESS", AWS_SECRET_ACCESS_KEY: "egress-secret" })) {
      await t.client.expect(200, t.client.post(`/organizations/${t.orgId}/secrets`, { key, value }));
    }
    const target = await scenario("egress-lambda-308-target");
    const fn = await scenario("egress-lambda-308", [{ status: 308, headers: { location: `${otherOrigin()}/s/${target}` } }]);
    const { job } = await runStep(t, "/justworkflowit/aws/lambda", { config: { region: "eu-west-1", accountId: "123456789012", functionName: fn, endpoint: fakeOrigin() } });
    expect(job).toMatchObject({ status: "FAILED", error: { code: "REDIRECT_REFUSED" }, billableTransactionUnits: 1 });
    expect(await seen(fn)).toHaveLength(1);
    expect(await seen(target)).toEqual([]);
  });

  it("still follows a same-origin 307 with the body and the step's headers", async () => {
    const t = await tenantAllowing(null);
    const target = await scenario("egress-307-same-target");
    const start = await scenario("egress-307-same", [{ status: 307, headers: { location: `/s/${target}` } }]);
    const { job } = await runStep(t, "/canopy/http", http(`${fakeOrigin()}/s/${start}`, { headers: { "x-trace": "tenant-chosen" } }));
    expect(job).toMatchObject({ status: "SUCCEEDED", output: { orderId: 42 } });
    expect((await seen(target)).map((r) => [r.method, r.body, r.headers["x-trace"]])).toEqual([["POST", '{"orderId":42}', "tenant-chosen"]]);
  });
});

describe("bounded responses, through jobs", () => {
  const big = "x".repeat(MAX_RESPONSE_BYTES);
  const nested = (depth: number) => "[".repeat(depth) + "]".repeat(depth);

  it.each<[string, Reply]>([
    ["declared by Content-Length", { body: JSON.stringify(big), headers: { "content-type": "application/json" } }],
    ["streamed without a length", { body: JSON.stringify(big), headers: { "content-type": "application/json", "transfer-encoding": "chunked" } }],
    ["in an error reply", { status: 500, body: big + big }],
  ])("fails the step with RESPONSE_TOO_LARGE, without retry, for a body over MAX_RESPONSE_BYTES %s", async (_label, reply) => {
    const id = await scenario("egress-big", [reply]);
    const { job, history } = await runStep(await tenantAllowing(null), "/canopy/http", http(`${fakeOrigin()}/s/${id}`));
    expect(job).toMatchObject({ status: "FAILED", error: { code: "RESPONSE_TOO_LARGE" }, billableTransactionUnits: 1 });
    expect(job.error.message).toMatch(new RegExp(`exceeds ${MAX_RESPONSE_BYTES} bytes`));
    expect(history).toHaveLength(1);
    expect(await seen(id)).toHaveLength(1);
  });

  it("fails the step with RESPONSE_TOO_DEEP for JSON nesting deeper than requests may, and takes it at the limit", async () => {
    const t = await tenantAllowing(null);
    const deep = await scenario("egress-deep", [{ body: nested(MAX_JSON_DEPTH + 1), headers: { "content-type": "application/json" } }]);
    const tooDeep = await runStep(t, "/canopy/http", http(`${fakeOrigin()}/s/${deep}`));
    expect(tooDeep.job).toMatchObject({ status: "FAILED", error: { code: "RESPONSE_TOO_DEEP" }, billableTransactionUnits: 1 });
    expect(tooDeep.job.error.message).toMatch(new RegExp(`nesting deeper than ${MAX_JSON_DEPTH} levels`));

    const atLimit = await scenario("egress-at-limit", [{ body: nested(MAX_JSON_DEPTH), headers: { "content-type": "application/json" } }]);
    const fine = await runStep(t, "/canopy/http", http(`${fakeOrigin()}/s/${atLimit}`));
    expect(fine.job.status).toBe("SUCCEEDED");
  });

  it("bounds the Lambda result too", async () => {
    const t = await tenantAllowing(null);
    for (const [key, value] of Object.entries({ AWS_ACCESS_KEY_ID: "AKIDEGRESS", AWS_SECRET_ACCESS_KEY: "egress-secret" })) {
      await t.client.expect(200, t.client.post(`/organizations/${t.orgId}/secrets`, { key, value }));
    }
    const fn = await scenario("egress-lambda-deep", [{ body: nested(MAX_JSON_DEPTH + 1), headers: { "content-type": "application/json" } }]);
    const { job } = await runStep(t, "/justworkflowit/aws/lambda", { config: { region: "eu-west-1", accountId: "123456789012", functionName: fn, endpoint: fakeOrigin() } });
    expect(job).toMatchObject({ status: "FAILED", error: { code: "RESPONSE_TOO_DEEP" } });
  });
});
