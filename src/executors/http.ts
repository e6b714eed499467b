/**
 * `/canopy/http`: calls an HTTP endpoint with the step input as the JSON body (GET sends none).
 * The JSON response is the output. Network errors, 5xx and 429 are retryable (honouring
 * Retry-After); any other 4xx fails the step without retry.
 */
import type { HttpConfig } from "../definition/executor-configs";
import type { CallContext, CallResult, Executor } from "./types";

/** How much of an error response body the history keeps. */
const BODY_EXCERPT_CHARS = 200;

/** Retry-After as milliseconds: delta-seconds or an HTTP date. */
export function retryAfterMs(header: string | null, now: number): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Header values, with `{secret}` references read from the organization's secrets at call time. */
async function resolveHeaders(ctx: CallContext<HttpConfig>): Promise<{ ok: true; headers: Record<string, string> } | { ok: false; missing: string }> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(ctx.config.headers ?? {})) {
    if (typeof value === "string") {
      headers[name] = value;
      continue;
    }
    const secret = await ctx.secrets(value.secret);
    if (secret === undefined) return { ok: false, missing: value.secret };
    headers[name] = secret;
  }
  return { ok: true, headers };
}

export const httpExecutor: Executor<HttpConfig> = {
  type: "/canopy/http",
  start: () => ({ kind: "call" }),
  async call(ctx): Promise<CallResult> {
    const method = (ctx.config.method ?? "POST").toUpperCase();
    const resolved = await resolveHeaders(ctx);
    if (!resolved.ok) {
      return { ok: false, retryable: false, error: { code: "SecretNotFound", message: `Organization secret "${resolved.missing}" does not exist.` } };
    }
    let res: Response;
    try {
      res = await fetch(ctx.config.url, {
        method,
        headers: { "content-type": "application/json", accept: "application/json", ...resolved.headers },
        ...(method === "GET" || method === "HEAD" ? {} : { body: JSON.stringify(ctx.input ?? null) }),
        signal: ctx.signal,
      });
    } catch (e) {
      if (ctx.signal.aborted) return { ok: false, retryable: true, error: { code: "TIMEOUT", message: "The HTTP call did not answer in time; it may still have run." } };
      return { ok: false, retryable: true, error: { code: "NetworkError", message: String((e as Error).message ?? e) } };
    }
    const text = await res.text();
    if (!res.ok) {
      const excerpt = text.slice(0, BODY_EXCERPT_CHARS);
      const error = { code: `HTTP_${res.status}`, message: `${method} ${ctx.config.url} answered ${res.status}: ${excerpt}` };
      const retryable = res.status >= 500 || res.status === 429;
      const after = retryable ? retryAfterMs(res.headers.get("retry-after"), Date.now()) : undefined;
      return { ok: false, retryable, error, ...(after !== undefined ? { retryAfterMs: after } : {}) };
    }
    if (text.trim() === "") return { ok: true, output: {} };
    try {
      return { ok: true, output: JSON.parse(text) };
    } catch {
      return { ok: false, retryable: false, error: { code: "InvalidResponse", message: `The response is not JSON: ${text.slice(0, BODY_EXCERPT_CHARS)}` } };
    }
  },
};
