/**
 * What every network executor (HTTP, Lambda, Cloud Functions) agrees on: a network error, a 5xx or
 * a 429 is worth retrying (after Retry-After when the far end says so), any other 4xx is final,
 * and the error a user reads names the status and a short excerpt of the body. A call cut off by
 * its time limit is a TIMEOUT, not a failure: the far end may still have done the work. A call the
 * egress policy refuses, or an answer too large or too deep to take, fails without retry: trying
 * again would meet the same refusal. A JSON answer `{"status": "successful_but_incomplete"}` asks
 * the engine to poll: the step runs again after its poll interval (see `pollStatus`).
 */
import { EgressError } from "../egress/guarded-fetch";
import type { Egress } from "../egress/organization-egress";
import { jsonNestsDeeperThan } from "../json-depth";
import { ERROR_BODY_EXCERPT_CHARS, MAX_JSON_DEPTH } from "../limits";
import { redact } from "./call-facts";
import { ResponseRefused, readBodyCapped } from "./response-body";
import type { CallResult } from "./types";

type Failure = Extract<CallResult, { ok: false }>;

/** A response read in full, or the failure that prevented it. */
export type Exchange = { ok: true; res: Response; text: string } | { ok: false; failure: Failure };

/** Retry-After as milliseconds: delta-seconds or an HTTP date. */
export function retryAfterMs(header: string | null, now: number): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (header.trim() !== "" && Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The failure for a secret the organization does not have: final until someone creates it. */
export function secretMissing(key: string): Failure {
  return { ok: false, retryable: false, error: { code: "SecretNotFound", message: `Organization secret "${key}" does not exist.` } };
}

/** A failure that retrying cannot fix (bad configuration, a malformed answer). */
export function finalFailure(code: string, message: string): Failure {
  return { ok: false, retryable: false, error: { code, message } };
}


/** The step failure for an egress refusal or a response too large to read, or undefined for any other error. */
export function refusal(e: unknown, label?: string): Failure | undefined {
  if (!(e instanceof EgressError || e instanceof ResponseRefused)) return undefined;
  return finalFailure(e.code, label ? `${label}: ${e.message}` : e.message);
}

/**
 * The step failure when the egress policy refuses `url`, or undefined when it may be called.
 * Executors ask before they read a secret or sign anything: a refused call does neither.
 */
export async function egressRefused(egress: Egress, label: string, url: string): Promise<Failure | undefined> {
  try {
    await egress.check(url);
    return undefined;
  } catch (e) {
    const refused = refusal(e, label);
    if (refused) return refused;
    throw e;
  }
}

/**
 * Sends a request and reads the whole body, up to MAX_RESPONSE_BYTES; `label` names the call in
 * errors ("POST https://…"). `request` sends through `ctx.egress`, whose refusals end up here.
 */
export async function exchange(label: string, signal: AbortSignal, request: () => Promise<Response>): Promise<Exchange> {
  try {
    const res = await request();
    return { ok: true, res, text: await readBodyCapped(res) };
  } catch (e) {
    const refused = refusal(e, label);
    if (refused) return { ok: false, failure: refused };
    if (signal.aborted) {
      return { ok: false, failure: { ok: false, retryable: true, error: { code: "TIMEOUT", message: `${label} did not answer within its time limit; it may still have run.` } } };
    }
    return { ok: false, failure: { ok: false, retryable: true, error: { code: "NetworkError", message: `${label} failed: ${(e as Error)?.message ?? String(e)}` } } };
  }
}

/** A non-2xx response as a failure: 5xx and 429 retry (honouring Retry-After), other statuses are final. */
export function httpFailure(label: string, res: Response, text: string, secrets: readonly string[] = []): Failure {
  const excerpt = redact(text, secrets).slice(0, ERROR_BODY_EXCERPT_CHARS).trim();
  const error = { code: `HTTP_${res.status}`, message: `${label} answered ${res.status}${excerpt ? `: ${excerpt}` : ""}` };
  const retryable = res.status >= 500 || res.status === 429;
  const after = retryable ? retryAfterMs(res.headers.get("retry-after"), Date.now()) : undefined;
  return { ok: false, retryable, error, ...(after !== undefined ? { retryAfterMs: after } : {}), response: { statusCode: res.status, body: text } };
}

/** The result with what the far end answered, for the history: its status, and for a failure its body. */
export function withResponse(result: CallResult, statusCode: number, body: string): CallResult {
  return result.ok ? { ...result, statusCode } : { ...result, response: { statusCode, body } };
}

/** A response body as the step's output: JSON, nesting no deeper than requests may, with `empty` standing in for an empty body. */
export function jsonOutput(label: string, text: string, empty: unknown, secrets: readonly string[] = []): CallResult {
  if (text.trim() === "") return { ok: true, output: empty };
  // Measured on the text before parsing: the output is then cloned, validated and stored by code that recurses.
  if (jsonNestsDeeperThan(text, MAX_JSON_DEPTH)) return finalFailure("RESPONSE_TOO_DEEP", `${label} answered JSON nesting deeper than ${MAX_JSON_DEPTH} levels.`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return finalFailure("InvalidResponse", `${label} did not answer JSON: ${redact(text, secrets).slice(0, ERROR_BODY_EXCERPT_CHARS)}`);
  }
  return pollStatus(parsed);
}

/** The status by which a far end says "not done yet, ask again" (JustWorkflowIt's StepExecutorOutput status). */
export const INCOMPLETE_STATUS = "successful_but_incomplete";

/**
 * A JSON object `{"status": "successful_but_incomplete", ...}` is a poll result, not the step's
 * output: its `payload` (or, without one, the whole object) is what the step reports for now, and
 * the step runs again after its poll interval. Any other answer is the output.
 */
export function pollStatus(output: unknown): CallResult {
  const isObject = output !== null && typeof output === "object" && !Array.isArray(output);
  if (!isObject || (output as { status?: unknown }).status !== INCOMPLETE_STATUS) return { ok: true, output };
  const payload = Object.hasOwn(output, "payload") ? (output as { payload: unknown }).payload : output;
  return { ok: true, output: payload, incomplete: true };
}

/** The usual reading of an exchange: its failure, a status failure, or the JSON body as output. */
export function callResult(label: string, ex: Exchange, options: { secrets?: readonly string[]; empty?: unknown } = {}): CallResult {
  if (!ex.ok) return ex.failure;
  if (!ex.res.ok) return httpFailure(label, ex.res, ex.text, options.secrets);
  return withResponse(jsonOutput(label, ex.text, options.empty ?? {}, options.secrets), ex.res.status, ex.text);
}
