/**
 * The secret reader an executor call is handed (`CallContext.secrets`). Each read names the host
 * the secret, or what is made from it, will be sent to:
 * - a secret bound to hosts (`allowedHosts`) is refused for any other host: the step fails with
 *   SECRET_HOST_DENIED, without retry, and since executors read every secret before they send
 *   anything, nothing leaves;
 * - a secret without bindings is handed out, and its first use toward each host is recorded in D1
 *   (once across isolates) and logged as `secret.unboundUse`, never with the value.
 */
import { anyHostMatches } from "../host-patterns";
import { SecretUnreadableError } from "../errors";
import { UNBOUND_USE_CACHE_MAX_ENTRIES } from "../limits";
import { logEvent } from "../log";
import { readSecretForUse, recordUnboundSecretUse, type SecretForUse } from "../registry/secrets";
import type { SecretRead, SecretReader } from "./types";

/** The call the secrets are read for: named in first-use records. */
export interface SecretUser {
  organizationId: string;
  jobId: string;
  stepName: string;
}

/** Patterns named in a refusal's message; the full list is the secret's metadata. */
const PATTERNS_IN_MESSAGE = 5;

/** The failure for a secret that may not go to `host`: retrying cannot change its bindings. */
export function secretHostDenied(key: string, host: string, allowedHosts: readonly string[]): SecretRead {
  const shown = allowedHosts.slice(0, PATTERNS_IN_MESSAGE).join(", ");
  const more = allowedHosts.length > PATTERNS_IN_MESSAGE ? ` and ${allowedHosts.length - PATTERNS_IN_MESSAGE} more` : "";
  return {
    ok: false,
    retryable: false,
    error: {
      code: "SECRET_HOST_DENIED",
      message: `Organization secret "${key}" may not be sent to ${host}: its allowedHosts are ${shown || "(none)"}${more}. Nothing was sent.`,
    },
  };
}

/**
 * The failure for a secret sealed under a key the deployment no longer has: a retry reads the same
 * value, so the step fails at once, saying what to do; set the secret again, then resume the job.
 */
function secretUnreadable(e: SecretUnreadableError): SecretRead {
  return { ok: false, retryable: false, error: { code: "SECRET_UNREADABLE", message: e.message } };
}

/**
 * (secret, host) pairs this isolate has seen recorded, so a busy workflow does not write the same
 * row on every call. The secret's creation time is part of the key: one deleted and created again
 * is a new secret whose first uses are recorded afresh.
 */
const recorded = new Set<string>();

async function noteUnboundUse(db: D1Database, user: SecretUser, key: string, host: string, secret: SecretForUse): Promise<void> {
  const cacheKey = JSON.stringify([user.organizationId, key, secret.createdAt, host]);
  if (recorded.has(cacheKey)) return;
  // Recorded before the secret is handed out: a use is never sent without its record.
  if (await recordUnboundSecretUse(db, { organizationId: user.organizationId, key, host, jobId: user.jobId, stepName: user.stepName }, Date.now())) {
    logEvent("secret.unboundUse", { organizationId: user.organizationId, secretKey: key, host, jobId: user.jobId, stepName: user.stepName });
  }
  if (recorded.size >= UNBOUND_USE_CACHE_MAX_ENTRIES) recorded.delete(recorded.values().next().value!);
  recorded.add(cacheKey);
}

/** The reader for one executor call. A secret read for several hosts is fetched from D1 once. */
export function secretReader(env: Pick<Env, "DB" | "SECRETS_KEY" | "SECRETS_KEY_PREVIOUS">, user: SecretUser): SecretReader {
  const rows = new Map<string, Promise<SecretForUse | undefined>>();
  return async (key, host) => {
    let row = rows.get(key);
    if (!row) rows.set(key, (row = readSecretForUse(env, user.organizationId, key)));
    let secret: SecretForUse | undefined;
    try {
      secret = await row;
    } catch (e) {
      if (e instanceof SecretUnreadableError) return secretUnreadable(e);
      throw e;
    }
    if (!secret) return { ok: true, value: undefined };
    if (secret.allowedHosts !== undefined) {
      return anyHostMatches(secret.allowedHosts, host) ? { ok: true, value: secret.value } : secretHostDenied(key, host, secret.allowedHosts);
    }
    await noteUnboundUse(env.DB, user, key, host, secret);
    return { ok: true, value: secret.value };
  };
}

/**
 * The reader a step with `secretBindings` hands its executor: a read of a bound slot reads the
 * organization secret bound to it, under that secret's own host bindings. A bound secret that does
 * not exist fails the call, naming both (even for a slot the executor may do without, such as
 * AWS_SESSION_TOKEN: the definition said the step needs it).
 */
export function bindSecrets(reader: SecretReader, bindings: Readonly<Record<string, string>> | undefined): SecretReader {
  if (!bindings || Object.keys(bindings).length === 0) return reader;
  return async (slot, host) => {
    if (!Object.hasOwn(bindings, slot)) return reader(slot, host);
    const key = bindings[slot]!;
    const read = await reader(key, host);
    if (read.ok && read.value === undefined) {
      return {
        ok: false,
        retryable: false,
        error: { code: "SecretNotFound", message: `Organization secret "${key}" (bound to "${slot}" by secretBindings) does not exist.` },
      };
    }
    return read;
  };
}
