/** D1 access for an organization's egress allowlist (`organizations.egress_allowed_hosts`). */
import { NotFoundError } from "../errors";

/** The allowlist, or null when the organization has none; NotFoundError for an unknown organization. */
export async function getEgressAllowedHosts(db: D1Database, organizationId: string): Promise<string[] | null> {
  const row = await db
    .prepare(`SELECT egress_allowed_hosts FROM organizations WHERE organization_id = ?`)
    .bind(organizationId)
    .first<{ egress_allowed_hosts: string | null }>();
  if (!row) throw new NotFoundError(`Organization ${organizationId} was not found.`);
  return row.egress_allowed_hosts === null ? null : (JSON.parse(row.egress_allowed_hosts) as string[]);
}

/** Replaces the allowlist (already validated and canonical); null removes it. */
export async function putEgressAllowedHosts(db: D1Database, organizationId: string, allowedHosts: string[] | null): Promise<string[] | null> {
  const row = await db
    .prepare(`UPDATE organizations SET egress_allowed_hosts = ? WHERE organization_id = ? RETURNING egress_allowed_hosts`)
    .bind(allowedHosts === null ? null : JSON.stringify(allowedHosts), organizationId)
    .first<{ egress_allowed_hosts: string | null }>();
  if (!row) throw new NotFoundError(`Organization ${organizationId} was not found.`);
  return allowedHosts;
}
