/**
 * Host patterns (a secret's `allowedHosts`) and the host a call is sent to. Pure: no I/O.
 *
 * A pattern is a host (`api.example.com`, `127.0.0.1`, `[::1]`) or `*.` and a domain
 * (`*.example.com`: any name under example.com at any depth, never example.com itself), optionally
 * followed by `:port`. Without a port it matches the host on any port: whoever controls a name
 * controls all of its ports, so a port is no boundary a tenant could cross. With a port it matches
 * that port only, which is how loopback and shared addresses are told apart. A pattern is written
 * in the canonical form a URL parser gives (lower case, punycode, dotted-quad IPv4, compressed IPv6
 * in brackets), so what is stored is exactly what is compared.
 *
 * A destination is always `hostname:port` with the port the connection uses (443 for https when
 * the URL names none): see `destinationHost`.
 */
import { MAX_HOST_PATTERN_CHARS } from "./limits";

const DEFAULT_PORTS: Record<string, string> = { "http:": "80", "https:": "443" };

/** One DNS label: letters, digits and inner hyphens, 1 to 63 characters. */
const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const DNS_NAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);
const MAX_DNS_NAME_CHARS = 253;

/** `host[:port]`, where host is a bracketed IPv6 literal or has no colon. */
function splitHostPort(text: string): { host: string; port?: string } | undefined {
  const m = /^(\[[^\]]*\]|[^:[\]]*)(?::([^:]*))?$/.exec(text);
  if (!m) return undefined;
  return m[2] !== undefined ? { host: m[1]!, port: m[2] } : { host: m[1]! };
}

/** The hostname a URL parser makes of `name`, or undefined when it is none. */
function canonicalHostname(name: string): string | undefined {
  try {
    return new URL(`http://${name}/`).hostname;
  } catch {
    return undefined;
  }
}

/** Why `pattern` is not a valid host pattern, or undefined when it is one. */
export function hostPatternProblem(pattern: string): string | undefined {
  if (pattern.length === 0) return "A host pattern cannot be empty.";
  if (pattern.length > MAX_HOST_PATTERN_CHARS) return `A host pattern has at most ${MAX_HOST_PATTERN_CHARS} characters.`;
  const parts = splitHostPort(pattern);
  if (!parts || parts.host === "") return `"${pattern}" is not a host: write a host name such as api.example.com, optionally with :port.`;
  if (parts.port !== undefined && !(/^[1-9][0-9]{0,4}$/.test(parts.port) && Number(parts.port) <= 65535)) {
    return `"${pattern}" has an invalid port: a port is a number from 1 to 65535.`;
  }
  const wildcard = parts.host.startsWith("*.");
  const name = wildcard ? parts.host.slice(2) : parts.host;
  if (name.includes("*")) return `"${pattern}": a wildcard is only allowed as a leading "*." (such as *.example.com).`;
  const canonical = canonicalHostname(name);
  if (canonical === undefined || canonical === "") return `"${pattern}" is not a valid host name.`;
  const port = parts.port !== undefined ? `:${parts.port}` : "";
  if (canonical !== name) return `"${pattern}" is not in canonical form: write it as "${wildcard ? "*." : ""}${canonical}${port}".`;
  const ipv6 = name.startsWith("[");
  if (!ipv6 && (name.length > MAX_DNS_NAME_CHARS || !DNS_NAME.test(name))) {
    return `"${pattern}" is not a valid host name: labels of letters, digits and hyphens separated by dots.`;
  }
  if (wildcard) {
    const labels = name.split(".");
    if (ipv6 || /^[0-9]+$/.test(labels[labels.length - 1]!)) return `"${pattern}": a wildcard cannot cover an IP address.`;
    if (labels.length < 2) return `"${pattern}": a wildcard must name a domain below the top level, such as *.example.com.`;
  }
  return undefined;
}

/**
 * The host a request to `url` is sent to, as `hostname:port` with the port the connection uses
 * (the scheme's default when the URL names none). A trailing dot is dropped: `example.com.` is
 * the same host as `example.com`. Throws a TypeError when `url` is not a URL.
 */
export function destinationHost(url: string | URL): string {
  const u = typeof url === "string" ? new URL(url) : url;
  const hostname = u.hostname.endsWith(".") ? u.hostname.slice(0, -1) : u.hostname;
  return `${hostname}:${u.port || DEFAULT_PORTS[u.protocol] || ""}`;
}

/** Whether the host part of a pattern matches the host name `name`. */
function hostPartMatches(patternHost: string, name: string): boolean {
  if (patternHost.startsWith("*.")) {
    const suffix = patternHost.slice(1); // ".example.com"
    return name.length > suffix.length && name.endsWith(suffix);
  }
  return patternHost === name;
}

/** Whether `pattern` (valid by `hostPatternProblem`) matches `destination` (from `destinationHost`). */
export function hostMatches(pattern: string, destination: string): boolean {
  const p = splitHostPort(pattern);
  const d = splitHostPort(destination);
  if (!p || !d) return false;
  if (p.port !== undefined && p.port !== d.port) return false;
  return hostPartMatches(p.host, d.host);
}

/**
 * Whether `outer` matches every destination `inner` matches (both valid by `hostPatternProblem`):
 * `outer` names no port or the same one, and its host is `inner`'s or, for a wildcard, spans it
 * (`*.example.com` spans `api.example.com` and `*.eu.example.com`, never `example.com`).
 */
export function hostPatternCovers(outer: string, inner: string): boolean {
  const o = splitHostPort(outer);
  const i = splitHostPort(inner);
  if (!o || !i) return false;
  if (o.port !== undefined && o.port !== i.port) return false;
  if (o.host === i.host) return true;
  // A wildcard is spanned only by a wildcard above its domain: `example.com` alone spans no `*.example.com`.
  if (i.host.startsWith("*.")) return o.host.startsWith("*.") && hostPartMatches(o.host, i.host.slice(2));
  return hostPartMatches(o.host, i.host);
}

/** Whether any of `patterns` matches `destination`. */
export function anyHostMatches(patterns: readonly string[], destination: string): boolean {
  return patterns.some((p) => hostMatches(p, destination));
}
