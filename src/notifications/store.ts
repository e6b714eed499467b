/**
 * D1 access for notifications (`notifications`) and an organization's outbound notification
 * settings (`notification_settings`, the Standard Webhooks secret sealed like a trigger's).
 */
import { open, seal, type SealedColumn } from "../crypto/seal";
import { NotFoundError } from "../errors";
import { deterministicId, isoTime, newId } from "../ids";
import {
  MAX_LISTED_NOTIFICATIONS,
  MAX_NOTIFICATION_MESSAGE_CHARS,
  MAX_NOTIFICATION_TITLE_CHARS,
  NOTIFICATION_MARK_READ_CHUNK,
  NOTIFICATION_MARK_READ_MAX_CHUNKS,
  NOTIFICATION_PRUNE_BATCH,
  NOTIFICATION_RETENTION_MS,
} from "../limits";
import { severityOf, type Notification, type NotificationInput, type NotificationType, type Severity } from "./types";

interface NotificationRow {
  notification_id: string;
  organization_id: string;
  type: NotificationType;
  severity: Severity;
  title: string;
  message: string;
  resource_id: string | null;
  read: number;
  created_at: string;
}

function toNotification(r: NotificationRow): Notification {
  return {
    notificationId: r.notification_id,
    severity: r.severity,
    title: r.title,
    message: r.message,
    read: r.read === 1,
    createdAt: r.created_at,
    type: r.type,
    ...(r.resource_id !== null ? { resourceId: r.resource_id } : {}),
  };
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** The oldest `created_at` still shown at `now`: older notifications have expired. */
function expiryCutoff(now: number): string {
  return isoTime(now - NOTIFICATION_RETENTION_MS);
}

/**
 * Stores a notification; with a dedupe key, its id derives from (organization, key), so raising it
 * again stores nothing. Returns the notification (the first one, for a repeated raise), whether this
 * call stored it, and the organization's outbound URL settings if it has any: one D1 round trip.
 * The same batch deletes up to NOTIFICATION_PRUNE_BATCH of the organization's expired notifications
 * (older than NOTIFICATION_RETENTION_MS), so they do not pile up.
 */
export async function insertNotification(
  db: D1Database,
  input: NotificationInput,
  now: number,
): Promise<{ notification: Notification; created: boolean; outbound: boolean }> {
  const id = input.dedupeKey !== undefined ? await deterministicId("notification", input.organizationId, input.dedupeKey) : newId();
  const [, inserted, existing, settings] = await db.batch([
    db
      .prepare(
        `DELETE FROM notifications WHERE notification_id IN
           (SELECT notification_id FROM notifications WHERE organization_id = ? AND created_at < ? ORDER BY created_at LIMIT ?)`,
      )
      .bind(input.organizationId, expiryCutoff(now), NOTIFICATION_PRUNE_BATCH),
    db
      .prepare(
        `INSERT INTO notifications (notification_id, organization_id, type, severity, title, message, resource_id, dedupe_key, read, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?) ON CONFLICT (notification_id) DO NOTHING RETURNING notification_id`,
      )
      .bind(
        id,
        input.organizationId,
        input.type,
        input.severity ?? severityOf(input.type),
        cut(input.title, MAX_NOTIFICATION_TITLE_CHARS),
        cut(input.message, MAX_NOTIFICATION_MESSAGE_CHARS),
        input.resourceId ?? null,
        input.dedupeKey ?? null,
        isoTime(now),
      ),
    db.prepare(`SELECT * FROM notifications WHERE notification_id = ?`).bind(id),
    db.prepare(`SELECT 1 AS x FROM notification_settings WHERE organization_id = ?`).bind(input.organizationId),
  ]);
  return {
    notification: toNotification(existing!.results[0] as NotificationRow),
    created: inserted!.results.length > 0,
    outbound: settings!.results.length > 0,
  };
}

/** The newest notifications of an organization and how many are unread (ListNotifications); expired ones not pruned yet are skipped. */
export async function listNotifications(db: D1Database, organizationId: string, now = Date.now()): Promise<{ notifications: Notification[]; unreadCount: number }> {
  const cutoff = expiryCutoff(now);
  const [page, unread] = await db.batch([
    db
      .prepare(`SELECT * FROM notifications WHERE organization_id = ? AND created_at >= ? ORDER BY created_at DESC, notification_id DESC LIMIT ?`)
      .bind(organizationId, cutoff, MAX_LISTED_NOTIFICATIONS),
    db.prepare(`SELECT COUNT(*) AS n FROM notifications WHERE organization_id = ? AND read = 0 AND created_at >= ?`).bind(organizationId, cutoff),
  ]);
  return {
    notifications: (page!.results as NotificationRow[]).map(toNotification),
    unreadCount: (unread!.results[0] as { n: number }).n,
  };
}

/** Marks one notification read (again: no change); NotFoundError for another organization's or an unknown id. */
export async function markNotificationRead(db: D1Database, organizationId: string, notificationId: string): Promise<void> {
  const row = await db
    .prepare(`UPDATE notifications SET read = 1 WHERE organization_id = ? AND notification_id = ? RETURNING notification_id`)
    .bind(organizationId, notificationId)
    .first();
  if (!row) throw new NotFoundError(`Notification ${notificationId} was not found.`);
}

/**
 * Marks unread notifications read, NOTIFICATION_MARK_READ_CHUNK per statement and at most
 * NOTIFICATION_MARK_READ_MAX_CHUNKS statements: returns how many it marked. An organization with more
 * unread than that keeps the rest unread (unreadCount shows them); calling again marks them.
 * Expired notifications not pruned yet are left alone, like ListNotifications leaves them out.
 */
export async function markAllNotificationsRead(db: D1Database, organizationId: string, now = Date.now()): Promise<number> {
  const cutoff = expiryCutoff(now);
  let marked = 0;
  for (let i = 0; i < NOTIFICATION_MARK_READ_MAX_CHUNKS; i++) {
    const res = await db
      .prepare(
        `UPDATE notifications SET read = 1 WHERE notification_id IN
           (SELECT notification_id FROM notifications WHERE organization_id = ? AND read = 0 AND created_at >= ? LIMIT ?)`,
      )
      .bind(organizationId, cutoff, NOTIFICATION_MARK_READ_CHUNK)
      .run();
    marked += res.meta.changes;
    if (res.meta.changes < NOTIFICATION_MARK_READ_CHUNK) break;
  }
  return marked;
}

// ---- outbound settings -------------------------------------------------------------------------

export interface NotificationSettings {
  url: string;
  updatedAt: string;
}

const secretContext = (organizationId: string) => `notification-settings:${organizationId}`;

/** Where outbound notification secrets are, for ResealSecrets. */
export const SEALED_NOTIFICATION_SECRETS: SealedColumn = {
  table: "notification_settings",
  column: "sealed_secret",
  keys: ["organization_id"],
  associatedData: ([organizationId]) => secretContext(organizationId!),
};

/** Replaces the organization's outbound URL and secret. */
export async function putNotificationSettings(env: Pick<Env, "DB" | "SECRETS_KEY" | "SECRETS_KEY_PREVIOUS">, organizationId: string, url: string, secret: string, now: number): Promise<NotificationSettings> {
  const sealed = await seal(env, secret, secretContext(organizationId));
  const updatedAt = isoTime(now);
  await env.DB.prepare(
    `INSERT INTO notification_settings (organization_id, url, sealed_secret, updated_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (organization_id) DO UPDATE SET url = excluded.url, sealed_secret = excluded.sealed_secret, updated_at = excluded.updated_at`,
  )
    .bind(organizationId, url, sealed, updatedAt)
    .run();
  return { url, updatedAt };
}

/** The settings without the secret, or null. */
export async function getNotificationSettings(db: D1Database, organizationId: string): Promise<NotificationSettings | null> {
  const row = await db
    .prepare(`SELECT url, updated_at FROM notification_settings WHERE organization_id = ?`)
    .bind(organizationId)
    .first<{ url: string; updated_at: string }>();
  return row ? { url: row.url, updatedAt: row.updated_at } : null;
}

/** The settings with the opened secret, for a delivery; null when the organization has none. */
export async function getOutboundTarget(env: Pick<Env, "DB" | "SECRETS_KEY" | "SECRETS_KEY_PREVIOUS">, organizationId: string): Promise<{ url: string; secret: string } | null> {
  const row = await env.DB.prepare(`SELECT url, sealed_secret FROM notification_settings WHERE organization_id = ?`)
    .bind(organizationId)
    .first<{ url: string; sealed_secret: string }>();
  if (!row) return null;
  return { url: row.url, secret: await open(env, row.sealed_secret, secretContext(organizationId)) };
}

/** Removes the settings; false when there were none. */
export async function deleteNotificationSettings(db: D1Database, organizationId: string): Promise<boolean> {
  const res = await db.prepare(`DELETE FROM notification_settings WHERE organization_id = ?`).bind(organizationId).run();
  return res.meta.changes > 0;
}

/**
 * A deleted organization's outbound settings (run in the deletion's batch): its outbox drops what
 * it still had queued, having nowhere to send it. Its notifications are deleted after, a bounded
 * statement at a time, by the organization's reaper (`deleteNotificationsPage`); nothing reads them
 * meanwhile, since every request naming the organization is refused.
 */
export function deleteOrganizationNotificationsStatements(db: D1Database, organizationId: string): D1PreparedStatement[] {
  return [db.prepare(`DELETE FROM notification_settings WHERE organization_id = ?`).bind(organizationId)];
}

/** Deletes at most `limit` of an organization's notifications (one statement); returns how many it deleted. */
export async function deleteNotificationsPage(db: D1Database, organizationId: string, limit: number): Promise<number> {
  const result = await db
    .prepare(
      `DELETE FROM notifications WHERE notification_id IN
         (SELECT notification_id FROM notifications WHERE organization_id = ? ORDER BY created_at LIMIT ?)`,
    )
    .bind(organizationId, limit)
    .run();
  return result.meta.changes;
}

/** Deletes an organization's notifications about one resource (a deleted job's JOB_FAILED). */
export async function deleteNotificationsAbout(db: D1Database, organizationId: string, resourceId: string): Promise<void> {
  await db.prepare(`DELETE FROM notifications WHERE organization_id = ? AND resource_id = ?`).bind(organizationId, resourceId).run();
}
