/**
 * What a deleted organization leaves behind, one kind at a time: each kind is swept a bounded page
 * per reaper alarm, from a position the reaper stores, until a page says it is done. A page that
 * fails part-way answers the position before its first failure, so the retry resumes there. To
 * sweep a new kind of thing, add a `Sweep` to SWEEPS: the reaper runs them in order, twice (a
 * second pass after ORG_REAPER_RECHECK_MS catches what was made in the moment of the deletion).
 */
import type { IndexCursor } from "../job-index/messages";
import { allShards } from "../job-index/shards";
import { jobStubFor } from "../job/submit";
import { ORG_REAPER_CONCURRENCY } from "../limits";
import { deleteNotificationsPage } from "../notifications/store";
import { organizationIndex } from "../registry/organizations";
import type { ScheduleObject } from "../schedule/schedule-object";

export interface SweepContext {
  env: Env;
  organizationId: string;
  /** Durable Object calls per page (each a subrequest). */
  callsPerPage: number;
  /** Rows one D1 statement deletes. */
  rowsPerStatement: number;
}

export interface SweepPage {
  /** Where the next page starts (opaque to the reaper; '' is the beginning). */
  position: string;
  done: boolean;
  /** Things this page dealt with (jobs cancelled, schedules deleted, rows deleted). */
  count: number;
  /** The first error of a page that failed part-way: `position` is before it. */
  failure?: { error: unknown };
}

export interface Sweep {
  kind: string;
  page(ctx: SweepContext, position: string): Promise<SweepPage>;
}

/**
 * Runs `call` over `items`, ORG_REAPER_CONCURRENCY at a time: how many succeeded before the first
 * that failed (the position can move past those only), the value of every call that succeeded
 * (those after a failure too: they are done, and asked again by the retry), and that failure.
 */
async function settleInOrder<T, R>(items: T[], call: (item: T) => Promise<R>): Promise<{ handled: number; values: R[]; failure?: { error: unknown } }> {
  let handled = 0;
  const values: R[] = [];
  let failure: { error: unknown } | undefined;
  for (let i = 0; i < items.length; i += ORG_REAPER_CONCURRENCY) {
    const answers = await Promise.allSettled(items.slice(i, i + ORG_REAPER_CONCURRENCY).map(call));
    for (const answer of answers) {
      if (answer.status === "rejected") {
        failure ??= { error: answer.reason };
        continue;
      }
      values.push(answer.value);
      if (failure === undefined) handled++;
    }
  }
  return { handled, values, ...(failure ? { failure } : {}) };
}

/** A keyset position over (created_at, id), as the pages of jobs and schedules use. */
const keyset = {
  parse: (position: string): [string, string] => (position ? (JSON.parse(position) as [string, string]) : ["", ""]),
  after: (row: { created_at: string; id: string } | undefined, position: string) => (row ? JSON.stringify([row.created_at, row.id]) : position),
};

/**
 * Cancels one job of the organization: true when this call cancelled it, false when it had ended.
 * A job that answers NotFound was listed by the page's query, so its index row exists: it was
 * accepted in a batch and not started yet, and a tombstone makes its start create it CANCELLED.
 */
async function cancelJob(env: Env, organizationId: string, jobId: string): Promise<boolean> {
  const stub = jobStubFor(env, jobId);
  const answer = await stub.cancel(organizationId);
  if (answer.ok) return true;
  if (answer.error.code !== "NotFoundError") return false;
  await stub.cancelFromParent({ code: "CANCELLED", message: "The job's organization was deleted before the job started." });
  return true;
}

/**
 * The organization's unfinished top-level jobs after `after`, oldest first, over every shard of its
 * job index: one call per shard, merged on (created_at, job_id).
 */
async function unfinishedRoots(env: Env, organizationId: string, after: IndexCursor, limit: number): Promise<{ id: string; created_at: string }[]> {
  const ref = await organizationIndex(env.DB, organizationId);
  const pages = await Promise.all(allShards(env, ref).map((s) => s.roots(after, limit, true)));
  return pages
    .flat()
    .sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : 0))
    .slice(0, limit)
    .map((r) => ({ id: r.jobId, created_at: r.createdAt }));
}

/** Unfinished top-level jobs: each is cancelled (its cancel reaches every descendant). */
export const jobsSweep: Sweep = {
  kind: "jobs",
  async page(ctx, position) {
    const [created, id] = keyset.parse(position);
    const results = await unfinishedRoots(ctx.env, ctx.organizationId, { o: created, j: id }, ctx.callsPerPage);
    const { handled, values, failure } = await settleInOrder(results, (job) => cancelJob(ctx.env, ctx.organizationId, job.id));
    // A job that ended meanwhile answers with a conflict: nothing to do for it.
    const count = values.filter(Boolean).length;
    const next = keyset.after(results[handled - 1], position);
    return { position: next, done: !failure && results.length < ctx.callsPerPage, count, ...(failure ? { failure } : {}) };
  },
};

/**
 * Every schedule, paused or not: a paused one has no alarm, so it would never notice the deletion
 * itself. Each deletes its own storage; the page's D1 rows go in one statement after.
 */
export const schedulesSweep: Sweep = {
  kind: "schedules",
  async page(ctx, position) {
    const [created, id] = keyset.parse(position);
    const { results } = await ctx.env.DB.prepare(
      `SELECT schedule_id AS id, created_at FROM schedules
       WHERE organization_id = ?1 AND (created_at > ?2 OR (created_at = ?2 AND schedule_id > ?3))
       ORDER BY created_at, schedule_id LIMIT ?4`,
    )
      .bind(ctx.organizationId, created, id, ctx.callsPerPage)
      .all<{ id: string; created_at: string }>();
    const { handled, failure } = await settleInOrder(results, async (s) => {
      const stub = ctx.env.SCHEDULES.get(ctx.env.SCHEDULES.idFromName(s.id)) as DurableObjectStub<ScheduleObject>;
      const answer = await stub.organizationDeleted(ctx.organizationId);
      if (!answer.ok) throw new Error(`${answer.error.code}: ${answer.error.message}`);
    });
    const gone = results.slice(0, handled).map((s) => s.id);
    if (gone.length > 0) {
      await ctx.env.DB.prepare(`DELETE FROM schedules WHERE organization_id = ? AND schedule_id IN (SELECT value FROM json_each(?))`)
        .bind(ctx.organizationId, JSON.stringify(gone))
        .run();
    }
    return { position: keyset.after(results[handled - 1], position), done: !failure && results.length < ctx.callsPerPage, count: handled, ...(failure ? { failure } : {}) };
  },
};

/** Notifications: deleted a bounded statement at a time (the set shrinks, so no position is needed). */
export const notificationsSweep: Sweep = {
  kind: "notifications",
  async page(ctx, position) {
    const deleted = await deleteNotificationsPage(ctx.env.DB, ctx.organizationId, ctx.rowsPerStatement);
    return { position, done: deleted < ctx.rowsPerStatement, count: deleted };
  },
};

/** Every kind, in the order each pass sweeps them. */
export const SWEEPS: readonly Sweep[] = [jobsSweep, schedulesSweep, notificationsSweep];
