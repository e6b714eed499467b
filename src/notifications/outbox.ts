/**
 * NotificationOutbox: one Durable Object per organization that POSTs its notifications to the
 * organization's outbound URL, signed with Standard Webhooks, until the receiver answers 2xx.
 *
 * - Durable: a delivery is a row in the object's SQLite before `enqueue` returns; the alarm sends
 *   what is due and re-arms for the next retry, so an eviction or a restart loses nothing. A pass
 *   that fails (settings unreadable, D1 down) still re-arms: the due deliveries count a failed
 *   attempt and wait their backoff, rather than until the organization's next notification.
 * - Idempotent: one row per notification id (`webhook-id`), the same on every attempt; an alarm
 *   that fires twice resends at most an attempt the receiver must already tolerate (Standard
 *   Webhooks receivers dedupe by webhook-id). `webhook-timestamp` is each attempt's own time.
 * - Guarded: sent through the organization's egress policy (src/egress), like executor calls;
 *   a refused destination is retried like a failure, since the policy may change.
 * - Bounded: NOTIFICATION_MAX_ATTEMPTS attempts with exponential backoff, then given up and
 *   logged; the URL and secret are read at delivery time, so a new URL applies to queued
 *   deliveries and deleted settings drop them.
 */
import { DurableObject } from "cloudflare:workers";
import { organizationEgress } from "../egress/organization-egress";
import {
  NOTIFICATION_DELIVERIES_PER_ALARM,
  NOTIFICATION_DELIVERY_CONCURRENCY,
  NOTIFICATION_DELIVERY_TIMEOUT_MS,
  NOTIFICATION_MAX_ATTEMPTS,
  NOTIFICATION_OUTBOX_RETENTION_MS,
  NOTIFICATION_RETRY_INITIAL_MS,
  NOTIFICATION_RETRY_MAX_MS,
} from "../limits";
import { logEvent } from "../log";
import { signStandard } from "../webhooks/signatures";
import { getOutboundTarget } from "./store";
import type { Notification } from "./types";

export type DeliveryState = "pending" | "delivered" | "failed" | "dropped";

/** A delivery as the outbox keeps it. */
export interface OutboundDelivery {
  notificationId: string;
  state: DeliveryState;
  attempts: number;
  dueAt: number;
  lastError: string | null;
}

type Row = { id: string; body: string; attempts: number; due_at: number; state: DeliveryState; last_error: string | null };

/** The JSON Canopy POSTs: Standard Webhooks' recommended envelope. */
export function outboundBody(organizationId: string, n: Notification): string {
  return JSON.stringify({
    type: "notification.created",
    timestamp: n.createdAt,
    data: { organizationId, ...n },
  });
}

export function retryDelay(attempts: number): number {
  return Math.min(NOTIFICATION_RETRY_INITIAL_MS * 2 ** Math.max(0, attempts - 1), NOTIFICATION_RETRY_MAX_MS);
}

export class NotificationOutbox extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS delivery (
        id TEXT PRIMARY KEY, body TEXT NOT NULL, attempts INTEGER NOT NULL, due_at INTEGER NOT NULL,
        state TEXT NOT NULL, last_error TEXT, updated_at INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS delivery_due ON delivery (state, due_at)`);
  }

  private get sql(): SqlStorage {
    return this.ctx.storage.sql;
  }

  private organizationId(): string | null {
    return this.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'organization'`).toArray()[0]?.value ?? null;
  }

  /** Queues a notification for delivery once; queuing it again changes nothing. */
  async enqueue(organizationId: string, notification: Notification): Promise<{ queued: boolean }> {
    const now = Date.now();
    const queued = this.ctx.storage.transactionSync(() => {
      this.sql.exec(`INSERT INTO meta (key, value) VALUES ('organization', ?) ON CONFLICT (key) DO NOTHING`, organizationId);
      const inserted = this.sql
        .exec(
          `INSERT INTO delivery (id, body, attempts, due_at, state, updated_at) VALUES (?, ?, 0, ?, 'pending', ?) ON CONFLICT (id) DO NOTHING RETURNING id`,
          notification.notificationId,
          outboundBody(organizationId, notification),
          now,
          now,
        )
        .toArray();
      return inserted.length > 0;
    });
    if (queued) await this.arm(now);
    return { queued };
  }

  /** Every delivery this outbox keeps, newest first (for tests and inspection). */
  async deliveries(): Promise<OutboundDelivery[]> {
    return this.sql
      .exec<Row>(`SELECT * FROM delivery ORDER BY updated_at DESC`)
      .toArray()
      .map((r) => ({ notificationId: r.id, state: r.state, attempts: r.attempts, dueAt: r.due_at, lastError: r.last_error }));
  }

  /** Sets the alarm to `at` unless one is set earlier. */
  private async arm(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  /**
   * Sends what is due, then re-arms for the next pending delivery, always: a pass that throws
   * (D1 unreachable, a secret that does not open, a failed write) is logged and retried by this
   * alarm after a backoff, rather than left until the organization's next notification.
   */
  override async alarm(): Promise<void> {
    const now = Date.now();
    let failed = false;
    try {
      await this.sendDue(now);
      this.sql.exec(`DELETE FROM delivery WHERE state != 'pending' AND updated_at < ?`, now - NOTIFICATION_OUTBOX_RETENTION_MS);
    } catch (e) {
      failed = true;
      logEvent("notification.outboxPassFailed", { organizationId: this.organizationId(), error: String((e as Error)?.message ?? e) });
    }
    const next = this.sql.exec<{ t: number | null }>(`SELECT MIN(due_at) AS t FROM delivery WHERE state = 'pending'`).toArray()[0]?.t;
    // After a failed pass, whatever it left due waits a little: no tight loop of failing alarms.
    const earliest = failed ? Date.now() + NOTIFICATION_RETRY_INITIAL_MS : Date.now();
    if (next !== null && next !== undefined) await this.ctx.storage.setAlarm(Math.max(next, earliest));
  }

  private async sendDue(now: number): Promise<void> {
    const due = this.sql
      .exec<Row>(`SELECT * FROM delivery WHERE state = 'pending' AND due_at <= ? ORDER BY due_at, id LIMIT ?`, now, NOTIFICATION_DELIVERIES_PER_ALARM)
      .toArray();
    const org = this.organizationId();
    if (due.length === 0 || org === null) return;
    let target: { url: string; secret: string } | null;
    try {
      target = await getOutboundTarget(this.env, org);
    } catch (e) {
      // Nothing was sent: each due delivery counts a failed attempt and waits its backoff.
      const error = `The notification settings could not be read: ${String((e as Error)?.message ?? e)}`;
      for (const r of due) this.failedAttempt(r, error);
      return;
    }
    if (target === null) {
      // The organization removed its URL: there is nowhere to deliver to.
      for (const r of due) this.settle(r, "dropped", "The organization has no notification URL.");
      return;
    }
    const egress = organizationEgress(this.env, org);
    for (let i = 0; i < due.length; i += NOTIFICATION_DELIVERY_CONCURRENCY) {
      await Promise.all(due.slice(i, i + NOTIFICATION_DELIVERY_CONCURRENCY).map((r) => this.deliver(r, target, egress)));
    }
  }

  private async deliver(r: Row, target: { url: string; secret: string }, egress: ReturnType<typeof organizationEgress>): Promise<void> {
    const timestamp = Math.floor(Date.now() / 1000);
    let error: string;
    try {
      const res = await egress.fetch(target.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "webhook-id": r.id,
          "webhook-timestamp": String(timestamp),
          "webhook-signature": await signStandard(target.secret, r.id, timestamp, r.body),
          "user-agent": "Canopy",
        },
        body: r.body,
        signal: AbortSignal.timeout(NOTIFICATION_DELIVERY_TIMEOUT_MS),
      });
      await res.body?.cancel();
      if (res.status >= 200 && res.status < 300) return this.settle(r, "delivered", null);
      error = `The receiver answered ${res.status}.`;
    } catch (e) {
      error = String((e as Error)?.message ?? e);
    }
    this.failedAttempt(r, error);
  }

  /** Counts a failed attempt: retried after its backoff, or given up after the last. */
  private failedAttempt(r: Row, error: string): void {
    const attempts = r.attempts + 1;
    if (attempts >= NOTIFICATION_MAX_ATTEMPTS) {
      logEvent("notification.deliveryAbandoned", { notificationId: r.id, attempts, error });
      return this.settle(r, "failed", error);
    }
    const dueAt = Date.now() + retryDelay(attempts);
    this.sql.exec(`UPDATE delivery SET attempts = ?, due_at = ?, last_error = ?, updated_at = ? WHERE id = ? AND state = 'pending'`, attempts, dueAt, error, Date.now(), r.id);
  }

  private settle(r: Row, state: Exclude<DeliveryState, "pending">, error: string | null): void {
    const attempts = state === "dropped" ? r.attempts : r.attempts + 1;
    this.sql.exec(`UPDATE delivery SET state = ?, attempts = ?, last_error = ?, updated_at = ? WHERE id = ? AND state = 'pending'`, state, attempts, error, Date.now(), r.id);
  }
}
