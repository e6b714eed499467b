/**
 * What an executor call's history item may show of it: the far end's status code and, for a failed
 * attempt, the answer that failed it. Every secret value the call read is replaced by "[secret]"
 * (in the answer and in the error message) before anything is cut to MAX_FAILED_ATTEMPT_PAYLOAD_BYTES,
 * so neither a secret nor the start of one reaches the history, whatever the far end echoed.
 */
import { boundedBody } from "../engine/payload";
import type { CallFacts, JobError } from "../engine/types";
import type { CallResult, SecretReader } from "./types";

const MASK = "[secret]";

/** Replaces every secret value in `text`, so an endpoint that echoes a credential does not put it in the history. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length > 0) out = out.split(s).join(MASK);
  return out;
}

/** `value` with every secret replaced in its strings and keys; the same value when none appears. */
export function redactValue(value: unknown, secrets: readonly string[]): unknown {
  if (secrets.every((s) => s.length === 0)) return value;
  if (typeof value === "string") return redact(value, secrets);
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) {
    const items = value.map((v) => redactValue(v, secrets));
    return items.some((v, i) => v !== value[i]) ? items : value;
  }
  let changed = false;
  const entries = Object.entries(value).map(([k, v]) => {
    const key = redact(k, secrets);
    const next = redactValue(v, secrets);
    if (key !== k || next !== v) changed = true;
    return [key, next] as const;
  });
  return changed ? Object.fromEntries(entries) : value;
}

/** A reader that also collects every secret value it hands out (into `seen`), for redaction after the call. */
export function recordingSecrets(reader: SecretReader, seen: string[]): SecretReader {
  return async (key, host) => {
    const read = await reader(key, host);
    if (read.ok && read.value !== undefined && read.value !== "") seen.push(read.value);
    return read;
  };
}

/** The call's error, with the secrets it read replaced. */
export function redactedError(error: JobError, secrets: readonly string[]): JobError {
  return { ...error, message: redact(error.message, secrets) };
}

/** What the attempt's history item may show of the call (see the header). */
export function callFacts(result: CallResult, secrets: readonly string[]): CallFacts | undefined {
  if (result.ok) {
    const redacted = secrets.length > 0 ? redactValue(result.output, secrets) : result.output;
    const facts: CallFacts = {
      ...(result.statusCode !== undefined ? { statusCode: result.statusCode } : {}),
      ...(redacted !== result.output ? { redactedOutput: redacted } : {}),
    };
    return Object.keys(facts).length > 0 ? facts : undefined;
  }
  if (!result.response) return undefined;
  const { statusCode, body } = result.response;
  return { statusCode, ...(body !== undefined ? { response: boundedBody(redact(body, secrets)) } : {}) };
}
