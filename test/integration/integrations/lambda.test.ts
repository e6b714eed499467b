import { describe, expect, it } from "vitest";
import { deployWorkflow, newTenant, type TestClient } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import { fakeOrigin, scenario, seen, type Reply, type SeenRequest } from "./fake";
import { AUTHORIZATION_FORM, expectedSignature, parseAuthorization } from "./sigv4";

const lambda = "/justworkflowit/aws/lambda";
const CREDENTIALS = {
  AWS_ACCESS_KEY_ID: "AKIDCANOPYTEST",
  AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYCANOPYKEY",
  AWS_SESSION_TOKEN: "FwoGZXIvYXdzEcanopy-session-token//+=",
};

async function tenantWithCredentials(credentials: Record<string, string> = CREDENTIALS) {
  const t = await newTenant(admin);
  for (const [key, value] of Object.entries(credentials)) {
    await t.client.expect(200, t.client.post(`/organizations/${t.orgId}/secrets`, { key, value }));
  }
  return t;
}

async function runLambda(
  t: { client: TestClient; orgId: string },
  functionName: string,
  extra: { config?: Record<string, unknown>; step?: Record<string, unknown>; input?: unknown } = {},
) {
  const config = { region: "eu-west-1", accountId: "123456789012", functionName, endpoint: fakeOrigin(), ...extra.config };
  const { workflowId } = await deployWorkflow(t.client, t.orgId, workflow("invoke", [step("invoke", lambda, { ...extra.step, config })]));
  const jobId = await submit(t.client, t.orgId, { workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: extra.input ?? { orderId: 7 } });
  const { job } = await waitForJob(t.client, t.orgId, jobId);
  const { state } = await t.client.expect(200, t.client.get(`/organizations/${t.orgId}/jobs/${jobId}/state`));
  return { job, state, jobId };
}

describe("the SigV4 check used by these tests", () => {
  // AWS's published Signature V4 test suite, cases get-vanilla and post-vanilla.
  it.each([
    ["GET", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"],
    ["POST", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"],
  ])("reproduces AWS's own %s test vector", (method, signature) => {
    const req: SeenRequest = {
      at: 0,
      method,
      url: "/",
      body: "",
      headers: {
        host: "example.amazonaws.com",
        "x-amz-date": "20150830T123600Z",
        authorization: `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=${signature}`,
      },
    };
    expect(expectedSignature(req, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")).toBe(signature);
  });
});

describe("/justworkflowit/aws/lambda", () => {
  it("invokes the function with a valid SigV4 signature, the Qualifier and __jobContext in the payload", async () => {
    const t = await tenantWithCredentials();
    const fn = await scenario("orders-fn", [{ json: { approved: true, total: 12.5 } }]);
    const { job, state, jobId } = await runLambda(t, fn, { config: { qualifier: "live" } });
    expect(job).toMatchObject({ status: "SUCCEEDED", output: { approved: true, total: 12.5 } });

    const requests = await seen(fn);
    expect(requests).toHaveLength(1);
    const req = requests[0]!;
    expect(req.method).toBe("POST");
    expect(req.url).toBe(`/2015-03-31/functions/${encodeURIComponent(`arn:aws:lambda:eu-west-1:123456789012:function:${fn}`)}/invocations?Qualifier=live`);
    expect(JSON.parse(req.body)).toEqual({ orderId: 7, __jobContext: { jobId, organizationId: t.orgId } });
    expect(req.headers["x-amz-invocation-type"]).toBe("RequestResponse");

    expect(req.headers.authorization).toMatch(AUTHORIZATION_FORM);
    const auth = parseAuthorization(req.headers.authorization)!;
    expect(auth).toMatchObject({ accessKeyId: "AKIDCANOPYTEST", region: "eu-west-1", service: "lambda" });
    expect(auth.date).toBe(req.headers["x-amz-date"]!.slice(0, 8));
    expect(auth.signedHeaders).toEqual(expect.arrayContaining(["host", "x-amz-date", "x-amz-security-token"]));
    expect(req.headers["x-amz-security-token"]).toBe(CREDENTIALS.AWS_SESSION_TOKEN);
    expect(auth.signature).toBe(expectedSignature(req, CREDENTIALS.AWS_SECRET_ACCESS_KEY));
    // The check is not vacuous: another key, or a changed body, gives another signature.
    expect(auth.signature).not.toBe(expectedSignature(req, `${CREDENTIALS.AWS_SECRET_ACCESS_KEY}x`));
    expect(auth.signature).not.toBe(expectedSignature({ ...req, body: req.body.replace("7", "8") }, CREDENTIALS.AWS_SECRET_ACCESS_KEY));

    const text = JSON.stringify({ job, state });
    for (const value of Object.values(CREDENTIALS)) expect(text).not.toContain(value);
  });

  it("signs without a session token when the organization has none", async () => {
    const { AWS_SESSION_TOKEN: _, ...longTerm } = CREDENTIALS;
    const t = await tenantWithCredentials(longTerm);
    const fn = await scenario("no-session-fn");
    const { job } = await runLambda(t, fn, { input: { n: 1 } });
    expect(job.status).toBe("SUCCEEDED");
    const [req] = await seen(fn);
    expect(req!.headers["x-amz-security-token"]).toBeUndefined();
    expect(req!.url).not.toContain("Qualifier");
    expect(parseAuthorization(req!.headers.authorization)!.signature).toBe(expectedSignature(req!, CREDENTIALS.AWS_SECRET_ACCESS_KEY));
  });

  it("retries a function error (X-Amz-Function-Error) under the step's retries, then fails with its errorMessage", async () => {
    const t = await tenantWithCredentials();
    const error: Reply = {
      headers: { "x-amz-function-error": "Unhandled" },
      json: { errorMessage: "card 4242 was declined", errorType: "PaymentError", stackTrace: ["at charge (index.js:3)"] },
    };
    const fn = await scenario("failing-fn", [error]);
    const { job, state } = await runLambda(t, fn, { step: { retries: 2, retryPolicy: { initialIntervalSeconds: 0.05 } } });
    expect(job).toMatchObject({ status: "FAILED", error: { code: "FunctionError", message: "card 4242 was declined", stepName: "invoke" } });
    expect(await seen(fn)).toHaveLength(3);
    expect(state.executionHistory.map((h: any) => h.errors)).toEqual(Array(3).fill(["FunctionError: card 4242 was declined"]));
  });

  // JustWorkflowIt's resilience test (test/resilience.test.ts in its engine): a step with
  // `retries: 1` whose executor throws on the first attempt succeeds on the second.
  it("a function that throws once succeeds on its second attempt (retries: 1)", async () => {
    const t = await tenantWithCredentials();
    const fn = await scenario("flaky-fn", [
      { headers: { "x-amz-function-error": "Unhandled" }, json: { errorMessage: "Step execution failed on first attempt.", errorType: "Error" } },
      { json: { outputAPropertyKey: "anOutputProperty" } },
    ]);
    const { job, state } = await runLambda(t, fn, { step: { retries: 1, timeoutSeconds: 600, retryPolicy: { initialIntervalSeconds: 0.05 } } });
    expect(job).toMatchObject({ status: "SUCCEEDED", output: { outputAPropertyKey: "anOutputProperty" }, billableTransactionUnits: 2 });
    expect(await seen(fn)).toHaveLength(2);
    expect(state.executionHistory.map((h: any) => h.output.status)).toEqual(["failure", "success"]);
    expect(state.executionHistory[0].errors).toEqual(["FunctionError: Step execution failed on first attempt."]);
    expect(state.executionData.invokeOutput).toEqual({ outputAPropertyKey: "anOutputProperty" });
  });

  it("polls a function that answers successful_but_incomplete, at the config's pollIntervalSeconds, using no retries", async () => {
    const t = await tenantWithCredentials();
    const fn = await scenario("polling-fn", [
      { json: { status: "successful_but_incomplete", payload: { state: "RUNNING" } } },
      { json: { status: "successful_but_incomplete", payload: { state: "RUNNING" } } },
      { json: { state: "DONE", rows: 3 } },
    ]);
    const { job, state } = await runLambda(t, fn, { config: { pollIntervalSeconds: 1 } });
    expect(job).toMatchObject({ status: "SUCCEEDED", output: { state: "DONE", rows: 3 }, billableTransactionUnits: 3 });
    expect(state.executionHistory.map((h: any) => h.output.status)).toEqual(["successful_but_incomplete", "successful_but_incomplete", "success"]);
    const requests = await seen(fn);
    expect(requests).toHaveLength(3);
    // Each poll is a new invocation, signed afresh, with the same input.
    for (const req of requests) expect(JSON.parse(req.body)).toMatchObject({ orderId: 7 });
  });

  it("retries throttling and service errors, then returns the function's result", async () => {
    const t = await tenantWithCredentials();
    const fn = await scenario("throttled-fn", [
      { status: 429, json: { Type: "User", message: "Rate exceeded" }, headers: { "x-amzn-errortype": "TooManyRequestsException" } },
      { status: 500, json: { Type: "Service", message: "ServiceException" } },
      { json: [1, 2, 3] },
    ]);
    const { job, state } = await runLambda(t, fn, { step: { retries: 2, retryPolicy: { initialIntervalSeconds: 0.05 } } });
    expect(job).toMatchObject({ status: "SUCCEEDED", output: [1, 2, 3], billableTransactionUnits: 3 });
    expect(await seen(fn)).toHaveLength(3);
    expect(state.executionHistory.map((h: any) => h.errors[0]?.split(":")[0])).toEqual(["HTTP_429", "HTTP_500", undefined]);
    expect(state.executionHistory[0].errors[0]).toContain("Rate exceeded");
  });

  it("fails without retry on a 4xx from Lambda, such as an unknown function", async () => {
    const t = await tenantWithCredentials();
    const fn = await scenario("missing-fn", [{ status: 404, json: { Type: "User", message: "Function not found: missing-fn" } }]);
    const { job } = await runLambda(t, fn, { step: { retries: 3 } });
    expect(job).toMatchObject({ status: "FAILED", error: { code: "HTTP_404" } });
    expect(job.error.message).toContain("Function not found");
    expect(await seen(fn)).toHaveLength(1);
  });

  it("fails without calling AWS when the credentials are not organization secrets", async () => {
    const t = await newTenant(admin);
    const fn = await scenario("no-creds-fn");
    const { job } = await runLambda(t, fn, { step: { retries: 2 } });
    expect(job).toMatchObject({ status: "FAILED", error: { code: "SecretNotFound" } });
    expect(job.error.message).toContain("AWS_ACCESS_KEY_ID");
    expect(await seen(fn)).toHaveLength(0);
  });
});
