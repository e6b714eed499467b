/**
 * Raising a notification: stored in D1 for ListNotifications and, when the organization has an
 * outbound URL, handed to its NotificationOutbox, which POSTs it there until it is acknowledged.
 */
import { logEvent } from "../log";
import { insertNotification } from "./store";
import type { Notification, NotificationInput } from "./types";

/** The organization's outbox: one Durable Object per organization. */
export function outboxStub(env: Pick<Env, "NOTIFICATION_OUTBOX">, organizationId: string) {
  return env.NOTIFICATION_OUTBOX.get(env.NOTIFICATION_OUTBOX.idFromName(organizationId));
}

/**
 * Raises a notification. With `dedupeKey`, raising it again (a retry, a race) stores nothing and
 * queues nothing new: the outbox keeps one delivery per notification id. A caller that may retry
 * must pass a key; a throw means the caller should retry (nothing is lost by doing so).
 *
 * Resource pools: call this with `type: "RESOURCE_POOL_QUEUED_TOO_LONG"`, `resourceId` the pool's
 * id, and a dedupeKey naming the pool and the start of the wait (e.g. `pool-queued:<poolId>:<since>`),
 * so one long wait raises once.
 */
export async function raiseNotification(env: Pick<Env, "DB" | "NOTIFICATION_OUTBOX">, input: NotificationInput, now = Date.now()): Promise<{ notification: Notification; created: boolean }> {
  const { notification, created, outbound } = await insertNotification(env.DB, input, now);
  if (created) logEvent("notification.raised", { organizationId: input.organizationId, type: input.type, notificationId: notification.notificationId });
  // Queued also when not created here: an earlier raise may have stored it and died before this.
  if (outbound) await outboxStub(env, input.organizationId).enqueue(input.organizationId, notification);
  return { notification, created };
}
