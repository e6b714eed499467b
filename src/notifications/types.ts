/** Notifications: what raises them, and what a raise says. */

/**
 * The notification types Canopy raises. `RESOURCE_POOL_QUEUED_TOO_LONG` is reserved for resource
 * pools (raised by the pool's code through `raiseNotification`).
 */
export const NOTIFICATION_TYPES = ["JOB_FAILED", "WEBHOOK_SIGNATURES_REFUSED", "RESOURCE_POOL_QUEUED_TOO_LONG"] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

/** The client's `NotificationSeverityEnum`. */
export const SEVERITIES = ["ERROR", "WARNING", "INFO"] as const;
export type Severity = (typeof SEVERITIES)[number];

const DEFAULT_SEVERITY: Record<NotificationType, Severity> = {
  JOB_FAILED: "ERROR",
  WEBHOOK_SIGNATURES_REFUSED: "WARNING",
  RESOURCE_POOL_QUEUED_TOO_LONG: "WARNING",
};

export function severityOf(type: NotificationType): Severity {
  return DEFAULT_SEVERITY[type];
}

/** What raises a notification. */
export interface NotificationInput {
  organizationId: string;
  type: NotificationType;
  title: string;
  message: string;
  /** What it is about: a job id, a trigger id, a pool id. */
  resourceId?: string;
  /**
   * Raising twice with the same key makes one notification (and one outbound delivery). Callers
   * that may retry (a Durable Object's work item) must pass one.
   */
  dedupeKey?: string;
  severity?: Severity;
}

/** A stored notification, as ListNotifications shows it (plus `type` and `resourceId`, extensions). */
export interface Notification {
  notificationId: string;
  severity: Severity;
  title: string;
  message: string;
  read: boolean;
  createdAt: string;
  type: NotificationType;
  resourceId?: string;
}
