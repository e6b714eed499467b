/** Types of scripts/rotate-secrets-key.mjs, for the tests that import it. */
/** A key's id as sealed values name it: HMAC-SHA256(key, "canopy secrets key id"), first 8 bytes in hex. */
export function keyIdOf(base64Key: string): string;
export function rotateSecretsKey(ctx: unknown): Promise<void>;
