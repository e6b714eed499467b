/**
 * The egress policy: where an executor may send a request. Pure: the same destination and policy
 * always give the same verdict, so the guarded fetch can ask again at every redirect hop.
 *
 * Deployed, only https reaches public hosts. `ALLOW_PRIVATE_EGRESS=true` (local development, where
 * the far ends are on loopback or a private network) lifts the address check and allows plain http.
 * An organization's allowlist narrows either further; it never widens them.
 */
import { classifyIPv4, classifyIPv6, endsInNumber, parseIPv4, parseIPv6 } from "./addresses";
import { anyHostMatches, destinationHost } from "../host-patterns";

export interface EgressPolicy {
  /** Private, loopback and link-local destinations and plain http are allowed (local development only). */
  allowPrivate: boolean;
  /** The organization's host patterns (src/host-patterns.ts, as secrets use them); null: any host the rules above allow. */
  allowedHosts: readonly string[] | null;
}

/** A destination that may be called (as the URL to send), or the host and why it may not. */
export type EgressVerdict = { ok: true; url: URL } | { ok: false; host: string; reason: string };

/** The policy for an environment: only the exact string "true" lifts the deployed defaults. */
export function egressPolicy(env: { ALLOW_PRIVATE_EGRESS?: string }, allowedHosts: readonly string[] | null): EgressPolicy {
  return { allowPrivate: env.ALLOW_PRIVATE_EGRESS === "true", allowedHosts };
}

/** Names that resolve only on a private network or to the machine itself (RFC 6761, 6762, 8375; ICANN's .internal). */
const PRIVATE_SUFFIXES: ReadonlyArray<[string, string]> = [
  ["localhost", "a loopback name (localhost)"],
  ["local", "a link-local multicast DNS name (.local)"],
  ["internal", "a private-use name (.internal)"],
  ["home.arpa", "a home network name (.home.arpa)"],
];

/**
 * Why a host (a `URL#hostname`, or any spelling a resolver accepts) is not a public destination,
 * or undefined when nothing about it says so. A DNS name is judged by its text alone: what it
 * resolves to is not visible from a Worker.
 */
export function privateHostReason(hostname: string): string | undefined {
  const host = hostname.toLowerCase();
  if (host === "" || host === ".") return "there is no host";
  if (host.startsWith("[") || host.includes(":")) {
    const groups = host.startsWith("[") && host.endsWith("]") ? parseIPv6(host.slice(1, -1)) : parseIPv6(host);
    return groups ? classifyIPv6(groups) : "it is not a valid IPv6 address";
  }
  if (endsInNumber(host)) {
    const n = parseIPv4(host);
    return n === undefined ? "a host ending in a number is read as an IPv4 address, and this one is malformed" : classifyIPv4(n);
  }
  const name = host.replace(/\.$/, "");
  for (const [suffix, reason] of PRIVATE_SUFFIXES) {
    if (name === suffix || name.endsWith(`.${suffix}`)) return reason;
  }
  if (!name.includes(".")) return "a single-label name, which only a private resolver answers";
  return undefined;
}

/** Checks one destination (the first request or a redirect's Location) against the policy. */
export function checkDestination(target: string | URL, policy: EgressPolicy): EgressVerdict {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return { ok: false, host: String(target).slice(0, 200), reason: "it is not a valid URL" };
  }
  const host = url.hostname;
  if (url.protocol !== "https:" && url.protocol !== "http:") return { ok: false, host: host || url.protocol, reason: `${url.protocol} is not HTTP` };
  if (!policy.allowPrivate) {
    const reason = privateHostReason(host);
    if (reason) return { ok: false, host, reason };
    if (url.protocol === "http:") return { ok: false, host, reason: "plain http is refused: a deployed engine calls https only" };
  }
  if (policy.allowedHosts !== null && !anyHostMatches(policy.allowedHosts, destinationHost(url))) {
    return { ok: false, host, reason: "it is not on the organization's egress allowlist" };
  }
  return { ok: true, url };
}
