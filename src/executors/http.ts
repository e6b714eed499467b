/**
 * `/canopy/http`: calls an HTTP endpoint with the step input as the JSON body (GET and DELETE send
 * none). The JSON response is the output. Network errors, 5xx and 429 are retryable (honouring
 * Retry-After); any other 4xx fails the step without retry (see http-result.ts).
 */
import type { HttpConfig } from "../definition/executor-configs";
import { callResult, exchange, secretMissing } from "./http-result";
import type { CallContext, CallResult, Executor } from "./types";

/** Header values, with `{secret}` references read from the organization's secrets at call time. */
async function resolveHeaders(
  ctx: CallContext<HttpConfig>,
): Promise<{ ok: true; headers: Record<string, string>; secrets: string[] } | { ok: false; missing: string }> {
  const headers: Record<string, string> = {};
  const secrets: string[] = [];
  for (const [name, value] of Object.entries(ctx.config.headers ?? {})) {
    if (typeof value === "string") {
      headers[name] = value;
      continue;
    }
    const secret = await ctx.secrets(value.secret);
    if (secret === undefined) return { ok: false, missing: value.secret };
    headers[name] = secret;
    secrets.push(secret);
  }
  return { ok: true, headers, secrets };
}

const BODYLESS = new Set(["GET", "HEAD", "DELETE"]);

export const httpExecutor: Executor<HttpConfig> = {
  type: "/canopy/http",
  start: () => ({ kind: "call" }),
  async call(ctx): Promise<CallResult> {
    const method = ctx.config.method ?? "POST";
    const resolved = await resolveHeaders(ctx);
    if (!resolved.ok) return secretMissing(resolved.missing);
    const label = `${method} ${ctx.config.url}`;
    const ex = await exchange(label, ctx.signal, () =>
      fetch(ctx.config.url, {
        method,
        headers: { ...(BODYLESS.has(method) ? {} : { "content-type": "application/json" }), accept: "application/json", ...resolved.headers },
        ...(BODYLESS.has(method) ? {} : { body: JSON.stringify(ctx.input ?? null) }),
        signal: ctx.signal,
      }),
    );
    return callResult(label, ex, { secrets: resolved.secrets });
  },
};
