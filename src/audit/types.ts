/**
 * The audit log's shapes (API.md "Security posture"): who (`actor`) did what (`action`) to what
 * (`target`), and when. Type-only and without runtime imports but the action list, so that routes,
 * the job's Durable Object and its messages (src/job/messages.ts) may all name them.
 * An entry never holds a secret's value or a token: `detail` names things (a secret's key, a token's
 * name and permissions, a tag), never what they guard.
 */

/** Every action the log records, named `<resource>.<verb>` (API.md's list). */
export const AUDIT_ACTIONS = [
  "apitoken.create",
  "apitoken.update",
  "apitoken.revoke",
  "secret.create",
  "secret.update",
  "secret.delete",
  "secret.resolve",
  "organization.update",
  "organization.delete",
  "egresspolicy.update",
  "retention.update",
  "workflow.tag",
  "trigger.create",
  "trigger.delete",
  "schedule.create",
  "schedule.update",
  "schedule.delete",
  "job.cancel",
  "job.resume",
  "job.rerun",
  "job.delete",
  "job.pause",
  "job.unpause",
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** Who acted: the admin token, or an organization's API token by its id (never the token itself). */
export type AuditActor = { type: "admin" } | { type: "token"; apiAuthTokenId: string };

/** What was acted on: `type` is the resource (`apitoken`, `secret`, `job`, …), `id` its id. */
export interface AuditTarget {
  type: string;
  id: string;
}

/** Names, ids and settings that say what the action was; never a secret's value or a token. */
export type AuditDetail = Record<string, unknown>;

/** An entry as a caller writes it. `at` (epoch ms) defaults to when it is written. */
export interface AuditEntryInput {
  /** A unique id; a write with an id already stored changes nothing (a retried delivery). */
  id: string;
  at: number;
  actor: AuditActor;
  action: AuditAction;
  target: AuditTarget;
  detail?: AuditDetail;
}

/** An entry as ListAuditLog shows it. */
export interface AuditEntryView {
  at: string;
  actor: AuditActor;
  action: AuditAction;
  target: AuditTarget;
  detail?: AuditDetail;
}

/** ListAuditLog's query, checked by the route. */
export interface AuditQuery {
  pageSize: number;
  pageToken?: string;
  action?: AuditAction;
  targetId?: string;
}

/** A page of the log, newest first. */
export interface AuditPage {
  entries: AuditEntryView[];
  nextPageToken?: string;
}

/** An entry owed by a Durable Object's transaction, delivered from its alarm (src/audit/record.ts). */
export interface OwedAuditEntry {
  organizationId: string;
  entry: AuditEntryInput;
}
