/**
 * D1 access for webhook triggers, their delivery records and GitHub body digests. The signing
 * secret is sealed before it reaches the database, with associated data naming the organization
 * and trigger, so a sealed secret copied to another row does not open.
 */
import { open, seal, UnknownSealingKeyError, type SealedColumn } from "../crypto/seal";
import type { InputTransformer } from "../definition/transformer";
import { ConflictError, NotFoundError, SecretUnreadableError } from "../errors";
import { isoTime, isUuid } from "../ids";
import { MAX_WEBHOOK_TRIGGERS_PER_ORGANIZATION, WEBHOOK_BODY_REPLAY_WINDOW_MS, WEBHOOK_DELIVERY_RETENTION_MS, WEBHOOK_PRUNE_BATCH } from "../limits";
import type { VersionSelector } from "../registry/versions";
import type { Scheme } from "./signatures";

/** A trigger as the API shows it: never its secret. */
export interface WebhookTrigger {
  triggerId: string;
  organizationId: string;
  name: string;
  workflowId: string;
  workflowVersion: VersionSelector;
  scheme: Scheme;
  inputTransformer?: InputTransformer;
  rateLimitPerSecond?: number;
  createdAt: string;
}

export interface NewTrigger {
  triggerId: string;
  organizationId: string;
  name: string;
  workflowId: string;
  workflowVersion: VersionSelector;
  scheme: Scheme;
  secret: string;
  inputTransformer?: InputTransformer;
  rateLimitPerSecond?: number;
}

interface TriggerRow {
  trigger_id: string;
  organization_id: string;
  name: string;
  workflow_id: string;
  workflow_version: string;
  scheme: Scheme;
  sealed_secret: string;
  input_transformer: string | null;
  rate_limit_per_second: number | null;
  created_at: string;
  deleted_at: string | null;
}

const toTrigger = (row: TriggerRow): WebhookTrigger => ({
  triggerId: row.trigger_id,
  organizationId: row.organization_id,
  name: row.name,
  workflowId: row.workflow_id,
  workflowVersion: JSON.parse(row.workflow_version) as VersionSelector,
  scheme: row.scheme,
  ...(row.input_transformer !== null ? { inputTransformer: JSON.parse(row.input_transformer) as InputTransformer } : {}),
  ...(row.rate_limit_per_second !== null ? { rateLimitPerSecond: row.rate_limit_per_second } : {}),
  createdAt: row.created_at,
});

/** What binds a sealed secret to its row. */
const secretContext = (organizationId: string, triggerId: string) => `webhook-trigger:${organizationId}:${triggerId}`;

/** Where triggers' sealed signing secrets are, for ResealSecrets (deleted triggers' too: nothing stays under an old key). */
export const SEALED_TRIGGER_SECRETS: SealedColumn = {
  table: "webhook_triggers",
  column: "sealed_secret",
  keys: ["organization_id", "trigger_id"],
  associatedData: ([organizationId, triggerId]) => secretContext(organizationId!, triggerId!),
};

/** Stores a trigger with its secret sealed. */
export async function createTrigger(env: Pick<Env, "DB" | "SECRETS_KEY" | "SECRETS_KEY_PREVIOUS">, t: NewTrigger, now: number): Promise<WebhookTrigger> {
  const sealed = await seal(env, t.secret, secretContext(t.organizationId, t.triggerId));
  // At most MAX_WEBHOOK_TRIGGERS_PER_ORGANIZATION live ones (ListWebhookTriggers lists them all), counted in the same statement.
  const row = await env.DB.prepare(
    `INSERT INTO webhook_triggers (trigger_id, organization_id, name, workflow_id, workflow_version, scheme, sealed_secret,
       input_transformer, rate_limit_per_second, created_at)
     SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10
     WHERE (SELECT count(*) FROM webhook_triggers WHERE organization_id = ?2 AND deleted_at IS NULL) < ?11 RETURNING *`,
  )
    .bind(
      t.triggerId,
      t.organizationId,
      t.name,
      t.workflowId,
      JSON.stringify(t.workflowVersion),
      t.scheme,
      sealed,
      t.inputTransformer !== undefined ? JSON.stringify(t.inputTransformer) : null,
      t.rateLimitPerSecond ?? null,
      isoTime(now),
      MAX_WEBHOOK_TRIGGERS_PER_ORGANIZATION,
    )
    .first<TriggerRow>();
  if (!row) throw new ConflictError(`An organization has at most ${MAX_WEBHOOK_TRIGGERS_PER_ORGANIZATION} webhook triggers; delete one first.`);
  return toTrigger(row);
}

/** Lists an organization's live triggers, oldest first. */
export async function listTriggers(db: D1Database, organizationId: string): Promise<WebhookTrigger[]> {
  const { results } = await db
    .prepare(`SELECT * FROM webhook_triggers WHERE organization_id = ? AND deleted_at IS NULL ORDER BY created_at, trigger_id`)
    .bind(organizationId)
    .all<TriggerRow>();
  return results.map(toTrigger);
}

/** Deletes a live trigger of this organization, or throws NotFoundError (also for another tenant's). */
export async function deleteTrigger(db: D1Database, organizationId: string, triggerId: string, now: number): Promise<void> {
  const result = isUuid(triggerId)
    ? await db
        .prepare(`UPDATE webhook_triggers SET deleted_at = ? WHERE trigger_id = ? AND organization_id = ? AND deleted_at IS NULL`)
        .bind(isoTime(now), triggerId, organizationId)
        .run()
    : undefined;
  if (!result || result.meta.changes === 0) throw new NotFoundError(`Webhook trigger ${triggerId} was not found.`);
}

/** The statement that deletes every live trigger of an organization (run in DeleteOrganization's batch). */
export function deleteAllTriggersStatement(db: D1Database, organizationId: string, now: number): D1PreparedStatement {
  return db.prepare(`UPDATE webhook_triggers SET deleted_at = ? WHERE organization_id = ? AND deleted_at IS NULL`).bind(isoTime(now), organizationId);
}

/** A live trigger with its opened secret, for verifying a delivery; null when unknown or deleted. */
export async function findTriggerForDelivery(
  env: Pick<Env, "DB" | "SECRETS_KEY" | "SECRETS_KEY_PREVIOUS">,
  triggerId: string,
): Promise<{ trigger: WebhookTrigger; secret: string } | null> {
  if (!isUuid(triggerId)) return null;
  const row = await env.DB.prepare(`SELECT * FROM webhook_triggers WHERE trigger_id = ? AND deleted_at IS NULL`)
    .bind(triggerId)
    .first<TriggerRow>();
  if (!row) return null;
  let secret: string;
  try {
    secret = await open(env, row.sealed_secret, secretContext(row.organization_id, row.trigger_id));
  } catch (e) {
    // The sender gets the reason (the delivery is refused, no job starts) rather than a bare 500.
    if (e instanceof UnknownSealingKeyError) throw new SecretUnreadableError(`The signing secret of webhook trigger ${row.trigger_id}`, e.message);
    throw e;
  }
  return { trigger: toTrigger(row), secret };
}

/** The job an earlier delivery with this id started, if its record is still kept. */
export async function findDelivery(db: D1Database, triggerId: string, deliveryId: string): Promise<string | null> {
  const row = await db
    .prepare(`SELECT job_id FROM webhook_deliveries WHERE trigger_id = ? AND delivery_id = ?`)
    .bind(triggerId, deliveryId)
    .first<{ job_id: string }>();
  return row?.job_id ?? null;
}

/**
 * Records a delivery in one statement; the primary key decides between racing duplicates.
 * Returns whether this call was first, and the job id the delivery id is bound to.
 */
export async function recordDelivery(
  db: D1Database,
  triggerId: string,
  deliveryId: string,
  jobId: string,
  now: number,
): Promise<{ first: boolean; jobId: string }> {
  const inserted = await db
    .prepare(
      `INSERT INTO webhook_deliveries (trigger_id, delivery_id, job_id, created_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (trigger_id, delivery_id) DO NOTHING RETURNING job_id`,
    )
    .bind(triggerId, deliveryId, jobId, now)
    .first<{ job_id: string }>();
  if (inserted) return { first: true, jobId: inserted.job_id };
  // The conflicting row is never deleted within the retention window, so it is there to read.
  return { first: false, jobId: (await findDelivery(db, triggerId, deliveryId)) ?? jobId };
}

/** The job a byte-identical GitHub body started at or after `since` (epoch ms), if any. */
export async function findBody(db: D1Database, triggerId: string, bodySha256: string, since: number): Promise<string | null> {
  const row = await db
    .prepare(`SELECT job_id FROM webhook_bodies WHERE trigger_id = ? AND body_sha256 = ? AND created_at >= ?`)
    .bind(triggerId, bodySha256, since)
    .first<{ job_id: string }>();
  return row?.job_id ?? null;
}

/**
 * Binds a body to `jobId` unless a binding made at or after `since` exists, in one statement:
 * concurrent deliveries of one body all get the first one's job id. An older binding is taken over.
 * Returns the job id the body is bound to.
 */
export async function claimBody(db: D1Database, triggerId: string, bodySha256: string, jobId: string, now: number, since: number): Promise<string> {
  const claimed = await db
    .prepare(
      `INSERT INTO webhook_bodies (trigger_id, body_sha256, job_id, created_at) VALUES (?1, ?2, ?3, ?4)
       ON CONFLICT (trigger_id, body_sha256) DO UPDATE SET job_id = excluded.job_id, created_at = excluded.created_at
         WHERE webhook_bodies.created_at < ?5
       RETURNING job_id`,
    )
    .bind(triggerId, bodySha256, jobId, now, since)
    .first<{ job_id: string }>();
  if (claimed) return claimed.job_id;
  // The conflicting row is live (younger than `since`), and only rows older than it are pruned.
  return (await findBody(db, triggerId, bodySha256, since)) ?? jobId;
}

/** Deletes a bounded batch of delivery records, and one of GitHub body digests, older than their windows. */
export async function pruneDeliveries(db: D1Database, now: number): Promise<void> {
  await db.batch([
    db
      .prepare(
        `DELETE FROM webhook_deliveries WHERE rowid IN
           (SELECT rowid FROM webhook_deliveries WHERE created_at < ? ORDER BY created_at LIMIT ?)`,
      )
      .bind(now - WEBHOOK_DELIVERY_RETENTION_MS, WEBHOOK_PRUNE_BATCH),
    db
      .prepare(
        `DELETE FROM webhook_bodies WHERE rowid IN
           (SELECT rowid FROM webhook_bodies WHERE created_at < ? ORDER BY created_at LIMIT ?)`,
      )
      .bind(now - WEBHOOK_BODY_REPLAY_WINDOW_MS, WEBHOOK_PRUNE_BATCH),
  ]);
}
