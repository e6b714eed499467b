import { describe, expect, it } from "vitest";
import { functionArn, invokeUrl, lambdaPayload } from "../../../src/executors/aws-lambda";
import { functionUrl } from "../../../src/executors/gcp-cloud-function";
import { redact } from "../../../src/executors/call-facts";
import { retryAfterMs } from "../../../src/executors/http-result";

const lambda = { region: "eu-west-1", accountId: "123456789012", functionName: "orders" };

describe("where the executors call", () => {
  it.each([
    [lambda, "https://lambda.eu-west-1.amazonaws.com/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A123456789012%3Afunction%3Aorders/invocations"],
    [{ ...lambda, qualifier: "live" }, "https://lambda.eu-west-1.amazonaws.com/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A123456789012%3Afunction%3Aorders/invocations?Qualifier=live"],
    [{ ...lambda, region: "cn-north-1" }, "https://lambda.cn-north-1.amazonaws.com.cn/2015-03-31/functions/arn%3Aaws-cn%3Alambda%3Acn-north-1%3A123456789012%3Afunction%3Aorders/invocations"],
    [{ ...lambda, endpoint: "http://localhost:4566/" }, "http://localhost:4566/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A123456789012%3Afunction%3Aorders/invocations"],
  ])("invokes Lambda %j at %s", (config, url) => {
    expect(invokeUrl(config)).toBe(url);
  });

  it("keeps a function name that is already an ARN", () => {
    const arn = "arn:aws:lambda:us-east-1:210987654321:function:other:prod";
    expect(functionArn({ ...lambda, functionName: arn })).toBe(arn);
  });

  it("puts __jobContext beside the input's fields, or beside a non-object input", () => {
    expect(lambdaPayload({ a: 1 }, "j", "o")).toEqual({ a: 1, __jobContext: { jobId: "j", organizationId: "o" } });
    expect(lambdaPayload([1, 2], "j", "o")).toEqual({ input: [1, 2], __jobContext: { jobId: "j", organizationId: "o" } });
    expect(lambdaPayload(undefined, "j", "o")).toEqual({ input: null, __jobContext: { jobId: "j", organizationId: "o" } });
  });

  it("calls a Cloud Function at its default URL unless an endpoint is given", () => {
    const gcp = { region: "europe-west1", projectId: "acme", functionName: "resize" };
    expect(functionUrl(gcp)).toBe("https://europe-west1-acme.cloudfunctions.net/resize");
    expect(functionUrl({ ...gcp, endpoint: "https://resize-abc-ew.a.run.app" })).toBe("https://resize-abc-ew.a.run.app");
  });
});

describe("Retry-After and redaction", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  it.each([
    ["120", 120_000],
    ["0", 0],
    ["1.5", 1500],
    ["Thu, 01 Jan 2026 00:00:30 GMT", 30_000],
    ["Wed, 31 Dec 2025 23:00:00 GMT", 0],
    ["soon", undefined],
    ["", undefined],
    [null, undefined],
  ])("reads Retry-After %j as %j ms", (header, ms) => {
    expect(retryAfterMs(header, now)).toBe(ms);
  });

  it("replaces every occurrence of each secret", () => {
    expect(redact("a s3cr3t b s3cr3t", ["s3cr3t", ""])).toBe("a [secret] b [secret]");
  });
});
