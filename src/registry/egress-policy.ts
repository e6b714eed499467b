/** D1 access for an organization's egress allowlist (`organizations.egress_allowed_hosts`). */
import { NotFoundError } from "../errors";
import { EGRESS_POLICY_CACHE_ENTRIES } from "../limits";
import { REGISTRY_CACHE_MS, TtlCache } from "./ttl-cache";

/**
 * What executor calls read (`cachedEgressAllowedHosts`): every HTTP, Lambda or GCP call checks its
 * organization's allowlist, and a D1 read per call would put every tenant's calls on the registry.
 * Cached like the other mutable registry facts: a change applies in this isolate at once, in
 * others within REGISTRY_CACHE_MS. (`null`, no allowlist, is cached too.)
 */
const forCalls = new TtlCache<string[] | null>(REGISTRY_CACHE_MS, EGRESS_POLICY_CACHE_ENTRIES);

/** The allowlist, or null when the organization has none; NotFoundError for an unknown organization. */
export async function getEgressAllowedHosts(db: D1Database, organizationId: string): Promise<string[] | null> {
  const row = await db
    .prepare(`SELECT egress_allowed_hosts FROM organizations WHERE organization_id = ?`)
    .bind(organizationId)
    .first<{ egress_allowed_hosts: string | null }>();
  if (!row) throw new NotFoundError(`Organization ${organizationId} was not found.`);
  return row.egress_allowed_hosts === null ? null : (JSON.parse(row.egress_allowed_hosts) as string[]);
}

/** The allowlist as executor calls read it: from this isolate's cache when it is fresh. */
export async function cachedEgressAllowedHosts(db: D1Database, organizationId: string): Promise<string[] | null> {
  const hit = forCalls.get(organizationId);
  if (hit !== undefined) return hit;
  const hosts = await getEgressAllowedHosts(db, organizationId);
  forCalls.set(organizationId, hosts);
  return hosts;
}

/** Replaces the allowlist (already validated and canonical); null removes it. */
export async function putEgressAllowedHosts(db: D1Database, organizationId: string, allowedHosts: string[] | null): Promise<string[] | null> {
  const row = await db
    .prepare(`UPDATE organizations SET egress_allowed_hosts = ? WHERE organization_id = ? RETURNING egress_allowed_hosts`)
    .bind(allowedHosts === null ? null : JSON.stringify(allowedHosts), organizationId)
    .first<{ egress_allowed_hosts: string | null }>();
  if (!row) throw new NotFoundError(`Organization ${organizationId} was not found.`);
  // This isolate's calls apply it at once; others' within REGISTRY_CACHE_MS.
  forCalls.set(organizationId, allowedHosts);
  return allowedHosts;
}
