/**
 * Writing the audit log (src/audit/audit-log.ts): the one place actions are recorded from. Three ways,
 * by how the action commits:
 *
 * - `audited(env, org, entry, action)`: for an action that commits in D1 or in another Durable Object
 *   (registry writes, schedules, organization deletion). The entry is written ahead, as pending,
 *   before the action runs; the action's outcome then settles it: kept (with the target the action
 *   learnt, e.g. a new token's id) or, when the action refused with an API error and changed nothing,
 *   removed. The guarantee: no such action commits unless its entry was stored first, since D1 and the
 *   log cannot commit together. An entry whose outcome never came back (the isolate died, D1 answered
 *   with an unexpected error) stays, shown with `outcome: "unknown"` after AUDIT_PENDING_GRACE_MS:
 *   the action may or may not have happened, and the log says so rather than guessing.
 * - `recordAudit(env, org, entry)`: for what needs no write-ahead, written at once. A read such as
 *   ResolveOrganizationSecret records before it answers, so no value is returned unrecorded.
 * - `owedAudit(org, entry)`: inside a Durable Object's own transaction, the entry becomes owed work
 *   of that object (the job's work queue, `kind: "audit"`), committed with the action itself and
 *   delivered by its alarm with `deliverOwedAudit`; delivery is retried and deduplicated by the
 *   entry's id, so the entry is recorded exactly when the action commits (a job's cancel or resume).
 *
 * Every entry's actor is `actorOf(caller)`; never put a secret's value or a token in `detail`.
 */
import { ApiError } from "../errors";
import { newId } from "../ids";
import { AUDIT_MAX_ENTRIES_PER_WRITE } from "../limits";
import { logEvent } from "../log";
import type { AuditLog } from "./audit-log";
import type { AuditAction, AuditActor, AuditDetail, AuditEntryInput, AuditTarget, OwedAuditEntry } from "./types";

/** What a caller says of an entry; its id and time are filled in. */
export interface AuditDraft {
  actor: AuditActor;
  action: AuditAction;
  target: AuditTarget;
  detail?: AuditDetail;
  at?: number;
}

/** The organization's audit log: one Durable Object per organization. */
export function auditLogStub(env: Pick<Env, "AUDIT_LOG">, organizationId: string): DurableObjectStub<AuditLog> {
  return env.AUDIT_LOG.get(env.AUDIT_LOG.idFromName(organizationId));
}

/** Who an API caller is, as the log names it: the admin, or a token by its id. */
export function actorOf(caller: { kind: "admin" } | { kind: "token"; apiAuthTokenId: string }): AuditActor {
  return caller.kind === "admin" ? { type: "admin" } : { type: "token", apiAuthTokenId: caller.apiAuthTokenId };
}

function complete(draft: AuditDraft): AuditEntryInput {
  return { id: newId(), at: draft.at ?? Date.now(), actor: draft.actor, action: draft.action, target: draft.target, ...(draft.detail ? { detail: draft.detail } : {}) };
}

/** Records an action now (throws if the log cannot be written: the caller should not answer as if it were). */
export async function recordAudit(env: Pick<Env, "AUDIT_LOG">, organizationId: string, draft: AuditDraft): Promise<void> {
  await auditLogStub(env, organizationId).record([complete(draft)]);
}

/** Records many actions now (a bulk operation's, one entry each), AUDIT_MAX_ENTRIES_PER_WRITE per call. */
export async function recordAudits(env: Pick<Env, "AUDIT_LOG">, organizationId: string, drafts: AuditDraft[]): Promise<void> {
  const log = auditLogStub(env, organizationId);
  for (let i = 0; i < drafts.length; i += AUDIT_MAX_ENTRIES_PER_WRITE) await log.record(drafts.slice(i, i + AUDIT_MAX_ENTRIES_PER_WRITE).map(complete));
}

/**
 * Runs `action` with its entry written ahead (see the module's comment). `learnt` turns the action's
 * result into what the entry could not know before (a created resource's id).
 */
export async function audited<T>(
  env: Pick<Env, "AUDIT_LOG">,
  organizationId: string,
  draft: AuditDraft,
  action: () => Promise<T>,
  learnt?: (result: T) => { target?: AuditTarget; detail?: AuditDetail },
): Promise<T> {
  const entry = complete(draft);
  const log = auditLogStub(env, organizationId);
  await log.begin(entry);
  let result: T;
  try {
    result = await action();
  } catch (e) {
    // An API error (not found, conflict, refused) changed nothing: the entry goes. Anything else may
    // have happened in part or whole, so the entry stays, and shows its outcome as unknown.
    if (e instanceof ApiError && e.status < 500) await log.settle(entry.id, "discard").catch(() => undefined);
    throw e;
  }
  // The action happened: a failure to settle leaves the entry pending (shown as outcome unknown),
  // and the caller still gets the action's answer, so that it does not repeat an action that succeeded.
  await log.settle(entry.id, "done", learnt?.(result)).catch((e: unknown) => logEvent("audit.settleFailed", { organizationId, action: draft.action, error: String(e) }));
  return result;
}

/** An entry owed by a Durable Object's transaction: its work item (the job's queue) carries this payload. */
export function owedAudit(organizationId: string, draft: AuditDraft): { id: string; payload: OwedAuditEntry } {
  const entry = complete(draft);
  return { id: `audit:${entry.id}`, payload: { organizationId, entry } };
}

/** Delivers an owed entry (from the owing object's alarm); delivering it again changes nothing. */
export async function deliverOwedAudit(env: Pick<Env, "AUDIT_LOG">, owed: OwedAuditEntry): Promise<void> {
  await auditLogStub(env, owed.organizationId).record([owed.entry]);
}
