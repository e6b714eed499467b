/**
 * Webhook signature schemes. Both sign the RAW body bytes, so nothing here ever decodes or
 * re-serializes the body: the same JSON written with other whitespace is another message.
 * - `standard-webhooks` (standardwebhooks.com): HMAC-SHA256 over `{id}.{timestamp}.{body}` with the
 *   base64-decoded `whsec_` secret; `webhook-signature` lists `v1,<base64>` entries separated by
 *   spaces (any may match: that is how a sender rotates secrets); the timestamp bounds replays.
 * - `github`: `X-Hub-Signature-256: sha256=<hex>` HMAC-SHA256 over the body with the secret's
 *   UTF-8 bytes; the delivery id comes from `X-GitHub-Delivery`, which GitHub does not sign, so a
 *   replay is told by its body instead (delivery.ts).
 */
import { base64ToBytes, bytesToBase64, constantTimeEqual, randomToken, toHex } from "../crypto/hash";
import { WEBHOOK_MAX_DELIVERY_ID_LENGTH, WEBHOOK_TIMESTAMP_TOLERANCE_S } from "../limits";

export const SCHEMES = ["standard-webhooks", "github"] as const;
export type Scheme = (typeof SCHEMES)[number];

/** A verified delivery's id, or why it was refused (the reason goes into the 401 message). */
export type Verification = { ok: true; deliveryId: string } | { ok: false; reason: string };

const encoder = new TextEncoder();
const SECRET_PREFIX = "whsec_";
/** Standard Webhooks secrets are 24 to 64 random bytes; 32 is what its reference libraries generate. */
const SECRET_BYTES = 32;

/** A new signing secret in the scheme's customary form. */
export function generateSecret(scheme: Scheme): string {
  if (scheme === "github") return randomToken(SECRET_BYTES);
  return SECRET_PREFIX + bytesToBase64(crypto.getRandomValues(new Uint8Array(SECRET_BYTES)));
}

async function hmacSha256(key: Uint8Array, parts: Uint8Array[]): Promise<Uint8Array> {
  const cryptoKey = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const total = parts.reduce((n, p) => n + p.byteLength, 0);
  const data = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    data.set(p, offset);
    offset += p.byteLength;
  }
  return new Uint8Array(await crypto.subtle.sign("HMAC", cryptoKey, data));
}

/**
 * The Standard Webhooks `v1` signature of a message Canopy sends (outbound notifications): the
 * base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` under the decoded `whsec_` secret, as
 * `verifyStandard` below checks it.
 */
export async function signStandard(secret: string, id: string, timestamp: number, body: string): Promise<string> {
  const key = base64ToBytes(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret);
  return `v1,${bytesToBase64(await hmacSha256(key, [encoder.encode(`${id}.${timestamp}.${body}`)]))}`;
}

/** The form of one Standard Webhooks HMAC entry: `v1,` and the padded base64 of 32 bytes. */
const STANDARD_V1_ENTRY = /^v1,[A-Za-z0-9+/]{43}=$/;
/** The only form of X-Hub-Signature-256 that can match (compared lower-cased). */
const GITHUB_SIGNATURE = /^sha256=[0-9a-f]{64}$/i;

/**
 * Whether the headers carry at least one signature of a supported scheme in a form that could
 * verify: this costs no I/O and no crypto, so it runs before the trigger (and with it the scheme)
 * is read. A request this refuses would be refused by `verifySignature` under either scheme.
 * - `standard-webhooks`: webhook-id (at most WEBHOOK_MAX_DELIVERY_ID_LENGTH), a webhook-timestamp
 *   within WEBHOOK_TIMESTAMP_TOLERANCE_S of `nowSeconds`, and a well-formed `v1` entry;
 * - `github`: `sha256=` and 64 hex digits, with an X-GitHub-Delivery id.
 */
export function checkSignatureHeaders(headers: Headers, nowSeconds: number): { ok: true } | { ok: false; reason: string } {
  const github = githubHeaderProblem(headers);
  if (github === null) return { ok: true };
  const standard = standardHeaderProblem(headers, nowSeconds);
  if (standard === null) return { ok: true };
  // Name the problem of the scheme the sender seems to use.
  if (headers.has("x-hub-signature-256")) return { ok: false, reason: github };
  if (headers.has("webhook-signature") || headers.has("webhook-id") || headers.has("webhook-timestamp")) return { ok: false, reason: standard };
  return { ok: false, reason: "The request is not signed: it carries neither X-Hub-Signature-256 nor webhook-signature." };
}

function githubHeaderProblem(headers: Headers): string | null {
  const signature = headers.get("x-hub-signature-256");
  if (signature === null) return "Missing X-Hub-Signature-256 header.";
  if (!GITHUB_SIGNATURE.test(signature.trim())) return "The X-Hub-Signature-256 header is not sha256= and 64 hex digits.";
  const deliveryId = headers.get("x-github-delivery");
  if (!deliveryId || deliveryId.length > WEBHOOK_MAX_DELIVERY_ID_LENGTH) return "Missing or over-long X-GitHub-Delivery header.";
  return null;
}

function standardHeaderProblem(headers: Headers, nowSeconds: number): string | null {
  const id = headers.get("webhook-id");
  const timestamp = headers.get("webhook-timestamp");
  const signatures = headers.get("webhook-signature");
  if (!id || !timestamp || !signatures) return "Missing webhook-id, webhook-timestamp or webhook-signature header.";
  if (id.length > WEBHOOK_MAX_DELIVERY_ID_LENGTH) return "The webhook-id header is too long.";
  if (!/^\d{1,15}$/.test(timestamp)) return "The webhook-timestamp header is not a number of seconds.";
  if (Math.abs(nowSeconds - Number(timestamp)) > WEBHOOK_TIMESTAMP_TOLERANCE_S) return "The webhook-timestamp is too far from the current time.";
  if (!signatures.split(" ").some((entry) => STANDARD_V1_ENTRY.test(entry))) return "The webhook-signature header has no well-formed v1 signature.";
  return null;
}

/** Checks a delivery's signature over `body` (the raw bytes) at `nowSeconds`. */
export async function verifySignature(
  scheme: Scheme,
  secret: string,
  headers: Headers,
  body: Uint8Array,
  nowSeconds: number,
): Promise<Verification> {
  return scheme === "github" ? verifyGithub(secret, headers, body) : verifyStandard(secret, headers, body, nowSeconds);
}

async function verifyStandard(secret: string, headers: Headers, body: Uint8Array, nowSeconds: number): Promise<Verification> {
  const problem = standardHeaderProblem(headers, nowSeconds);
  if (problem !== null) return { ok: false, reason: problem };
  const id = headers.get("webhook-id")!;
  const timestamp = headers.get("webhook-timestamp")!;
  const signatures = headers.get("webhook-signature")!;
  const key = base64ToBytes(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret);
  const expected = bytesToBase64(await hmacSha256(key, [encoder.encode(`${id}.${timestamp}.`), body]));
  // Every listed signature is compared, each in constant time; only `v1` (HMAC) entries can match.
  let matched = false;
  for (const entry of signatures.split(" ")) {
    const comma = entry.indexOf(",");
    if (comma < 0 || entry.slice(0, comma) !== "v1") continue;
    if (await constantTimeEqual(entry.slice(comma + 1), expected)) matched = true;
  }
  return matched ? { ok: true, deliveryId: id } : { ok: false, reason: "No webhook-signature matches." };
}

async function verifyGithub(secret: string, headers: Headers, body: Uint8Array): Promise<Verification> {
  // GitHub always sends X-GitHub-Delivery; without it a delivery cannot be told apart from its retry.
  const problem = githubHeaderProblem(headers);
  if (problem !== null) return { ok: false, reason: problem };
  const header = headers.get("x-hub-signature-256")!;
  const expected = "sha256=" + toHex(await hmacSha256(encoder.encode(secret), [body]));
  if (!(await constantTimeEqual(header.trim().toLowerCase(), expected))) return { ok: false, reason: "The X-Hub-Signature-256 does not match." };
  return { ok: true, deliveryId: headers.get("x-github-delivery")! };
}
