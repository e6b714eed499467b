/**
 * What a job's object answers about the deletion of a tree (retire.ts): DeleteJob, a deleted
 * organization's purge, a later run telling its head when the tree goes, and one step of the walk.
 * The object's RPC methods are these, on its own state (`RetireHost`).
 */
import { isTerminal } from "../engine/status";
import type { JobState } from "../engine/types";
import { ConflictError, NotFoundError, type RpcResult } from "../errors";
import { RETIRE_CHILDREN_PAGE } from "../limits";
import { logEvent } from "../log";
import type { PurgeAnswer, RetirementStatus } from "./messages";
import { beginRetirement, hideTree, recordRetention, type RetireHost } from "./retire";

/** The run, if the API may act on it for this organization (not being deleted). */
export type Owned = (organizationId: string) => JobState | null;

const fail = <T>(e: ConflictError | NotFoundError): RpcResult<T> => ({ ok: false, error: e.toInfo() });

/**
 * DeleteJob: a top-level job that has ended goes with its tree; 409 for one that has not ended and
 * for a child. The tree is hidden from every read before the answer.
 */
export async function deleteJob(host: RetireHost, owned: Owned, organizationId: string): Promise<RpcResult<{ jobId: string }>> {
  const s = owned(organizationId);
  if (!s) return fail(new NotFoundError("The job was not found."));
  if (s.identity.parentJobId) {
    return fail(new ConflictError(`Job ${s.identity.jobId} is a child job: it is deleted with its root job ${s.identity.rootJobId}.`));
  }
  const live = await host.liveSummary();
  if (!live || !isTerminal(live.status)) {
    return fail(new ConflictError(`The job is ${live?.status ?? "RUNNING"}: only a job that has ended can be deleted (cancel it first).`));
  }
  // Input gates open while awaiting: another deletion may have begun meanwhile.
  if (!owned(organizationId)) return fail(new NotFoundError("The job was not found."));
  beginRetirement(host, "deleted", Date.now());
  // Hidden before the answer. If this throws, the alarm hides it again before anything else.
  await hideTree(host);
  logEvent("job.deleteRequested", { jobId: s.identity.jobId, organizationId });
  return { ok: true, value: { jobId: s.identity.jobId } };
}

/** A deleted organization's purge: a top-level job's head begins deleting its tree (once it has ended). */
export function retireForOrganization(host: RetireHost, organizationId: string): { retiring: boolean } {
  const s = host.state;
  if (!s || s.identity.organizationId !== organizationId || s.identity.parentJobId || s.identity.runNumber !== 1) return { retiring: false };
  beginRetirement(host, "organizationDeleted", Date.now());
  return { retiring: true };
}

/** On a job's head: the job's latest end and its deadline, from the run that ended. */
export function scheduleRetirement(host: RetireHost, organizationId: string, finishedAt: number, deleteAt: number): void {
  const s = host.state;
  if (!s || s.identity.organizationId !== organizationId || s.identity.runNumber !== 1) return;
  recordRetention(host, finishedAt, deleteAt);
}

/**
 * One step of the walk on one run object: a page of its children, then (a job's head) its later
 * runs, then the deletion of its storage. Never deletes a run that has not ended (a descendant
 * still running is cancelled, and deleted on a later visit), nor one of another tree; an object
 * holding only a tombstone (a cancel that overtook a start) goes too.
 */
export async function purgeStep(host: RetireHost, organizationId: string, rootJobId: string, after: string, runsKnown: number): Promise<PurgeAnswer> {
  const s = host.state;
  if (!s) {
    if (!host.store.isEmpty()) await host.deleteStorage();
    return { kind: "gone" };
  }
  if (s.identity.organizationId !== organizationId || s.identity.rootJobId !== rootJobId) return { kind: "gone" };
  if (!isTerminal(s.status) && !s.continuedAs) {
    // A descendant still running under an ended root (its parent's cancel not arrived yet) is
    // cancelled; the root's own runs have ended before any deletion begins.
    if (s.identity.jobId !== rootJobId) host.cancel({ code: "PARENT_CANCELLED", message: "The job's root job was deleted." });
    return { kind: "notEnded" };
  }
  const ids = host.store.childIdsAfter(after, RETIRE_CHILDREN_PAGE);
  if (ids.length > 0) return { kind: "children", ids, next: ids[ids.length - 1]! };
  if (s.identity.runNumber === 1 && host.store.currentRun() > runsKnown) return { kind: "runs", runs: host.store.currentRun() };
  await host.deleteStorage();
  return { kind: "deleted" };
}

/** Where the deletion of this root's tree stands, or null. */
export function retirementStatus(host: RetireHost): RetirementStatus | null {
  const row = host.store.retire.row();
  if (!row) return null;
  return { reason: row.reason, phase: row.phase, failures: row.failures, ...host.store.retire.progress() };
}
