/**
 * OrganizationReaper: one Durable Object per deleted organization. DeleteOrganization goes through
 * it, so the deletion and the sweep that follows are one durable intent: the object records the
 * intent and arms its alarm before it marks the organization deleted in D1 (which revokes its
 * tokens, deletes its triggers, secrets and resource pools in the same batch), and the alarm then cancels the
 * organization's unfinished top-level jobs (each cancel reaches every descendant) a page at a
 * time, from a cursor it stores, until none is left; a second pass after ORG_REAPER_RECHECK_MS
 * catches a job submitted in the moment of the deletion. An alarm that fires twice, or an object
 * evicted mid-page, cancels a job again at most, which its JobObject answers with a conflict.
 *
 * The alarm never throws: Cloudflare retries a throwing alarm a few times and then drops it, which
 * would abandon the sweep. A page whose cancels or D1 reads fail keeps its cursor before the first
 * job that failed and arms the alarm again with backoff, until the sweep is done.
 *
 * A job accepted by SubmitJobs (batch) has only its index row until its BatchStarter starts it, so
 * its cancel answers NotFound: the reaper leaves it a tombstone instead, and the start creates it
 * CANCELLED (the BatchStarter also drops the starts of an organization that is no longer live).
 */
import { DurableObject } from "cloudflare:workers";
import { NotFoundError, type RpcResult } from "../errors";
import { jobStubFor } from "../job/submit";
import {
  ORG_REAPER_BATCH,
  ORG_REAPER_CONCURRENCY,
  ORG_REAPER_RECHECK_MS,
  ORG_REAPER_RETRY_BASE_MS,
  ORG_REAPER_RETRY_MAX_MS,
} from "../limits";
import { logEvent } from "../log";
import { markOrganizationDeletedStatement, organizationIndex } from "../registry/organizations";
import type { IndexCursor } from "../job-index/messages";
import { allShards } from "../job-index/shards";
import { PurgeState, purgeStep, type PurgeStatus } from "./purge";
import { deleteAllResourcePoolsStatement } from "../registry/resource-pools";
import { deleteOrganizationNotificationsStatements } from "../notifications/store";
import { deleteAllSecretsStatement } from "../registry/secrets";
import { revokeAllTokensStatement } from "../registry/tokens";
import { deleteAllTriggersStatement } from "../webhooks/triggers";

/** The sweep's one row. `deleted_at` is set once D1 has the organization deleted. */
type SweepRow = {
  organization_id: string;
  deleted_at: number | null;
  pass: number;
  cursor_created: string;
  cursor_job: string;
  cancelled: number;
  pages: number;
  done: number;
};

export interface ReaperStatus {
  organizationId: string;
  pass: number;
  /** Jobs this sweep cancelled, and the pages (alarms) it took. */
  cancelled: number;
  pages: number;
  done: boolean;
  /** Alarms in a row that failed (a cancel or a D1 read); the sweep retries with backoff. */
  failures: number;
  /** The purge that follows the sweep (purge.ts): every job's tree, then the job index. */
  purge: PurgeStatus | null;
}

export class OrganizationReaper extends DurableObject<Env> {
  #purge: PurgeState;
  /** Jobs cancelled per alarm (a test may lower it to see the sweep resume). */
  batchSize = ORG_REAPER_BATCH;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      `CREATE TABLE IF NOT EXISTS sweep (id INTEGER PRIMARY KEY CHECK (id = 1), organization_id TEXT NOT NULL, deleted_at INTEGER,
         pass INTEGER NOT NULL DEFAULT 1, cursor_created TEXT NOT NULL DEFAULT '', cursor_job TEXT NOT NULL DEFAULT '',
         cancelled INTEGER NOT NULL DEFAULT 0, pages INTEGER NOT NULL DEFAULT 0, done INTEGER NOT NULL DEFAULT 0)`,
    );
    // A table of its own, so a reaper whose sweep table predates it needs no migration.
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS failures (id INTEGER PRIMARY KEY CHECK (id = 1), count INTEGER NOT NULL)`);
    this.#purge = new PurgeState(ctx.storage.sql);
  }

  private failures(): number {
    return this.ctx.storage.sql.exec<{ count: number }>(`SELECT count FROM failures WHERE id = 1`).toArray()[0]?.count ?? 0;
  }

  private row(): SweepRow | undefined {
    return this.ctx.storage.sql.exec<SweepRow>(`SELECT * FROM sweep WHERE id = 1`).toArray()[0];
  }

  /**
   * Deletes the organization: NotFoundError when it is not live (unknown, or already deleted).
   * The intent and the alarm are stored first, so a crash after D1's commit still sweeps.
   */
  async deleteOrganization(organizationId: string): Promise<RpcResult<{ organizationId: string }>> {
    const now = Date.now();
    const existing = this.row();
    if (!existing) this.ctx.storage.sql.exec(`INSERT INTO sweep (id, organization_id) VALUES (1, ?)`, organizationId);
    await this.ctx.storage.setAlarm(now + 1000);
    const db = this.env.DB;
    const [marked] = await db.batch([
      markOrganizationDeletedStatement(db, organizationId, now),
      revokeAllTokensStatement(db, organizationId, now),
      deleteAllTriggersStatement(db, organizationId, now),
      deleteAllSecretsStatement(db, organizationId),
      deleteAllResourcePoolsStatement(db, organizationId),
      ...deleteOrganizationNotificationsStatements(db, organizationId),
    ]);
    if (marked!.meta.changes === 0) {
      // Not live. A sweep of an earlier deletion goes on; an intent of this call alone is dropped.
      if (!existing || existing.deleted_at === null) await this.forget();
      return { ok: false, error: new NotFoundError(`Organization ${organizationId} was not found.`).toInfo() };
    }
    this.ctx.storage.sql.exec(`UPDATE sweep SET deleted_at = ? WHERE id = 1`, now);
    await this.ctx.storage.setAlarm(now);
    logEvent("organization.deleted", { organizationId });
    return { ok: true, value: { organizationId } };
  }

  /** Where the sweep stands (tests and operators). */
  async status(): Promise<ReaperStatus | null> {
    const row = this.row();
    return row
      ? { organizationId: row.organization_id, pass: row.pass, cancelled: row.cancelled, pages: row.pages, done: row.done === 1, failures: this.failures(), purge: this.#purge.status() }
      : null;
  }

  private async forget(): Promise<void> {
    this.ctx.storage.sql.exec(`DELETE FROM sweep`);
    this.ctx.storage.sql.exec(`DELETE FROM failures`);
    await this.ctx.storage.deleteAlarm();
  }

  override async alarm(): Promise<void> {
    const row = this.row();
    if (!row) return;
    if (row.done === 1) return this.purge(row.organization_id);
    let failure: { error: unknown } | null;
    try {
      failure = await this.advance(row);
    } catch (error) {
      // A D1 read failed before anything moved.
      failure = { error };
    }
    if (failure === null) {
      this.ctx.storage.sql.exec(`DELETE FROM failures`);
      return;
    }
    this.ctx.storage.sql.exec(`INSERT INTO failures (id, count) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET count = count + 1`);
    const attempt = this.failures();
    logEvent("organization.reapFailed", { organizationId: row.organization_id, attempt, error: String(failure.error) });
    await this.ctx.storage.setAlarm(Date.now() + Math.min(ORG_REAPER_RETRY_MAX_MS, ORG_REAPER_RETRY_BASE_MS * 2 ** (attempt - 1)));
  }

  /** The purge's step (purge.ts), with the same backoff as the sweep's on failure; never throws. */
  private async purge(organizationId: string): Promise<void> {
    try {
      const next = await purgeStep(this.env, this.#purge, organizationId, Date.now());
      this.ctx.storage.sql.exec(`DELETE FROM failures`);
      if (next !== null) await this.ctx.storage.setAlarm(next);
    } catch (error) {
      this.ctx.storage.sql.exec(`INSERT INTO failures (id, count) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET count = count + 1`);
      const attempt = this.failures();
      logEvent("organization.purgeFailed", { organizationId, attempt, error: String(error) });
      await this.ctx.storage.setAlarm(Date.now() + Math.min(ORG_REAPER_RETRY_MAX_MS, ORG_REAPER_RETRY_BASE_MS * 2 ** (attempt - 1)));
    }
  }

  /** One step of the sweep; the first error of a step that failed part-way, or null. */
  private async advance(row: SweepRow): Promise<{ error: unknown } | null> {
    if (row.deleted_at === null) {
      // The object stopped between its intent and D1's answer: D1 says whether the deletion happened.
      const org = await this.env.DB.prepare(`SELECT deleted_at FROM organizations WHERE organization_id = ?`)
        .bind(row.organization_id)
        .first<{ deleted_at: string | null }>();
      if (!org?.deleted_at) {
        await this.forget();
        return null;
      }
      this.ctx.storage.sql.exec(`UPDATE sweep SET deleted_at = ? WHERE id = 1`, Date.parse(org.deleted_at));
      return this.sweepPage(this.row()!);
    }
    return this.sweepPage(row);
  }

  /**
   * Cancels one job of the organization: true when this call cancelled it, false when it had ended.
   * A job that answers NotFound was listed by the page's query, so its index row exists: it was
   * accepted in a batch and not started yet, and a tombstone makes its start create it CANCELLED.
   */
  private async cancelJob(organizationId: string, jobId: string): Promise<boolean> {
    const stub = jobStubFor(this.env, jobId);
    const answer = await stub.cancel(organizationId);
    if (answer.ok) return true;
    if (answer.error.code !== "NotFoundError") return false;
    await stub.cancelFromParent({ code: "CANCELLED", message: "The job's organization was deleted before the job started." });
    return true;
  }

  /**
   * Cancels one page of unfinished top-level jobs after the cursor, then moves the cursor on: past
   * the whole page when every cancel answered, else only past the jobs before the first that failed
   * (the others are asked again, which a cancelled job answers with a conflict).
   */
  private async sweepPage(row: SweepRow): Promise<{ error: unknown } | null> {
    const results = await unfinishedRoots(this.env, row.organization_id, { o: row.cursor_created, j: row.cursor_job }, this.batchSize);
    let cancelled = 0;
    // Jobs from the start of the page up to the first whose cancel failed.
    let handled = 0;
    let failure: { error: unknown } | null = null;
    for (let i = 0; i < results.length; i += ORG_REAPER_CONCURRENCY) {
      const answers = await Promise.allSettled(results.slice(i, i + ORG_REAPER_CONCURRENCY).map((job) => this.cancelJob(row.organization_id, job.job_id)));
      for (const answer of answers) {
        if (answer.status === "rejected") {
          failure ??= { error: answer.reason };
          continue;
        }
        // A job that ended meanwhile answers with a conflict: nothing to do for it.
        if (answer.value) cancelled++;
        if (failure === null) handled++;
      }
    }
    if (failure !== null) {
      const reached = results[handled - 1];
      this.ctx.storage.sql.exec(
        `UPDATE sweep SET cursor_created = coalesce(?, cursor_created), cursor_job = coalesce(?, cursor_job), cancelled = cancelled + ? WHERE id = 1`,
        reached?.created_at ?? null,
        reached?.job_id ?? null,
        cancelled,
      );
      return failure;
    }
    const last = results[results.length - 1];
    if (last && results.length === this.batchSize) {
      this.ctx.storage.sql.exec(
        `UPDATE sweep SET cursor_created = ?, cursor_job = ?, cancelled = cancelled + ?, pages = pages + 1 WHERE id = 1`,
        last.created_at,
        last.job_id,
        cancelled,
      );
      await this.ctx.storage.setAlarm(Date.now());
      return null;
    }
    if (row.pass === 1) {
      this.ctx.storage.sql.exec(`UPDATE sweep SET pass = 2, cursor_created = '', cursor_job = '', cancelled = cancelled + ?, pages = pages + 1 WHERE id = 1`, cancelled);
      await this.ctx.storage.setAlarm(Math.max(Date.now(), row.deleted_at! + ORG_REAPER_RECHECK_MS));
      return null;
    }
    this.ctx.storage.sql.exec(`UPDATE sweep SET done = 1, cancelled = cancelled + ?, pages = pages + 1 WHERE id = 1`, cancelled);
    logEvent("organization.reaped", { organizationId: row.organization_id, cancelled: row.cancelled + cancelled });
    // The purge comes next: every job's tree and then the job index go (purge.ts).
    await this.ctx.storage.setAlarm(Date.now());
    return null;
  }
}

/**
 * The organization's unfinished top-level jobs after `after`, oldest first, over every shard of its
 * index: one call per shard, merged on (created_at, job_id).
 */
async function unfinishedRoots(env: Env, organizationId: string, after: IndexCursor, limit: number): Promise<{ job_id: string; created_at: string }[]> {
  const ref = await organizationIndex(env.DB, organizationId);
  const pages = await Promise.all(allShards(env, ref).map((s) => s.roots(after, limit, true)));
  return pages
    .flat()
    .sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : 0))
    .slice(0, limit)
    .map((r) => ({ job_id: r.jobId, created_at: r.createdAt }));
}

/** The reaper of one organization. */
export function reaperFor(env: Env, organizationId: string): DurableObjectStub<OrganizationReaper> {
  return env.ORG_REAPER.get(env.ORG_REAPER.idFromName(organizationId));
}
