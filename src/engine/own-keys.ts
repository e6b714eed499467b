/**
 * Records keyed by the user's strings (event ids, step names). Reads see own keys only and writes
 * define own keys, so "__proto__", "constructor" or "toString" are ordinary keys: never a member
 * inherited from Object.prototype, and never a write that reaches it (which would break every
 * object in the isolate).
 */

/** The value stored under `key`, if this record itself has one. */
export function getOwn<T>(record: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** Stores `value` under `key` as an own property, even for "__proto__". */
export function setOwn<T>(record: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
}
