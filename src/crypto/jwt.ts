/** RS256 JSON Web Tokens on Web Crypto: signing with a PKCS#8 PEM key, and reading a token's claims. */
import { base64ToBytes, bytesToBase64 } from "./hash";

const encoder = new TextEncoder();

function base64Url(bytes: Uint8Array): string {
  return bytesToBase64(bytes).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function fromBase64Url(text: string): Uint8Array {
  const b64 = text.replaceAll("-", "+").replaceAll("_", "/");
  return base64ToBytes(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
}

/** Imports a `-----BEGIN PRIVATE KEY-----` (PKCS#8) PEM for RS256 signing. Throws on anything else. */
export function importPkcs8Pem(pem: string): Promise<CryptoKey> {
  const body = pem.replace(/-----(BEGIN|END) PRIVATE KEY-----/g, "").replace(/\s+/g, "");
  return crypto.subtle.importKey("pkcs8", base64ToBytes(body), { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["sign"]);
}

/** A signed compact JWT: `base64url(header).base64url(claims).base64url(RS256 signature)`. */
export async function signRs256Jwt(key: CryptoKey, claims: Record<string, unknown>, keyId?: string): Promise<string> {
  const header = { alg: "RS256", typ: "JWT", ...(keyId ? { kid: keyId } : {}) };
  const unsigned = `${base64Url(encoder.encode(JSON.stringify(header)))}.${base64Url(encoder.encode(JSON.stringify(claims)))}`;
  const signature = await crypto.subtle.sign("RSASSA-PKCS1-v1_5", key, encoder.encode(unsigned));
  return `${unsigned}.${base64Url(new Uint8Array(signature))}`;
}

/** A JWT's claims, unverified (for reading our own token's `exp`), or undefined when it is not a JWT. */
export function readJwtClaims(token: string): Record<string, unknown> | undefined {
  const payload = token.split(".")[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(new TextDecoder().decode(fromBase64Url(payload)));
    return claims && typeof claims === "object" ? (claims as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
