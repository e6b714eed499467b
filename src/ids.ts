/** Identifiers and timestamps. */

/** A random RFC 4122 v4 UUID. */
export function newId(): string {
  return crypto.randomUUID();
}

/**
 * A UUID derived from its parts (SHA-256, formatted as a version-8 UUID), so the same parts always
 * name the same thing: a replayed alarm asking for "child 3 of step fanOut, attempt 1" gets the same id.
 */
export async function deterministicId(...parts: (string | number)[]): Promise<string> {
  const data = new TextEncoder().encode(parts.map(String).join("\u0000"));
  const bytes = new Uint8Array(await crypto.subtle.digest("SHA-256", data)).slice(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** RFC 3339 timestamp with milliseconds, as the API returns. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isUuid(s: string): boolean {
  return UUID_RE.test(s);
}

/**
 * The one spelling of a UUID: lower case, as `newId` and `deterministicId` write them, or null for
 * a string that is not one. A job's Durable Object is named by its id, so `ABC…` and `abc…` would
 * otherwise name two different objects.
 */
export function canonicalUuid(s: string): string | null {
  return isUuid(s) ? s.toLowerCase() : null;
}
