/**
 * Encryption at rest for stored secrets (organization secrets, webhook signing secrets): AES-256-GCM
 * with a key from the `SECRETS_KEY` Worker secret. The associated data binds each ciphertext to
 * where it belongs, so a ciphertext copied to another row or tenant does not decrypt.
 */
import { base64ToBytes, bytesToBase64 } from "./hash";

const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

function keyFor(secretsKey: string): Promise<CryptoKey> {
  let key = keys.get(secretsKey);
  if (!key) {
    const raw = base64ToBytes(secretsKey);
    if (raw.byteLength !== 32) throw new Error("SECRETS_KEY must be the base64 of 32 bytes.");
    key = crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
    keys.set(secretsKey, key);
  }
  return key;
}

/** Encrypts `plaintext`; the result is `v1.<iv>.<ciphertext>` in base64. */
export async function seal(env: Pick<Env, "SECRETS_KEY">, plaintext: string, associatedData: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: encoder.encode(associatedData) },
    await keyFor(env.SECRETS_KEY),
    encoder.encode(plaintext),
  );
  return `v1.${bytesToBase64(iv)}.${bytesToBase64(new Uint8Array(ct))}`;
}

/** Decrypts what `seal` produced with the same associated data. */
export async function open(env: Pick<Env, "SECRETS_KEY">, sealed: string, associatedData: string): Promise<string> {
  const [version, iv, ct] = sealed.split(".");
  if (version !== "v1" || !iv || !ct) throw new Error("Unknown sealed-secret format.");
  const pt = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: base64ToBytes(iv), additionalData: encoder.encode(associatedData) },
    await keyFor(env.SECRETS_KEY),
    base64ToBytes(ct),
  );
  return new TextDecoder().decode(pt);
}
