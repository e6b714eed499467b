/**
 * `/justworkflowit/gcp/cloudfunction`: calls a Cloud Function (Gen2) over HTTPS as a service
 * account. The account's key (organization secret `GCP_SERVICE_ACCOUNT_KEY`, the JSON Google
 * issues) signs an RS256 JWT with Web Crypto; Google's token endpoint exchanges it for an ID token
 * whose audience is the function's URL; the function is called with that token as the bearer.
 * Tokens are cached per isolate until shortly before they expire, so a busy workflow does not ask
 * Google for a token per step.
 */
import type { GcpCloudFunctionConfig } from "../definition/executor-configs";
import { sha256Hex } from "../crypto/hash";
import { importPkcs8Pem, readJwtClaims, signRs256Jwt } from "../crypto/jwt";
import { destinationHost } from "../host-patterns";
import { ID_TOKEN_CACHE_MAX_ENTRIES, ID_TOKEN_REFRESH_MARGIN_MS } from "../limits";
import type { Egress } from "../egress/organization-egress";
import { callResult, egressRefused, exchange, finalFailure, httpFailure, secretMissing } from "./http-result";
import type { CallContext, CallResult, Executor } from "./types";

/** The organization secret holding the service-account key JSON. */
export const GCP_SECRET_KEY = "GCP_SERVICE_ACCOUNT_KEY";
export const DEFAULT_TOKEN_ENDPOINT = "https://oauth2.googleapis.com/token";
/** Google caps a self-signed assertion's lifetime at one hour. */
const ASSERTION_LIFETIME_S = 3600;

type Failure = Extract<CallResult, { ok: false }>;

interface ServiceAccountKey {
  client_email: string;
  private_key: string;
  private_key_id?: string;
  token_uri?: string;
}

/** The URL the function answers at, which is also the ID token's audience. */
export function functionUrl(config: GcpCloudFunctionConfig): string {
  return config.endpoint ?? `https://${config.region}-${config.projectId}.cloudfunctions.net/${config.functionName}`;
}

/** Where the signed assertion goes: the step's `tokenEndpoint`, else the key's `token_uri`, else Google's. */
function tokenEndpointFor(config: GcpCloudFunctionConfig, key: ServiceAccountKey): string {
  return config.tokenEndpoint ?? key.token_uri ?? DEFAULT_TOKEN_ENDPOINT;
}

function parseKey(text: string): ServiceAccountKey | undefined {
  try {
    const key = JSON.parse(text) as Partial<ServiceAccountKey>;
    if (typeof key.client_email !== "string" || typeof key.private_key !== "string") return undefined;
    return key as ServiceAccountKey;
  } catch {
    return undefined;
  }
}

/** Cached ID tokens. The key includes the organization and a hash of the whole service-account key:
 * a token is only handed to a caller that holds the same key that obtained it. */
const idTokens = new Map<string, { token: string; expiresAt: number }>();

function remember(cacheKey: string, token: string, expiresAt: number): void {
  idTokens.delete(cacheKey);
  if (idTokens.size >= ID_TOKEN_CACHE_MAX_ENTRIES) idTokens.delete(idTokens.keys().next().value!);
  idTokens.set(cacheKey, { token, expiresAt });
}

/** When a token stops being usable: its `exp` claim, else `expires_in`; undefined means "do not cache". */
function expiryOf(idToken: string, expiresIn: unknown, now: number): number | undefined {
  const exp = readJwtClaims(idToken)?.exp;
  if (typeof exp === "number") return exp * 1000;
  return typeof expiresIn === "number" ? now + expiresIn * 1000 : undefined;
}

/** Exchanges a signed assertion for an ID token (Google's JWT-bearer grant with `target_audience`). */
async function fetchIdToken(
  egress: Egress,
  key: ServiceAccountKey,
  tokenEndpoint: string,
  audience: string,
  signal: AbortSignal,
): Promise<{ ok: true; token: string; expiresAt?: number } | { ok: false; failure: Failure }> {
  let signingKey: CryptoKey;
  try {
    signingKey = await importPkcs8Pem(key.private_key);
  } catch {
    return { ok: false, failure: finalFailure("InvalidSecret", `${GCP_SECRET_KEY}.private_key is not a PKCS#8 PEM RSA key.`) };
  }
  const iat = Math.floor(Date.now() / 1000);
  const claims = { iss: key.client_email, sub: key.client_email, aud: tokenEndpoint, target_audience: audience, iat, exp: iat + ASSERTION_LIFETIME_S };
  const assertion = await signRs256Jwt(signingKey, claims, key.private_key_id);
  const label = `The token endpoint ${tokenEndpoint}`;
  const ex = await exchange(label, signal, () =>
    egress.fetch(tokenEndpoint, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion }).toString(),
      signal,
    }),
  );
  if (!ex.ok) return { ok: false, failure: ex.failure };
  if (!ex.res.ok) return { ok: false, failure: httpFailure(label, ex.res, ex.text) };
  let body: { id_token?: unknown; expires_in?: unknown } = {};
  try {
    body = JSON.parse(ex.text);
  } catch {
    /* handled below: no id_token */
  }
  if (typeof body.id_token !== "string") return { ok: false, failure: finalFailure("InvalidResponse", `${label} answered without an id_token.`) };
  const expiresAt = expiryOf(body.id_token, body.expires_in, Date.now());
  return { ok: true, token: body.id_token, ...(expiresAt !== undefined ? { expiresAt } : {}) };
}

/** A valid ID token for `audience`, from the cache when one has time left. */
async function idTokenFor(
  ctx: CallContext<GcpCloudFunctionConfig>,
  keyText: string,
  key: ServiceAccountKey,
  audience: string,
): Promise<{ ok: true; token: string; cacheKey: string } | { ok: false; failure: Failure }> {
  const tokenEndpoint = tokenEndpointFor(ctx.config, key);
  const cacheKey = [ctx.organizationId, await sha256Hex(keyText), tokenEndpoint, audience].join("\n");
  const cached = idTokens.get(cacheKey);
  if (cached && cached.expiresAt - ID_TOKEN_REFRESH_MARGIN_MS > Date.now()) return { ok: true, token: cached.token, cacheKey };
  const fetched = await fetchIdToken(ctx.egress, key, tokenEndpoint, audience, ctx.signal);
  if (!fetched.ok) return fetched;
  if (fetched.expiresAt !== undefined) remember(cacheKey, fetched.token, fetched.expiresAt);
  return { ok: true, token: fetched.token, cacheKey };
}

export const gcpCloudFunctionExecutor: Executor<GcpCloudFunctionConfig> = {
  type: "/justworkflowit/gcp/cloudfunction",
  start: () => ({ kind: "call" }),
  async call(ctx): Promise<CallResult> {
    // The key never leaves, but what it makes does: the ID token it buys goes to the function, and
    // the assertion it signs goes to the token endpoint. Both hosts must be allowed, and both are
    // checked before either is contacted (also when a cached token spares the token endpoint).
    const url = functionUrl(ctx.config);
    const label = `Cloud Function ${url}`;
    const denied = await egressRefused(ctx.egress, label, url);
    if (denied) return denied;
    const read = await ctx.secrets(GCP_SECRET_KEY, destinationHost(url));
    if (!read.ok) return read;
    const keyText = read.value;
    if (keyText === undefined) return secretMissing(GCP_SECRET_KEY);
    const key = parseKey(keyText);
    if (!key) return finalFailure("InvalidSecret", `${GCP_SECRET_KEY} is not a service-account key JSON with client_email and private_key.`);
    const tokenEndpoint = tokenEndpointFor(ctx.config, key);
    const tokenDenied = await egressRefused(ctx.egress, `The token endpoint ${tokenEndpoint}`, tokenEndpoint);
    if (tokenDenied) return tokenDenied;
    const atTokenEndpoint = await ctx.secrets(GCP_SECRET_KEY, destinationHost(tokenEndpoint));
    if (!atTokenEndpoint.ok) return atTokenEndpoint;
    const token = await idTokenFor(ctx, keyText, key, url);
    if (!token.ok) return token.failure;
    const ex = await exchange(label, ctx.signal, () =>
      ctx.egress.fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json", authorization: `Bearer ${token.token}` },
        body: JSON.stringify(ctx.input ?? null),
        signal: ctx.signal,
      }),
    );
    // A refused token is not reused: the next attempt (or a resumed job) asks for a fresh one.
    if (ex.ok && (ex.res.status === 401 || ex.res.status === 403)) idTokens.delete(token.cacheKey);
    return callResult(label, ex, { secrets: [token.token] });
  },
};
