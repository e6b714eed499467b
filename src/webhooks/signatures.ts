/**
 * Webhook signature schemes. Both sign the RAW body bytes, so nothing here ever decodes or
 * re-serializes the body: the same JSON written with other whitespace is another message.
 * - `standard-webhooks` (standardwebhooks.com): HMAC-SHA256 over `{id}.{timestamp}.{body}` with the
 *   base64-decoded `whsec_` secret; `webhook-signature` lists `v1,<base64>` entries separated by
 *   spaces (any may match: that is how a sender rotates secrets); the timestamp bounds replays.
 * - `github`: `X-Hub-Signature-256: sha256=<hex>` HMAC-SHA256 over the body with the secret's
 *   UTF-8 bytes; the delivery id comes from `X-GitHub-Delivery` (which GitHub does not sign).
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
  const id = headers.get("webhook-id");
  const timestamp = headers.get("webhook-timestamp");
  const signatures = headers.get("webhook-signature");
  if (!id || !timestamp || !signatures) return { ok: false, reason: "Missing webhook-id, webhook-timestamp or webhook-signature header." };
  if (id.length > WEBHOOK_MAX_DELIVERY_ID_LENGTH) return { ok: false, reason: "The webhook-id header is too long." };
  if (!/^\d{1,15}$/.test(timestamp)) return { ok: false, reason: "The webhook-timestamp header is not a number of seconds." };
  if (Math.abs(nowSeconds - Number(timestamp)) > WEBHOOK_TIMESTAMP_TOLERANCE_S) {
    return { ok: false, reason: "The webhook-timestamp is too far from the current time." };
  }
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
  const header = headers.get("x-hub-signature-256");
  if (!header) return { ok: false, reason: "Missing X-Hub-Signature-256 header." };
  const expected = "sha256=" + toHex(await hmacSha256(encoder.encode(secret), [body]));
  if (!(await constantTimeEqual(header.trim().toLowerCase(), expected))) return { ok: false, reason: "The X-Hub-Signature-256 does not match." };
  const deliveryId = headers.get("x-github-delivery");
  // GitHub always sends it; without it a delivery cannot be told apart from its replay.
  if (!deliveryId || deliveryId.length > WEBHOOK_MAX_DELIVERY_ID_LENGTH) {
    return { ok: false, reason: "Missing or over-long X-GitHub-Delivery header." };
  }
  return { ok: true, deliveryId };
}
