/**
 * D1 access for organization secrets. Values are sealed with AES-GCM before they reach D1; only
 * `readSecretForUse` (the executors' reader, src/executors/secret-reader.ts) ever opens one.
 * Everything else returns metadata, `allowedHosts` included.
 */
import { open, seal, UnknownSealingKeyError, type SealedColumn } from "../crypto/seal";
import { ConflictError, NotFoundError, SecretUnreadableError } from "../errors";
import { isoTime, newId } from "../ids";
import { MAX_SECRETS_PER_ORGANIZATION } from "../limits";

export interface SecretMetadata {
  /** The id the JustWorkflowIt client addresses a secret by; kept when the value is replaced. */
  secretId: string;
  key: string;
  description?: string;
  /** The host patterns the secret may be sent to (src/host-patterns.ts); absent: not bound. */
  allowedHosts?: string[];
  createdAt: string;
  updatedAt: string;
}

/** What the API may change besides the value. `null` clears; a field left out keeps what is stored. */
export interface SecretMetadataChange {
  description?: string | null;
  allowedHosts?: string[] | null;
}

interface SecretRow {
  organization_id: string;
  secret_id: string;
  key: string;
  description: string | null;
  allowed_hosts: string | null;
  sealed_value: string;
  created_at: string;
  updated_at: string;
}

const METADATA_COLUMNS = "secret_id, key, description, allowed_hosts, created_at, updated_at";

/**
 * SQL naming the key of the secret a path segment refers to: its `secretId` or its key (the
 * client sends either). An id wins over a key that happens to spell another secret's id.
 * Binds three values: organization id, reference, reference.
 */
const KEY_OF_REF = `(SELECT key FROM organization_secrets WHERE organization_id = ?1 AND (secret_id = ?2 OR key = ?2)
  ORDER BY secret_id = ?2 DESC LIMIT 1)`;

/**
 * The stored `allowed_hosts` JSON. Only this module writes it; should it ever not read back as a
 * list of strings, the secret is treated as bound to nothing, so it fails closed.
 */
function parseAllowedHosts(text: string | null): string[] | undefined {
  if (text === null) return undefined;
  try {
    const hosts: unknown = JSON.parse(text);
    if (Array.isArray(hosts) && hosts.every((h) => typeof h === "string")) return hosts;
  } catch {
    /* fall through: fail closed */
  }
  return [];
}

function toMetadata(row: Pick<SecretRow, "secret_id" | "key" | "description" | "allowed_hosts" | "created_at" | "updated_at">): SecretMetadata {
  const allowedHosts = parseAllowedHosts(row.allowed_hosts);
  return {
    secretId: row.secret_id,
    key: row.key,
    ...(row.description !== null ? { description: row.description } : {}),
    ...(allowedHosts !== undefined ? { allowedHosts } : {}),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** The column value for an `allowedHosts` change: JSON, or NULL to unbind. */
function allowedHostsColumn(hosts: string[] | null): string | null {
  return hosts === null ? null : JSON.stringify(hosts);
}

/** Binds a ciphertext to its organization and key: a sealed value copied to another row does not open. */
function associatedData(organizationId: string, key: string): string {
  return JSON.stringify(["organization-secret", organizationId, key]);
}

/** Where organization secrets' sealed values are, for ResealSecrets. */
export const SEALED_SECRET_VALUES: SealedColumn = {
  table: "organization_secrets",
  column: "sealed_value",
  keys: ["organization_id", "key"],
  associatedData: ([organizationId, key]) => associatedData(organizationId!, key!),
};

/**
 * Creates a secret or replaces its value. A description or `allowedHosts` left out keeps the one
 * stored, so rotating a credential is `{key, value}` alone and never unbinds it; `null` clears.
 */
export async function putOrganizationSecret(
  env: Pick<Env, "DB" | "SECRETS_KEY" | "SECRETS_KEY_PREVIOUS">,
  organizationId: string,
  input: { key: string; value: string } & SecretMetadataChange,
  now: number,
): Promise<SecretMetadata> {
  const sealed = await seal(env, input.value, associatedData(organizationId, input.key));
  const at = isoTime(now);
  const keep = (column: string, given: boolean) => `${column} = ${given ? "excluded" : "organization_secrets"}.${column}`;
  // A new key past MAX_SECRETS_PER_ORGANIZATION inserts nothing (ListOrganizationSecrets lists them
  // all); an existing key is replaced whatever the count.
  const row = await env.DB.prepare(
    `INSERT INTO organization_secrets (organization_id, key, description, allowed_hosts, sealed_value, created_at, updated_at, secret_id)
     SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8
     WHERE (SELECT count(*) FROM organization_secrets WHERE organization_id = ?1) < ?9
        OR EXISTS (SELECT 1 FROM organization_secrets WHERE organization_id = ?1 AND key = ?2)
     ON CONFLICT (organization_id, key) DO UPDATE SET
       sealed_value = excluded.sealed_value,
       ${keep("description", input.description !== undefined)},
       ${keep("allowed_hosts", input.allowedHosts !== undefined)},
       updated_at = excluded.updated_at
     RETURNING ${METADATA_COLUMNS}`,
  )
    .bind(organizationId, input.key, input.description ?? null, allowedHostsColumn(input.allowedHosts ?? null), sealed, at, at, newId(), MAX_SECRETS_PER_ORGANIZATION)
    .first<SecretRow>();
  if (!row) throw new ConflictError(`An organization has at most ${MAX_SECRETS_PER_ORGANIZATION} secrets; delete one first.`);
  return toMetadata(row);
}

/**
 * Replaces the value of an existing secret named by id or key (UpdateOrganizationSecret with a
 * value), with the same rules as `putOrganizationSecret` for the rest; NotFoundError when there is
 * none, so a secret deleted meanwhile is never created again under a new id.
 */
export async function replaceOrganizationSecretValue(
  env: Pick<Env, "DB" | "SECRETS_KEY" | "SECRETS_KEY_PREVIOUS">,
  organizationId: string,
  ref: string,
  input: { value: string } & SecretMetadataChange,
  now: number,
): Promise<SecretMetadata> {
  const { key } = await getOrganizationSecretMetadata(env.DB, organizationId, ref);
  const sealed = await seal(env, input.value, associatedData(organizationId, key));
  const sets = ["sealed_value = ?3", "updated_at = ?4"];
  const values: (string | null)[] = [sealed, isoTime(now)];
  if (input.description !== undefined) (sets.push(`description = ?${values.length + 3}`), values.push(input.description));
  if (input.allowedHosts !== undefined) (sets.push(`allowed_hosts = ?${values.length + 3}`), values.push(allowedHostsColumn(input.allowedHosts)));
  const row = await env.DB.prepare(`UPDATE organization_secrets SET ${sets.join(", ")} WHERE organization_id = ?1 AND key = ?2 RETURNING ${METADATA_COLUMNS}`)
    .bind(organizationId, key, ...values)
    .first<SecretRow>();
  if (!row) throw new NotFoundError(`Secret "${ref}" was not found.`);
  return toMetadata(row);
}

/**
 * Changes a secret's description or `allowedHosts` without its value, or throws NotFoundError.
 * `key` may be the secret's key or its id.
 * With `ifAllowedHosts`, only while the stored binding is still that one (`undefined`: unbound),
 * else ConflictError: a change checked against a binding never lands on another.
 */
export async function updateOrganizationSecretMetadata(
  db: D1Database,
  organizationId: string,
  key: string,
  change: SecretMetadataChange,
  now: number,
  condition?: { ifAllowedHosts: string[] | undefined },
): Promise<SecretMetadata> {
  const values: (string | null)[] = [organizationId, key, isoTime(now)];
  const param = (value: string | null) => (values.push(value), `?${values.length}`);
  const sets = ["updated_at = ?3"];
  if (change.description !== undefined) sets.push(`description = ${param(change.description)}`);
  if (change.allowedHosts !== undefined) sets.push(`allowed_hosts = ${param(allowedHostsColumn(change.allowedHosts))}`);
  const where = ["organization_id = ?1", `key = ${KEY_OF_REF}`];
  if (condition) where.push(`allowed_hosts IS ${param(allowedHostsColumn(condition.ifAllowedHosts ?? null))}`);
  const row = await db
    .prepare(`UPDATE organization_secrets SET ${sets.join(", ")} WHERE ${where.join(" AND ")} RETURNING ${METADATA_COLUMNS}`)
    .bind(...values)
    .first<SecretRow>();
  if (row) return toMetadata(row);
  if (!condition) throw new NotFoundError(`Secret "${key}" was not found.`);
  await getOrganizationSecretMetadata(db, organizationId, key); // NotFoundError when it is gone
  throw new ConflictError(`The allowedHosts of secret "${key}" changed while this request was checked; nothing was changed. Retry.`);
}

/** Lists an organization's secrets by key, without values. */
export async function listOrganizationSecrets(db: D1Database, organizationId: string): Promise<SecretMetadata[]> {
  const { results } = await db
    .prepare(`SELECT ${METADATA_COLUMNS} FROM organization_secrets WHERE organization_id = ? ORDER BY key`)
    .bind(organizationId)
    .all<SecretRow>();
  return results.map(toMetadata);
}

/** One secret's metadata, by its id or its key, or NotFoundError. */
export async function getOrganizationSecretMetadata(db: D1Database, organizationId: string, ref: string): Promise<SecretMetadata> {
  const row = await db
    .prepare(`SELECT ${METADATA_COLUMNS} FROM organization_secrets WHERE organization_id = ?1 AND key = ${KEY_OF_REF}`)
    .bind(organizationId, ref)
    .first<SecretRow>();
  if (!row) throw new NotFoundError(`Secret "${ref}" was not found.`);
  return toMetadata(row);
}

/**
 * Deletes a secret named by its id or its key, or throws NotFoundError; returns which it was.
 * Steps that need it fail from their next call.
 */
export async function deleteOrganizationSecret(db: D1Database, organizationId: string, ref: string): Promise<{ secretId: string; key: string }> {
  const row = await db
    .prepare(`DELETE FROM organization_secrets WHERE organization_id = ?1 AND key = ${KEY_OF_REF} RETURNING secret_id, key`)
    .bind(organizationId, ref)
    .first<Pick<SecretRow, "secret_id" | "key">>();
  if (!row) throw new NotFoundError(`Secret "${ref}" was not found.`);
  return { secretId: row.secret_id, key: row.key };
}

/** The statement that deletes every secret of an organization (run in DeleteOrganization's batch). */
export function deleteAllSecretsStatement(db: D1Database, organizationId: string): D1PreparedStatement {
  return db.prepare(`DELETE FROM organization_secrets WHERE organization_id = ?`).bind(organizationId);
}

/** A secret as a call uses it: the value and what decides where it may go. */
export interface SecretForUse {
  secretId: string;
  value: string;
  /** Absent: not bound, any host (each first use recorded). */
  allowedHosts?: string[];
  /** Tells a secret from one deleted and created again under the same key. */
  createdAt: string;
}

/**
 * A secret with its bindings, decrypted, or undefined when the organization has none by that key.
 * For executors, and for ResolveOrganizationSecret (which only a token granted `secret:resolve` reaches).
 * A value sealed under a key the deployment no longer has throws SecretUnreadableError, naming the secret.
 */
export async function readSecretForUse(env: Pick<Env, "DB" | "SECRETS_KEY" | "SECRETS_KEY_PREVIOUS">, organizationId: string, key: string): Promise<SecretForUse | undefined> {
  const row = await env.DB.prepare(`SELECT secret_id, sealed_value, allowed_hosts, created_at FROM organization_secrets WHERE organization_id = ? AND key = ?`)
    .bind(organizationId, key)
    .first<Pick<SecretRow, "secret_id" | "sealed_value" | "allowed_hosts" | "created_at">>();
  if (!row) return undefined;
  const allowedHosts = parseAllowedHosts(row.allowed_hosts);
  let value: string;
  try {
    value = await open(env, row.sealed_value, associatedData(organizationId, key));
  } catch (e) {
    if (e instanceof UnknownSealingKeyError) throw new SecretUnreadableError(`Organization secret "${key}"`, e.message);
    throw e;
  }
  return {
    secretId: row.secret_id,
    value,
    ...(allowedHosts !== undefined ? { allowedHosts } : {}),
    createdAt: row.created_at,
  };
}

/** Who used an unbound secret toward a host (`hostname:port`). */
export interface UnboundSecretUse {
  organizationId: string;
  key: string;
  host: string;
  jobId: string;
  stepName: string;
}

/**
 * Records the use of an unbound secret toward a host unless one is already recorded; true when
 * this call recorded it, which happens once per (secret, host) across all isolates.
 */
export async function recordUnboundSecretUse(db: D1Database, use: UnboundSecretUse, now: number): Promise<boolean> {
  const result = await db
    .prepare(
      `INSERT OR IGNORE INTO secret_unbound_uses (organization_id, key, host, first_used_at, job_id, step_name) VALUES (?, ?, ?, ?, ?, ?)`,
    )
    .bind(use.organizationId, use.key, use.host, isoTime(now), use.jobId, use.stepName)
    .run();
  return result.meta.changes > 0;
}
