/**
 * `/justworkflowit/aws/lambda`: a synchronous Invoke (RequestResponse), signed with SigV4 by
 * aws4fetch, with credentials read from the organization's secrets at call time. The payload is the
 * step input plus `__jobContext`; the function's JSON result is the output. A function error
 * (`X-Amz-Function-Error`: the function threw) fails the attempt with the function's
 * `errorMessage`, and the step's `retries` retry it like any other failure, as JustWorkflowIt does
 * (its resilience test: a step that throws once succeeds on its second attempt). Throttling (429)
 * and 5xx retry too.
 */
import { AwsClient } from "aws4fetch";
import type { AwsLambdaConfig } from "../definition/executor-configs";
import { destinationHost } from "../host-patterns";
import { MAX_FUNCTION_ERROR_MESSAGE_CHARS } from "../limits";
import { egressRefused, exchange, httpFailure, jsonOutput, secretMissing, withResponse } from "./http-result";
import type { CallContext, CallResult, Executor } from "./types";

/** The organization secrets holding the AWS credentials. */
export const AWS_SECRET_KEYS = {
  accessKeyId: "AWS_ACCESS_KEY_ID",
  secretAccessKey: "AWS_SECRET_ACCESS_KEY",
  sessionToken: "AWS_SESSION_TOKEN",
} as const;

/** The AWS partition and DNS suffix of a region: China and GovCloud live apart from the rest. */
function partitionOf(region: string): { partition: string; dnsSuffix: string } {
  if (region.startsWith("cn-")) return { partition: "aws-cn", dnsSuffix: "amazonaws.com.cn" };
  if (region.startsWith("us-gov-")) return { partition: "aws-us-gov", dnsSuffix: "amazonaws.com" };
  return { partition: "aws", dnsSuffix: "amazonaws.com" };
}

/** The function's ARN: naming the account makes the call go to that account's function, not a same-named one. */
export function functionArn(config: AwsLambdaConfig): string {
  if (config.functionName.startsWith("arn:")) return config.functionName;
  return `arn:${partitionOf(config.region).partition}:lambda:${config.region}:${config.accountId}:function:${config.functionName}`;
}

/** The Invoke URL: `POST /2015-03-31/functions/{name}/invocations[?Qualifier=]`, at `endpoint` when given. */
export function invokeUrl(config: AwsLambdaConfig): string {
  const base = (config.endpoint ?? `https://lambda.${config.region}.${partitionOf(config.region).dnsSuffix}`).replace(/\/+$/, "");
  const url = new URL(`${base}/2015-03-31/functions/${encodeURIComponent(functionArn(config))}/invocations`);
  if (config.qualifier !== undefined) url.searchParams.set("Qualifier", config.qualifier);
  return url.toString();
}

/** The event the function receives: the input's fields plus `__jobContext` (a non-object input goes under `input`). */
export function lambdaPayload(input: unknown, jobId: string, organizationId: string): Record<string, unknown> {
  const __jobContext = { jobId, organizationId };
  const isObject = input !== null && typeof input === "object" && !Array.isArray(input);
  return isObject ? { ...(input as Record<string, unknown>), __jobContext } : { input: input ?? null, __jobContext };
}

type Credentials = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };

/**
 * The AWS credentials, read for `host`, the invoke endpoint's: it receives the access key id and
 * session token in headers, and a signature made with the secret access key.
 */
async function credentials(
  ctx: CallContext<AwsLambdaConfig>,
  host: string,
): Promise<{ ok: true; value: Credentials } | Extract<CallResult, { ok: false }>> {
  const [id, key, session] = await Promise.all([
    ctx.secrets(AWS_SECRET_KEYS.accessKeyId, host),
    ctx.secrets(AWS_SECRET_KEYS.secretAccessKey, host),
    ctx.secrets(AWS_SECRET_KEYS.sessionToken, host),
  ]);
  if (!id.ok) return id;
  if (!key.ok) return key;
  if (!session.ok) return session;
  const [accessKeyId, secretAccessKey, sessionToken] = [id.value, key.value, session.value];
  if (accessKeyId === undefined) return secretMissing(AWS_SECRET_KEYS.accessKeyId);
  if (secretAccessKey === undefined) return secretMissing(AWS_SECRET_KEYS.secretAccessKey);
  return { ok: true, value: { accessKeyId, secretAccessKey, ...(sessionToken !== undefined ? { sessionToken } : {}) } };
}

/** The attempt's failure for a function that ran and raised (`{errorMessage, errorType}` in the body): retryable. */
function functionFailure(kind: string, text: string): CallResult {
  let message = text;
  try {
    const body = JSON.parse(text) as { errorMessage?: unknown };
    if (typeof body?.errorMessage === "string") message = body.errorMessage;
  } catch {
    /* not JSON: the raw body is the best message there is */
  }
  const error = { code: "FunctionError", message: (message || `The function failed (${kind}).`).slice(0, MAX_FUNCTION_ERROR_MESSAGE_CHARS) };
  return { ok: false, retryable: true, error };
}

export const awsLambdaExecutor: Executor<AwsLambdaConfig> = {
  type: "/justworkflowit/aws/lambda",
  start: () => ({ kind: "call" }),
  async call(ctx): Promise<CallResult> {
    const url = invokeUrl(ctx.config);
    const label = `Lambda ${functionArn(ctx.config)}${ctx.config.qualifier !== undefined ? `:${ctx.config.qualifier}` : ""}`;
    // The endpoint is checked before any credential is read or anything signed.
    const denied = await egressRefused(ctx.egress, label, url);
    if (denied) return denied;
    const creds = await credentials(ctx, destinationHost(url));
    if (!creds.ok) return creds;
    const client = new AwsClient({ ...creds.value, service: "lambda", region: ctx.config.region });
    const body = JSON.stringify(lambdaPayload(ctx.input, ctx.jobId, ctx.organizationId));
    const ex = await exchange(label, ctx.signal, async () => {
      // aws4fetch signs; the egress policy sends. (client.fetch would use the global fetch, around the
      // policy, and retry 5xx/429 in memory, where retries belong to the engine's durable backoff.)
      const signed = await client.sign(url, { method: "POST", headers: { "content-type": "application/json", "x-amz-invocation-type": "RequestResponse" }, body });
      return ctx.egress.fetch(signed.url, { method: "POST", headers: signed.headers, body, signal: ctx.signal });
    });
    if (!ex.ok) return ex.failure;
    const secrets = [creds.value.accessKeyId, creds.value.secretAccessKey, creds.value.sessionToken ?? ""];
    if (!ex.res.ok) return httpFailure(label, ex.res, ex.text, secrets);
    const functionError = ex.res.headers.get("x-amz-function-error");
    const result = functionError ? functionFailure(functionError, ex.text) : jsonOutput(label, ex.text, null, secrets);
    return withResponse(result, ex.res.status, ex.text);
  },
};
