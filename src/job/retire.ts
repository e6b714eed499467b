/**
 * Deleting a top-level job's whole tree: retention, DeleteJob and a deleted organization's purge all
 * come here. The work is the ROOT's: its head (run 1) records the deletion, and from then on its
 * alarm does nothing else, a bounded batch per invocation (RETIRE_BATCH calls, RETIRE_CONCURRENCY at
 * once), each step recorded before the next, so a kill -9 anywhere resumes where it stopped and
 * every step is safe to repeat:
 *
 * 1. wait   (a deleted organization's job only) until the root has ended: its cancel is under way.
 * 2. hide   (after sending the root's own pending metrics: rollups stay) the tree in the index
 *           (every shard: no read lists it, no write brings it back) and drop
 *           the idempotency keys bound to the root; from here the API answers 404 for the root, and
 *           for any job of the tree (a child asks its root, `rootLive`). DeleteJob does this before
 *           it answers. The queue starts with the root's later runs and its children.
 * 3. walk   visit the queue: each object gives its children (a page at a time) and, for a job's head,
 *           its later runs, which join the queue; then it deletes its storage (`deleteAll`) and is
 *           done. A descendant that has not ended is cancelled (as its parent's cancel would) and asked
 *           again later: nothing that has not ended is deleted.
 *           A head waits until the job's later runs are gone.
 * 4. sweep  ask the index for members of the tree the walk did not reach (a run that dropped its
 *           storage after its retention took its child list with it) and walk them too.
 * 5. drop   delete the tree's index rows, a bounded batch per call, and any the old D1 index held.
 * 6. final  forget the hidden mark, then the root deletes its own storage and alarm. Nothing of the
 *           tree is left in any store: its rows are gone and each of its objects is empty.
 */
import { isTerminal } from "../engine/status";
import type { JobError, JobState, JobStatus, JobSummary } from "../engine/types";
import { indexRefOf } from "../job-index/entry";
import { addMetricFlushes, allShards, shardFor } from "../job-index/shards";
import { METRIC_FLUSHES_PER_CALL, RETIRE_BATCH, RETIRE_CONCURRENCY, RETIRE_INDEX_ROWS_PER_CALL, RETIRE_RETRY_BASE_MS, RETIRE_RETRY_MAX_MS } from "../limits";
import { logEvent } from "../log";
import { deleteNotificationsAbout } from "../notifications/store";
import { dropLegacyTreeRows } from "../registry/legacy-index";
import { getRetention, retentionMs } from "../registry/retention";
import type { JobRpc, PurgeAnswer } from "./messages";
import { jobRunStub, runObjectName } from "./naming";
import type { RetireEntry, RetireReason } from "./retire-queue";
import type { JobStore } from "./store";

/** What the deletion needs from the root's Durable Object. */
export interface RetireHost {
  readonly bindings: Env;
  readonly store: JobStore;
  readonly state: JobState | null;
  /** The job's summary from its live run (this run, or the latest one), or null. */
  liveSummary(): Promise<JobSummary | null>;
  /** Deletes this object's storage and alarm; it is empty from then on. */
  deleteStorage(): Promise<void>;
  /** Sets the alarm to `at` (the deletion's next step). */
  armRetire(at: number): void;
  /** Sets the alarm for owed work (before a deletion begins). */
  armAlarm(): void;
  /** Cancels this run (a descendant still running when its tree is deleted), as its parent's cancel would. */
  cancel(reason: JobError): void;
}

/** The wait after `failures` failed (or not yet possible) tries: 1 s, 2 s, 4 s… up to 5 minutes. */
function backoff(failures: number): number {
  return Math.min(RETIRE_RETRY_BASE_MS * 2 ** Math.max(0, failures - 1), RETIRE_RETRY_MAX_MS);
}

/**
 * Work item `retain`, owed when a top-level run ends: reads the organization's retention as it is
 * now (a change applies to jobs that end from then on) and tells the job's head when the tree goes.
 */
export async function scheduleRetention(host: RetireHost, finishedAt: number, status: JobStatus): Promise<void> {
  const id = host.state!.identity;
  const deleteAt = finishedAt + retentionMs(await getRetention(host.bindings.DB, id.organizationId), status);
  if (id.runNumber === 1) recordRetention(host, finishedAt, deleteAt);
  else await jobRunStub(host.bindings, id.jobId, 1).scheduleRetirement(id.organizationId, finishedAt, deleteAt);
}

/** On the job's head: the job's latest end and its deadline, and the work item due then. */
export function recordRetention(host: RetireHost, finishedAt: number, deleteAt: number): void {
  host.store.transaction(() => {
    host.store.retire.setRetention(finishedAt, deleteAt);
    host.store.queue.enqueue({ id: `retire:${finishedAt}`, kind: "retire", payload: { finishedAt }, dueAt: deleteAt });
  });
  host.armAlarm();
}

/**
 * Work item `retire`, due at the deadline: begins the deletion if the job is still the one that
 * ended then (a resumed job that ended again has a later deadline; one running now is kept).
 */
export async function retireIfDue(host: RetireHost, finishedAt: number, now: number): Promise<void> {
  const r = host.store.retire.retention();
  if (!r || r.finishedAt !== finishedAt) return;
  const live = await host.liveSummary();
  if (!live || !isTerminal(live.status) || live.finishedAt === undefined || Date.parse(live.finishedAt) !== finishedAt) return;
  beginRetirement(host, "retention", now);
}

/** Records the deletion and arms the alarm that carries it out (a second call keeps the first). */
export function beginRetirement(host: RetireHost, reason: RetireReason, now: number): void {
  host.store.transaction(() => host.store.retire.begin(reason, reason === "organizationDeleted" ? "wait" : "hide", now));
  host.armRetire(now);
}

/** Hides the tree from every read of the index and drops what names the root outside its tree. */
export async function hideTree(host: RetireHost): Promise<void> {
  const s = host.state!;
  const root = s.identity.jobId;
  await Promise.all(allShards(host.bindings, indexRefOf(s.identity)).map((shard) => shard.hideTree(root)));
  // A top-level job's failure raised a notification naming it (src/notifications/job-failed.ts), in
  // any run and before any resume: one statement, which writes no row for a job that never failed.
  await deleteNotificationsAbout(host.bindings.DB, s.identity.organizationId, root);
}

/** One step of the deletion; never throws (a failed step is tried again after its backoff). */
export async function retirePass(host: RetireHost, now: number): Promise<void> {
  const q = host.store.retire;
  const row = q.row();
  const s = host.state;
  if (!row || !s) return;
  try {
    switch (row.phase) {
      case "wait": {
        const live = await host.liveSummary();
        if (live && !isTerminal(live.status)) {
          host.armRetire(now + backoff(host.store.transaction(() => q.failed())));
          return;
        }
        host.store.transaction(() => q.moveTo("hide"));
        return host.armRetire(now);
      }
      case "hide": {
        await flushOwnMetrics(host, s, now);
        await hideTree(host);
        const runs = host.store.currentRun();
        host.store.transaction(() => {
          q.add(Array.from({ length: Math.max(0, runs - 1) }, (_, i) => ({ name: runObjectName(s.identity.jobId, i + 2), jobId: s.identity.jobId })));
          q.addOwnChildren();
          q.moveTo("walk");
        });
        return host.armRetire(now);
      }
      case "walk":
        return await walk(host, s, row.cursor, now);
      case "sweep":
        return await sweep(host, s, row.cursor, now);
      case "drop": {
        const shard = shardFor(host.bindings, indexRefOf(s.identity), s.identity.jobId);
        const [{ deleted }, legacy] = await Promise.all([
          shard.deleteTreeRows(s.identity.jobId, RETIRE_INDEX_ROWS_PER_CALL),
          dropLegacyTreeRows(host.bindings.DB, s.identity.organizationId, s.identity.jobId, RETIRE_INDEX_ROWS_PER_CALL),
        ]);
        if (deleted < RETIRE_INDEX_ROWS_PER_CALL && legacy < RETIRE_INDEX_ROWS_PER_CALL) host.store.transaction(() => q.moveTo("final"));
        return host.armRetire(now);
      }
      case "final": {
        await Promise.all(allShards(host.bindings, indexRefOf(s.identity)).map((shard) => shard.forgetTree(s.identity.jobId)));
        logEvent("job.deleted", { jobId: s.identity.jobId, organizationId: s.identity.organizationId, reason: row.reason, runs: q.progress().done + 1 });
        await host.deleteStorage();
        return;
      }
    }
  } catch (error) {
    const failures = host.store.transaction(() => q.failed());
    logEvent("job.deleteFailed", { jobId: s.identity.jobId, phase: row.phase, failures, error: String(error) });
    host.armRetire(now + backoff(failures));
  }
}

/**
 * The root's own metrics go to the index before its tree does (rollups are aggregates: they stay):
 * a deletion right after the job ended may come before its alarm flushed them.
 */
async function flushOwnMetrics(host: RetireHost, s: JobState, now: number): Promise<void> {
  if (!host.store.metrics.hasPending()) return;
  host.store.transaction(() => host.store.metrics.seal(now));
  for (let flushes = host.store.metrics.outgoing(METRIC_FLUSHES_PER_CALL); flushes.length > 0; flushes = host.store.metrics.outgoing(METRIC_FLUSHES_PER_CALL)) {
    await addMetricFlushes(host.bindings, indexRefOf(s.identity), s.identity.rootJobId, flushes, now);
    host.store.transaction(() => host.store.metrics.delivered(flushes.map((f) => f.key)));
  }
}

/** The stub of one run object of the tree, by its object name. */
function runStub(env: Env, name: string): DurableObjectStub<JobRpc> {
  return env.JOBS.get(env.JOBS.idFromName(name));
}

/** Visits a batch of the queue: each object gives what it knows of the tree, or deletes itself. */
async function walk(host: RetireHost, s: JobState, cursor: string, now: number): Promise<void> {
  const q = host.store.retire;
  const entries = q.due(now, RETIRE_BATCH);
  if (entries.length === 0) {
    const next = q.nextDue();
    if (next === null) {
      // Every object the walk found is gone: the index may know members it did not reach.
      host.store.transaction(() => q.moveTo("sweep", cursor));
      return host.armRetire(now);
    }
    return host.armRetire(Math.max(next, now));
  }
  const { organizationId, jobId: root } = s.identity;
  const answers: PromiseSettledResult<PurgeAnswer>[] = [];
  for (let i = 0; i < entries.length; i += RETIRE_CONCURRENCY) {
    const chunk = entries.slice(i, i + RETIRE_CONCURRENCY);
    answers.push(...(await Promise.allSettled(chunk.map((e) => runStub(host.bindings, e.name).purgeStep(organizationId, root, e.cursor, e.runs_known) as Promise<PurgeAnswer>))));
  }
  let failed: unknown = null;
  host.store.transaction(() => entries.forEach((e, i) => (failed = settle(q, e, answers[i]!, now) ?? failed)));
  if (failed !== null) logEvent("job.deleteStepFailed", { jobId: root, error: String(failed) });
  // One line per alarm: an operator (and the kill -9 test) can see a large tree's deletion advance.
  logEvent("job.deleteProgress", { jobId: root, ...q.progress() });
  host.armRetire(now);
}

/** Records one object's answer (inside the pass's transaction); returns the error of a failed call. */
function settle(q: JobStore["retire"], e: RetireEntry, answer: PromiseSettledResult<PurgeAnswer>, now: number): unknown {
  if (answer.status === "rejected") {
    q.later(e.name, now + backoff(e.attempts + 1));
    return answer.reason;
  }
  const a = answer.value;
  switch (a.kind) {
    case "gone":
    case "deleted":
      q.done(e.name);
      return null;
    case "notEnded":
      q.later(e.name, now + backoff(e.attempts + 1));
      return null;
    case "children":
      q.add(a.ids.map((id) => ({ name: id, jobId: id })));
      q.advance(e.name, a.next);
      return null;
    case "runs":
      q.add(Array.from({ length: Math.max(0, a.runs - 1) }, (_, i) => ({ name: runObjectName(e.job_id, i + 2), jobId: e.job_id })));
      q.setRunsKnown(e.name, a.runs);
      return null;
  }
}

/** Asks the index for a page of the tree's members after `cursor`; those the walk never saw are walked. */
async function sweep(host: RetireHost, s: JobState, cursor: string, now: number): Promise<void> {
  const q = host.store.retire;
  const root = s.identity.jobId;
  const ids = await shardFor(host.bindings, indexRefOf(s.identity), root).treeMembers(root, cursor, RETIRE_BATCH);
  const known = q.known(ids);
  const fresh = ids.filter((id) => id !== root && !known.has(id));
  const next = ids[ids.length - 1] ?? cursor;
  host.store.transaction(() => {
    q.add(fresh.map((id) => ({ name: id, jobId: id })));
    if (fresh.length > 0) q.moveTo("walk", next);
    else if (ids.length < RETIRE_BATCH) q.moveTo("drop");
    else q.setCursor(next);
  });
  host.armRetire(now);
}
