/**
 * Outbound HTTP for one executor call, under its organization's egress policy: the environment's
 * defaults (ALLOW_PRIVATE_EGRESS) narrowed by the organization's allowlist, read when the call
 * first needs it through the registry's per-isolate cache (src/registry/egress-policy.ts), so a
 * changed allowlist applies within REGISTRY_CACHE_MS.
 */
import { cachedEgressAllowedHosts } from "../registry/egress-policy";
import { assertEgressAllowed, guardedFetch, type OutboundInit, type Transport } from "./guarded-fetch";
import { egressPolicy, type EgressPolicy } from "./policy";

/** What executors use instead of the global fetch. */
export interface Egress {
  /** Throws EgressError (EGRESS_DENIED) when `url` may not be called; sends nothing. */
  check(url: string): Promise<void>;
  /** Sends a request with every redirect hop checked; throws EgressError. */
  fetch(url: string, init: OutboundInit): Promise<Response>;
}

/** The egress of one call made on behalf of `organizationId`. */
export function organizationEgress(env: Pick<Env, "DB" | "ALLOW_PRIVATE_EGRESS">, organizationId: string, transport?: Transport): Egress {
  let policy: Promise<EgressPolicy> | undefined;
  const load = () => (policy ??= cachedEgressAllowedHosts(env.DB, organizationId).then((hosts) => egressPolicy(env, hosts)));
  return {
    async check(url) {
      assertEgressAllowed(url, await load());
    },
    async fetch(url, init) {
      return guardedFetch(url, init, await load(), transport);
    },
  };
}
