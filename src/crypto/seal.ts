/**
 * Encryption at rest for stored secrets (organization secrets, webhook signing secrets, notification
 * secrets): AES-256-GCM. The associated data binds each ciphertext to where it belongs, so a
 * ciphertext copied to another row or tenant does not open.
 *
 * Keys rotate (docs/security.md#rotating-secrets_key): `SECRETS_KEY` seals; `SECRETS_KEY_PREVIOUS`
 * (optional, comma-separated) only opens. A sealed value names the key it was sealed with by a key
 * id, `v2.<keyId>.<iv>.<ciphertext>`, so opening needs no guessing and a value sealed under a key the
 * deployment no longer has fails with `UnknownSealingKeyError` naming it. Values sealed before key
 * ids existed (`v1.<iv>.<ciphertext>`) name none: each key is tried, and they count as under an old
 * key until `POST /admin/reseal-secrets` seals them again (src/crypto/reseal.ts).
 */
import { base64ToBytes, bytesToBase64 } from "./hash";

/** The bindings that hold the keys. */
export type SealingKeys = Pick<Env, "SECRETS_KEY" | "SECRETS_KEY_PREVIOUS">;

/** Hex characters of a key id: 64 bits of HMAC, enough to tell a deployment's few keys apart. */
export const KEY_ID_CHARS = 16;

/**
 * The id a v1 value is given by a reseal pass that no key of the deployment opened, so that the
 * pass moves on (src/crypto/reseal.ts). It names no key: opening it tries each key, as for v1.
 */
export const UNKNOWN_KEY_ID = "0".repeat(KEY_ID_CHARS);

const encoder = new TextEncoder();

interface Key {
  id: string;
  aes: CryptoKey;
}

const keys = new Map<string, Promise<Key>>();

/** What a key id is made from: an HMAC of this label, so the id reveals nothing of the key. */
const KEY_ID_LABEL = "canopy secrets key id";

async function importKey(secretsKey: string, name: string): Promise<Key> {
  const raw = base64ToBytes(secretsKey);
  if (raw.byteLength !== 32) throw new Error(`${name} must be the base64 of 32 bytes.`);
  const mac = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const digest = new Uint8Array(await crypto.subtle.sign("HMAC", mac, encoder.encode(KEY_ID_LABEL)));
  const id = [...digest.slice(0, KEY_ID_CHARS / 2)].map((b) => b.toString(16).padStart(2, "0")).join("");
  const aes = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
  return { id, aes };
}

function keyFor(secretsKey: string, name: string): Promise<Key> {
  const cacheKey = `${name}\0${secretsKey}`;
  let key = keys.get(cacheKey);
  if (!key) {
    key = importKey(secretsKey, name);
    // A key that fails to import is not cached: the error is thrown again, not a stale promise.
    key.catch(() => keys.delete(cacheKey));
    keys.set(cacheKey, key);
  }
  return key;
}

/** The deployment's keys: the current one (seals), then the previous ones (only open). */
export async function sealingKeys(env: SealingKeys): Promise<{ current: Key; previous: Key[] }> {
  const previous = (env.SECRETS_KEY_PREVIOUS ?? "")
    .split(",")
    .map((k) => k.trim())
    .filter((k) => k.length > 0);
  const [current, ...older] = await Promise.all([
    keyFor(env.SECRETS_KEY, "SECRETS_KEY"),
    ...previous.map((k) => keyFor(k, "Each key of SECRETS_KEY_PREVIOUS")),
  ]);
  return { current: current!, previous: older.filter((k) => k.id !== current!.id) };
}

/** The id of one base64 key, as sealed values name it (the deploy script checks keys by it). */
export async function keyIdOf(secretsKey: string): Promise<string> {
  return (await keyFor(secretsKey, "The key")).id;
}

/** A value sealed under a key this deployment does not have: it cannot be opened until that key is back. */
export class UnknownSealingKeyError extends Error {
  constructor(readonly keyId: string | null) {
    super(
      keyId === null
        ? "The value was sealed before sealed values named their key, and none of this deployment's keys (SECRETS_KEY, SECRETS_KEY_PREVIOUS) opens it."
        : `The value was sealed under key ${keyId}, which this deployment does not have (neither SECRETS_KEY nor SECRETS_KEY_PREVIOUS).`,
    );
    this.name = "UnknownSealingKeyError";
  }
}

/** The key id a sealed value names: a key's id, UNKNOWN_KEY_ID, or null for a v1 value. */
export function sealedKeyId(sealed: string): string | null {
  return sealed.startsWith("v2.") ? sealed.slice(3, 3 + KEY_ID_CHARS) : null;
}

/** Encrypts `plaintext` under SECRETS_KEY; the result is `v2.<keyId>.<iv>.<ciphertext>`, base64 parts. */
export async function seal(env: SealingKeys, plaintext: string, associatedData: string): Promise<string> {
  const { current } = await sealingKeys(env);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: encoder.encode(associatedData) }, current.aes, encoder.encode(plaintext));
  return `v2.${current.id}.${bytesToBase64(iv)}.${bytesToBase64(new Uint8Array(ct))}`;
}

async function decrypt(key: Key, iv: string, ct: string, associatedData: string): Promise<string> {
  const pt = await crypto.subtle.decrypt({ name: "AES-GCM", iv: base64ToBytes(iv), additionalData: encoder.encode(associatedData) }, key.aes, base64ToBytes(ct));
  return new TextDecoder().decode(pt);
}

/**
 * Decrypts what `seal` produced (or a v1 value) with the same associated data. Throws
 * UnknownSealingKeyError when no key of the deployment is the one it was sealed with.
 */
export async function open(env: SealingKeys, sealed: string, associatedData: string): Promise<string> {
  const parts = sealed.split(".");
  const { current, previous } = await sealingKeys(env);
  if (parts[0] === "v2" && parts.length === 4) {
    const [, keyId, iv, ct] = parts as [string, string, string, string];
    if (keyId !== UNKNOWN_KEY_ID) {
      const key = [current, ...previous].find((k) => k.id === keyId);
      if (!key) throw new UnknownSealingKeyError(keyId);
      return decrypt(key, iv, ct, associatedData);
    }
    return tryEach([current, ...previous], iv, ct, associatedData);
  }
  if (parts[0] === "v1" && parts.length === 3) return tryEach([current, ...previous], parts[1]!, parts[2]!, associatedData);
  throw new Error("Unknown sealed-secret format.");
}

/** A value that names no key: the first key that opens it (GCM's tag tells a wrong key). */
async function tryEach(candidates: Key[], iv: string, ct: string, associatedData: string): Promise<string> {
  for (const key of candidates) {
    try {
      return await decrypt(key, iv, ct, associatedData);
    } catch {
      // The tag did not verify under this key: try the next.
    }
  }
  throw new UnknownSealingKeyError(null);
}

/**
 * A D1 column of sealed values, as ResealSecrets walks it (src/registry/reseal-secrets.ts). Each
 * table that stores sealed values declares one beside its own SQL. Besides its columns, the table
 * has `sealed_key_id`, generated from the value and indexed (migrations/0014_sealed_key_ids.sql).
 */
export interface SealedColumn {
  table: string;
  column: string;
  /** The columns that name a row (its primary key), in the order `associatedData` takes them. */
  keys: readonly string[];
  /** The associated data the row's value was sealed with, from its key columns' values. */
  associatedData(keys: readonly string[]): string;
}
