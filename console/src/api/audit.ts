/**
 * The audit log's actions (ListAuditLog, src/api/routes/audit-log.ts; their types are generated, in
 * types.ts) and the hook the job page reads who acted on a job with.
 */
import { useEffect, useState } from "react";
import { ApiError } from "./client";
import { get } from "./hooks";
import type { AuditAction, AuditEntry } from "./types";

export type { AuditAction, AuditEntry, AuditLogPage } from "./types";

/** Every audit action, in the order the audit log's filter lists them (the compiler checks none is missing). */
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
] as const satisfies readonly AuditAction[];
type MissingAction = Exclude<AuditAction, (typeof AUDIT_ACTIONS)[number]>;
const everyActionListed: MissingAction extends never ? true : never = true;
void everyActionListed;

/** The second read after a change: an entry owed by the job's commit has been delivered by then. */
const REREAD_MS = 2000;

/**
 * Who acted on a job (its cancels, resumes, reruns, pauses), newest first, read when `version`
 * changes (the job's updatedAt) and once more a moment later: the job's object delivers an entry
 * from its alarm just after the commit the page saw. `hidden` when the token may not read the audit
 * log (403): the job page then says nothing of it rather than an error.
 */
export function useJobAudit(org: string, jobId: string, version: string | undefined): { entries: AuditEntry[]; hidden: boolean } {
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [hidden, setHidden] = useState(false);
  useEffect(() => {
    const ctl = new AbortController();
    const read = () =>
      get("/organizations/{organizationId}/audit-log", { params: { path: { organizationId: org }, query: { targetId: jobId, pageSize: 20 } } }, ctl.signal)
        .then((page) => setEntries(page.entries.filter((e) => e.action.startsWith("job."))))
        .catch((e: Error) => {
          if (e.name === "AbortError") return;
          // Without organization:read (403), or a log that cannot be read now: nothing to show.
          if (e instanceof ApiError) setHidden(true);
        });
    void read();
    const again = setTimeout(() => void read(), REREAD_MS);
    return () => {
      clearTimeout(again);
      ctl.abort();
    };
  }, [org, jobId, version]);
  return { entries, hidden };
}

/** "admin", or "token 1a2b3c4d" (the token's id, never the token). */
export function actorText(actor: AuditEntry["actor"]): string {
  return actor.type === "admin" ? "admin" : `token ${(actor.apiAuthTokenId ?? "").slice(0, 8)}`;
}
