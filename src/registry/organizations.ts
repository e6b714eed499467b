/** D1 access for organizations. A deleted organization (deleted_at set) is found by nothing here. */
import { ConflictError, NotFoundError } from "../errors";
import { isoTime, newId } from "../ids";
import { DERIVED_KEY_TRIES } from "../limits";
import type { IndexRef } from "../job-index/shards";
import { TtlCache } from "./ttl-cache";

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

/** An organization key: lower-case letters, digits, `-` and `_`, starting with a letter or digit (the client's rule). */
export const ORGANIZATION_KEY_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/**
 * The key CreateOrganization derives from a name when none is given: lower case, every run of
 * other characters made one `-`, trimmed to 56 characters so a `-<n>` suffix still fits in 63.
 */
export function keyFromName(name: string): string {
  const base = name
    .normalize("NFKD")
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, "-")
    .replace(/^[-_]+|[-_]+$/g, "")
    .slice(0, 56)
    .replace(/[-_]+$/, "");
  return base.length > 0 ? base : "org";
}

async function insertOrganization(db: D1Database, id: string, input: { name: string; key: string; displayName: string; jobIndexShards?: number }, now: number) {
  return db
    .prepare(
      `INSERT INTO organizations (organization_id, name, key, display_name, created_at, job_index_shards)
       VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING RETURNING *`,
    )
    .bind(id, input.name, input.key, input.displayName, isoTime(now), input.jobIndexShards ?? 1)
    .first<OrganizationRow>();
}

/**
 * Creates an organization; its `key` is unique across Canopy. Without a key, one is derived from
 * the name, with `-2`, `-3`… (then a random suffix) when the derived one is taken.
 */
export async function createOrganization(
  db: D1Database,
  input: { name: string; key?: string; displayName: string; jobIndexShards?: number },
  now: number,
): Promise<Organization> {
  const id = newId();
  if (input.key !== undefined) {
    const row = await insertOrganization(db, id, { ...input, key: input.key }, now);
    if (!row) throw new ConflictError(`An organization with key "${input.key}" already exists.`);
    return toOrganization(row);
  }
  const base = keyFromName(input.name);
  const candidates = [base, ...Array.from({ length: DERIVED_KEY_TRIES }, (_, i) => `${base}-${i + 2}`), `${base}-${crypto.randomUUID().slice(0, 6)}`];
  for (const key of candidates) {
    const row = await insertOrganization(db, id, { ...input, key }, now);
    if (row) return toOrganization(row);
  }
  throw new ConflictError(`No free key could be derived from "${input.name}"; give one.`);
}

/** Reads one live organization or throws NotFoundError. */
export async function getOrganization(db: D1Database, organizationId: string): Promise<Organization> {
  const row = await db
    .prepare(`SELECT * FROM organizations WHERE organization_id = ? AND deleted_at IS NULL`)
    .bind(organizationId)
    .first<OrganizationRow>();
  if (!row) throw new NotFoundError(`Organization ${organizationId} was not found.`);
  return toOrganization(row);
}

/** Lists live organizations; `onlyId` narrows the list to the one a token belongs to. */
export async function listOrganizations(db: D1Database, onlyId?: string): Promise<Organization[]> {
  const stmt = onlyId
    ? db.prepare(`SELECT * FROM organizations WHERE organization_id = ? AND deleted_at IS NULL`).bind(onlyId)
    : db.prepare(`SELECT * FROM organizations WHERE deleted_at IS NULL ORDER BY created_at, organization_id`);
  const { results } = await stmt.all<OrganizationRow>();
  return results.map(toOrganization);
}

/** Changes a live organization's display name, or throws NotFoundError. */
export async function updateOrganization(db: D1Database, organizationId: string, change: { displayName?: string }): Promise<Organization> {
  const row = await db
    .prepare(`UPDATE organizations SET display_name = coalesce(?, display_name) WHERE organization_id = ? AND deleted_at IS NULL RETURNING *`)
    .bind(change.displayName ?? null, organizationId)
    .first<OrganizationRow>();
  if (!row) throw new NotFoundError(`Organization ${organizationId} was not found.`);
  return toOrganization(row);
}

/**
 * Marks a live organization deleted, in one statement that also frees its key; the caller runs it
 * in the batch that revokes the organization's tokens, triggers and secrets. NotFoundError when it
 * was not live (also for a second, racing delete: one of them wins).
 */
export function markOrganizationDeletedStatement(db: D1Database, organizationId: string, now: number): D1PreparedStatement {
  return db
    .prepare(`UPDATE organizations SET deleted_at = ?, key = 'deleted:' || organization_id WHERE organization_id = ? AND deleted_at IS NULL`)
    .bind(isoTime(now), organizationId);
}

/** Whether a live organization has this id (one indexed read, for the admin token's requests). */
export async function organizationIsLive(db: D1Database, organizationId: string): Promise<boolean> {
  return (await db.prepare(`SELECT 1 AS live FROM organizations WHERE organization_id = ? AND deleted_at IS NULL`).bind(organizationId).first()) !== null;
}

/** Shard counts never change, so they are kept for the isolate's life (bounded: an entry is a few bytes). */
const indexShards = new TtlCache<number>(Infinity, 10_000);

/**
 * Where an organization's job index lives: its id and the shard count it was created with (a
 * deleted organization's too: its purge needs it). Cold, one indexed D1 read per isolate; then none.
 */
export async function organizationIndex(db: D1Database, organizationId: string): Promise<IndexRef> {
  let shards = indexShards.get(organizationId);
  if (shards === undefined) {
    const row = await db.prepare(`SELECT job_index_shards AS n FROM organizations WHERE organization_id = ?`).bind(organizationId).first<{ n: number }>();
    shards = row?.n ?? 1;
    if (row) indexShards.set(organizationId, shards);
  }
  return { organizationId, shards };
}
