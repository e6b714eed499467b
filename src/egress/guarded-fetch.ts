/**
 * `fetch` under the egress policy. Redirects are followed here, not by the runtime
 * (`redirect: "manual"`), because a runtime that follows them checks nothing: an allowed host
 * answering `302 Location: http://169.254.169.254/` would hand the metadata service's reply to the
 * job. Each hop's destination is checked before anything is sent to it.
 */
import { MAX_EGRESS_REDIRECTS } from "../limits";
import { checkDestination, type EgressPolicy } from "./policy";

/** A refused call: a stable code the step fails with, and a message naming the host and the reason. */
export class EgressError extends Error {
  constructor(
    readonly code: "EGRESS_DENIED" | "TOO_MANY_REDIRECTS" | "REDIRECT_REFUSED",
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}

/** What executors send: a string body, so a 307/308 can send it again to the next hop. */
export interface OutboundInit {
  method: string;
  headers: HeadersInit;
  body?: string;
  signal: AbortSignal;
}

/** The network underneath: the global fetch, or a stand-in in tests. */
export type Transport = (url: string, init: RequestInit) => Promise<Response>;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * The whole header set of a hop to another origin: the engine's own constants, never a value from
 * the caller's init. Any caller header may carry a credential, whatever its name (Authorization, a
 * SigV4 signature, or a `{secret}` header the tenant named `User-Agent` or `Accept`, bound to the
 * first host), and a redirect must not carry it to a host the tenant did not name. No content-type:
 * a body never goes to another origin (see guardedFetch).
 */
const CROSS_ORIGIN_HEADERS: Readonly<Record<string, string>> = { accept: "application/json", "user-agent": "Canopy" };
/** Headers that describe a body, dropped when a redirect turns the request into a GET (Fetch standard). */
const BODY_HEADERS = ["content-type", "content-encoding", "content-language", "content-location", "content-length"];

/** Checks one hop; throws EGRESS_DENIED (nothing sent) when the policy refuses it. */
function allow(target: string, policy: EgressPolicy, from?: URL): URL {
  const verdict = checkDestination(target, policy);
  if (verdict.ok) return verdict.url;
  const via = from ? ` (a redirect from ${from.host})` : "";
  throw new EgressError("EGRESS_DENIED", `Egress to ${verdict.host}${via} refused: ${verdict.reason}. Nothing was sent.`);
}

/** Checks a destination without calling it: throws EGRESS_DENIED when the policy refuses it. */
export function assertEgressAllowed(target: string, policy: EgressPolicy): void {
  allow(target, policy);
}

/**
 * Sends `init` to `target` under `policy`, following at most MAX_EGRESS_REDIRECTS redirects and
 * checking each. Returns the first response that is not a followed redirect; throws EgressError.
 *
 * A hop to another origin sends only CROSS_ORIGIN_HEADERS, and never the body: a redirect that
 * would re-send it there (a 307/308, or a 301/302 of anything but POST) fails with REDIRECT_REFUSED,
 * because the body may itself be the credential (the signed assertion sent to Google's token
 * endpoint, a SigV4-signed Lambda invocation). Same-origin hops keep the caller's headers and body.
 */
export async function guardedFetch(target: string, init: OutboundInit, policy: EgressPolicy, transport: Transport = (u, i) => fetch(u, i)): Promise<Response> {
  let url = allow(target, policy);
  let method = init.method.toUpperCase();
  let body = init.body;
  let headers = new Headers(init.headers);
  for (let redirects = 0; ; redirects++) {
    const res = await transport(url.href, { method, headers: new Headers(headers), ...(body !== undefined ? { body } : {}), redirect: "manual", signal: init.signal });
    const location = REDIRECTS.has(res.status) ? res.headers.get("location") : null;
    if (location === null) return res;
    let next: URL;
    try {
      next = new URL(location, url);
    } catch {
      return res; // a Location that is no URL: the 3xx itself is the answer
    }
    await res.body?.cancel();
    if (redirects === MAX_EGRESS_REDIRECTS) {
      throw new EgressError("TOO_MANY_REDIRECTS", `${url.host} redirected more than ${MAX_EGRESS_REDIRECTS} times in a row; the last Location was not followed.`);
    }
    const to = allow(next.href, policy, url);
    // Fetch standard, "HTTP-redirect fetch": 301/302 turn a POST into a GET, 303 anything but GET/HEAD.
    if (((res.status === 301 || res.status === 302) && method === "POST") || (res.status === 303 && method !== "GET" && method !== "HEAD")) {
      method = "GET";
      body = undefined;
      for (const h of BODY_HEADERS) headers.delete(h);
    }
    if (to.origin !== url.origin) {
      if (body !== undefined) {
        throw new EgressError(
          "REDIRECT_REFUSED",
          `${url.host} answered ${res.status}, a redirect to ${to.host} (another origin) that would send the request body again; a body is never sent to another origin. Nothing was sent to ${to.host}.`,
        );
      }
      headers = new Headers(CROSS_ORIGIN_HEADERS);
    }
    url = to;
  }
}
