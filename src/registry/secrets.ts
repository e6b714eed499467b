/**
 * D1 access for organization secrets. Values are sealed with AES-GCM before they reach D1; only
 * `readOrganizationSecret`, which executors call at call time, ever opens one. Everything else
 * returns metadata.
 */
import { open, seal } from "../crypto/seal";
import { NotFoundError } from "../errors";
import { isoTime } from "../ids";

export interface SecretMetadata {
  key: string;
  description?: string;
  createdAt: string;
  updatedAt: string;
}

interface SecretRow {
  organization_id: string;
  key: string;
  description: string | null;
  sealed_value: string;
  created_at: string;
  updated_at: string;
}

const METADATA_COLUMNS = "key, description, created_at, updated_at";

function toMetadata(row: Pick<SecretRow, "key" | "description" | "created_at" | "updated_at">): SecretMetadata {
  return {
    key: row.key,
    ...(row.description !== null ? { description: row.description } : {}),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Binds a ciphertext to its organization and key: a sealed value copied to another row does not open. */
function associatedData(organizationId: string, key: string): string {
  return JSON.stringify(["organization-secret", organizationId, key]);
}

/**
 * Creates a secret or replaces its value. A description left out keeps the one stored, so rotating
 * a credential is `{key, value}` alone.
 */
export async function putOrganizationSecret(
  env: Pick<Env, "DB" | "SECRETS_KEY">,
  organizationId: string,
  input: { key: string; value: string; description?: string },
  now: number,
): Promise<SecretMetadata> {
  const sealed = await seal(env, input.value, associatedData(organizationId, input.key));
  const at = isoTime(now);
  const row = await env.DB.prepare(
    `INSERT INTO organization_secrets (organization_id, key, description, sealed_value, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (organization_id, key) DO UPDATE SET
       sealed_value = excluded.sealed_value,
       description = COALESCE(excluded.description, organization_secrets.description),
       updated_at = excluded.updated_at
     RETURNING ${METADATA_COLUMNS}`,
  )
    .bind(organizationId, input.key, input.description ?? null, sealed, at, at)
    .first<SecretRow>();
  return toMetadata(row!);
}

/** Lists an organization's secrets by key, without values. */
export async function listOrganizationSecrets(db: D1Database, organizationId: string): Promise<SecretMetadata[]> {
  const { results } = await db
    .prepare(`SELECT ${METADATA_COLUMNS} FROM organization_secrets WHERE organization_id = ? ORDER BY key`)
    .bind(organizationId)
    .all<SecretRow>();
  return results.map(toMetadata);
}

/** One secret's metadata, or NotFoundError. */
export async function getOrganizationSecretMetadata(db: D1Database, organizationId: string, key: string): Promise<SecretMetadata> {
  const row = await db
    .prepare(`SELECT ${METADATA_COLUMNS} FROM organization_secrets WHERE organization_id = ? AND key = ?`)
    .bind(organizationId, key)
    .first<SecretRow>();
  if (!row) throw new NotFoundError(`Secret "${key}" was not found.`);
  return toMetadata(row);
}

/** Deletes a secret, or throws NotFoundError. Steps that need it fail from their next call. */
export async function deleteOrganizationSecret(db: D1Database, organizationId: string, key: string): Promise<void> {
  const result = await db.prepare(`DELETE FROM organization_secrets WHERE organization_id = ? AND key = ?`).bind(organizationId, key).run();
  if (result.meta.changes === 0) throw new NotFoundError(`Secret "${key}" was not found.`);
}

/** The decrypted value of a secret, or undefined when the organization has none by that key. For executors only. */
export async function readOrganizationSecret(env: Pick<Env, "DB" | "SECRETS_KEY">, organizationId: string, key: string): Promise<string | undefined> {
  const row = await env.DB.prepare(`SELECT sealed_value FROM organization_secrets WHERE organization_id = ? AND key = ?`)
    .bind(organizationId, key)
    .first<Pick<SecretRow, "sealed_value">>();
  return row ? open(env, row.sealed_value, associatedData(organizationId, key)) : undefined;
}
