/**
 * `/canopy/http`: calls an HTTP endpoint with the step input as the JSON body (GET and DELETE send
 * none). The JSON response is the output. Network errors, 5xx and 429 are retryable (honouring
 * Retry-After); any other 4xx fails the step without retry (see http-result.ts).
 */
import type { HttpConfig } from "../definition/executor-configs";
import { destinationHost } from "../host-patterns";
import { callResult, egressRefused, exchange, secretMissing } from "./http-result";
import type { CallContext, CallResult, Executor } from "./types";

/**
 * Header values, with `{secret}` references read from the organization's secrets at call time for
 * `host`, the host the headers are sent to: a secret not allowed there fails the call here.
 */
async function resolveHeaders(
  ctx: CallContext<HttpConfig>,
  host: string,
): Promise<{ ok: true; headers: Record<string, string>; secrets: string[] } | Extract<CallResult, { ok: false }>> {
  const headers: Record<string, string> = {};
  const secrets: string[] = [];
  for (const [name, value] of Object.entries(ctx.config.headers ?? {})) {
    if (typeof value === "string") {
      headers[name] = value;
      continue;
    }
    const secret = await ctx.secrets(value.secret, host);
    if (!secret.ok) return secret;
    if (secret.value === undefined) return secretMissing(value.secret);
    headers[name] = secret.value;
    secrets.push(secret.value);
  }
  return { ok: true, headers, secrets };
}

const BODYLESS = new Set(["GET", "HEAD", "DELETE"]);

/** The step's headers over the defaults: header names are case-insensitive, so `Accept` replaces `accept`. */
function withDefaults(defaults: Record<string, string>, own: Record<string, string>): Headers {
  const headers = new Headers({ accept: "application/json", ...defaults });
  for (const [name, value] of Object.entries(own)) headers.set(name, value);
  return headers;
}

export const httpExecutor: Executor<HttpConfig> = {
  type: "/canopy/http",
  start: () => ({ kind: "call" }),
  async call(ctx): Promise<CallResult> {
    const method = ctx.config.method ?? "POST";
    const label = `${method} ${ctx.config.url}`;
    const denied = await egressRefused(ctx.egress, label, ctx.config.url);
    if (denied) return denied;
    // Secret headers travel to the URL's host; all are checked before anything is sent.
    const resolved = await resolveHeaders(ctx, destinationHost(ctx.config.url));
    if (!resolved.ok) return resolved;
    const ex = await exchange(label, ctx.signal, () =>
      ctx.egress.fetch(ctx.config.url, {
        method,
        headers: withDefaults(BODYLESS.has(method) ? {} : { "content-type": "application/json" }, resolved.headers),
        ...(BODYLESS.has(method) ? {} : { body: JSON.stringify(ctx.input ?? null) }),
        signal: ctx.signal,
      }),
    );
    return callResult(label, ex, { secrets: resolved.secrets });
  },
};
