/** D1 access for organizations. */
import { ConflictError, NotFoundError } from "../errors";
import { isoTime, newId } from "../ids";

export interface Organization {
  organizationId: string;
  name: string;
  key: string;
  displayName: string;
  createdAt: string;
  marketplaceAllowlistRequired: false;
}

interface OrganizationRow {
  organization_id: string;
  name: string;
  key: string;
  display_name: string;
  created_at: string;
}

function toOrganization(row: OrganizationRow): Organization {
  return {
    organizationId: row.organization_id,
    name: row.name,
    key: row.key,
    displayName: row.display_name,
    createdAt: row.created_at,
    marketplaceAllowlistRequired: false,
  };
}

/** Creates an organization; its `key` is unique across Canopy. */
export async function createOrganization(
  db: D1Database,
  input: { name: string; key: string; displayName: string },
  now: number,
): Promise<Organization> {
  const row = await db
    .prepare(
      `INSERT INTO organizations (organization_id, name, key, display_name, created_at)
       VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING RETURNING *`,
    )
    .bind(newId(), input.name, input.key, input.displayName, isoTime(now))
    .first<OrganizationRow>();
  if (!row) throw new ConflictError(`An organization with key "${input.key}" already exists.`);
  return toOrganization(row);
}

/** Reads one organization or throws NotFoundError. */
export async function getOrganization(db: D1Database, organizationId: string): Promise<Organization> {
  const row = await db
    .prepare(`SELECT * FROM organizations WHERE organization_id = ?`)
    .bind(organizationId)
    .first<OrganizationRow>();
  if (!row) throw new NotFoundError(`Organization ${organizationId} was not found.`);
  return toOrganization(row);
}

/** Lists organizations; `onlyId` narrows the list to the one a token belongs to. */
export async function listOrganizations(db: D1Database, onlyId?: string): Promise<Organization[]> {
  const stmt = onlyId
    ? db.prepare(`SELECT * FROM organizations WHERE organization_id = ?`).bind(onlyId)
    : db.prepare(`SELECT * FROM organizations ORDER BY created_at, organization_id`);
  const { results } = await stmt.all<OrganizationRow>();
  return results.map(toOrganization);
}
