/**
 * OrganizationReaper: one Durable Object per deleted organization. DeleteOrganization goes through
 * it, so the deletion and the sweep that follows are one durable intent: the object records the
 * intent and arms its alarm before it marks the organization deleted in D1 (which revokes its
 * tokens, deletes its triggers, secrets, resource pools and notification settings in the same
 * batch), and the alarm then sweeps what the organization leaves, one kind at a time
 * (src/organizations/sweeps.ts: its unfinished jobs, its schedules, its notifications), a bounded
 * page per alarm from a position stored per kind, until every kind is done; a second pass after
 * ORG_REAPER_RECHECK_MS catches what was made in the moment of the deletion. An alarm that fires
 * twice, or an object evicted mid-page, does a page again at most, which every kind tolerates (a
 * cancelled job answers with a conflict, a deleted schedule has nothing left to delete).
 *
 * The alarm never throws: Cloudflare retries a throwing alarm a few times and then drops it, which
 * would abandon the sweep. A page that fails part-way keeps its position before the first thing
 * that failed and arms the alarm again with backoff, until the sweep is done.
 *
 * A job accepted by SubmitJobs (batch) has only its index row until its BatchStarter starts it, so
 * its cancel answers NotFound: the reaper leaves it a tombstone instead, and the start creates it
 * CANCELLED (the BatchStarter also drops the starts of an organization that is no longer live).
 */
import { DurableObject } from "cloudflare:workers";
import { NotFoundError, type RpcResult } from "../errors";
import { ORG_REAPER_BATCH, ORG_REAPER_DELETE_BATCH, ORG_REAPER_RECHECK_MS, ORG_REAPER_RETRY_BASE_MS, ORG_REAPER_RETRY_MAX_MS } from "../limits";
import { logEvent } from "../log";
import { markOrganizationDeletedStatement } from "../registry/organizations";
import { PurgeState, purgeStep, type PurgeStatus } from "./purge";
import { deleteAllResourcePoolsStatement } from "../registry/resource-pools";
import { deleteOrganizationNotificationsStatements } from "../notifications/store";
import { deleteAllSecretsStatement } from "../registry/secrets";
import { revokeAllTokensStatement } from "../registry/tokens";
import { deleteAllTriggersStatement } from "../webhooks/triggers";
import { SWEEPS, type Sweep } from "./sweeps";

/** The sweep's one row. `deleted_at` is set once D1 has the organization deleted. */
type SweepRow = {
  organization_id: string;
  deleted_at: number | null;
  pass: number;
  done: number;
};

/** Where one kind's sweep stands in the current pass, and what it did over both. */
type CursorRow = { kind: string; position: string; done: number; count: number; pages: number };

export interface ReaperStatus {
  organizationId: string;
  pass: number;
  /** Jobs this sweep cancelled, and the pages (alarms) that took. */
  cancelled: number;
  pages: number;
  done: boolean;
  /** Alarms in a row that failed (a call or a D1 statement); the sweep retries with backoff. */
  failures: number;
  /** Each kind: things dealt with (jobs cancelled, schedules deleted, rows deleted) and pages, over both passes. */
  kinds: Record<string, { count: number; pages: number; done: boolean }>;
  /** The purge that follows the sweep (purge.ts): every job's tree, then the job index. */
  purge: PurgeStatus | null;
}

export class OrganizationReaper extends DurableObject<Env> {
  #purge: PurgeState;
  /** Durable Object calls per page (a test may lower it to see the sweep resume). */
  batchSize = ORG_REAPER_BATCH;
  /** Rows one D1 statement deletes (a test may lower it too). */
  deleteBatchSize = ORG_REAPER_DELETE_BATCH;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    sql.exec(
      `CREATE TABLE IF NOT EXISTS sweep (id INTEGER PRIMARY KEY CHECK (id = 1), organization_id TEXT NOT NULL, deleted_at INTEGER,
         pass INTEGER NOT NULL DEFAULT 1, cursor_created TEXT NOT NULL DEFAULT '', cursor_job TEXT NOT NULL DEFAULT '',
         cancelled INTEGER NOT NULL DEFAULT 0, pages INTEGER NOT NULL DEFAULT 0, done INTEGER NOT NULL DEFAULT 0)`,
    );
    // A table of its own, so a reaper whose sweep table predates it needs no migration.
    sql.exec(`CREATE TABLE IF NOT EXISTS failures (id INTEGER PRIMARY KEY CHECK (id = 1), count INTEGER NOT NULL)`);
    sql.exec(
      `CREATE TABLE IF NOT EXISTS cursor (kind TEXT PRIMARY KEY, position TEXT NOT NULL DEFAULT '', done INTEGER NOT NULL DEFAULT 0,
         count INTEGER NOT NULL DEFAULT 0, pages INTEGER NOT NULL DEFAULT 0)`,
    );
    // A sweep begun before kinds had cursors of their own kept the jobs' in the sweep row.
    sql.exec(
      `INSERT OR IGNORE INTO cursor (kind, position, count, pages)
       SELECT 'jobs', CASE WHEN cursor_job = '' THEN '' ELSE json_array(cursor_created, cursor_job) END, cancelled, pages
       FROM sweep WHERE pages > 0 OR cursor_job != ''`,
    );
    this.#purge = new PurgeState(sql);
  }

  private cursor(kind: string): CursorRow {
    return this.ctx.storage.sql.exec<CursorRow>(`SELECT * FROM cursor WHERE kind = ?`, kind).toArray()[0] ?? { kind, position: "", done: 0, count: 0, pages: 0 };
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
    if (!row) return null;
    const kinds = Object.fromEntries(SWEEPS.map((k) => [k.kind, this.cursor(k.kind)]).map(([kind, c]) => [kind, { count: (c as CursorRow).count, pages: (c as CursorRow).pages, done: (c as CursorRow).done === 1 }]));
    const jobs = this.cursor("jobs");
    return { organizationId: row.organization_id, pass: row.pass, cancelled: jobs.count, pages: jobs.pages, done: row.done === 1, failures: this.failures(), kinds, purge: this.#purge.status() };
  }

  private async forget(): Promise<void> {
    this.ctx.storage.sql.exec(`DELETE FROM sweep`);
    this.ctx.storage.sql.exec(`DELETE FROM failures`);
    this.ctx.storage.sql.exec(`DELETE FROM cursor`);
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
   * One page of the first kind not yet done in this pass, with its position, count and page
   * stored; then the alarm again at once, or, when every kind is done, the next pass (after
   * ORG_REAPER_RECHECK_MS) or the end. The first error of a page that failed part-way, or null.
   */
  private async sweepPage(row: SweepRow): Promise<{ error: unknown } | null> {
    const sweep = SWEEPS.find((k) => this.cursor(k.kind).done === 0);
    if (sweep) {
      const page = await sweep.page(
        { env: this.env, organizationId: row.organization_id, callsPerPage: this.batchSize, rowsPerStatement: this.deleteBatchSize },
        this.cursor(sweep.kind).position,
      );
      this.record(sweep, page.position, page.done, page.count);
      if (page.failure) return page.failure;
      if (SWEEPS.some((k) => this.cursor(k.kind).done === 0)) {
        await this.ctx.storage.setAlarm(Date.now());
        return null;
      }
    }
    if (row.pass === 1) {
      this.ctx.storage.sql.exec(`UPDATE sweep SET pass = 2 WHERE id = 1`);
      this.ctx.storage.sql.exec(`UPDATE cursor SET position = '', done = 0`);
      await this.ctx.storage.setAlarm(Math.max(Date.now(), row.deleted_at! + ORG_REAPER_RECHECK_MS));
      return null;
    }
    this.ctx.storage.sql.exec(`UPDATE sweep SET done = 1 WHERE id = 1`);
    logEvent("organization.reaped", { organizationId: row.organization_id, ...Object.fromEntries(SWEEPS.map((k) => [k.kind, this.cursor(k.kind).count])) });
    // The purge comes next: every job's tree and then the job index go (purge.ts).
    await this.ctx.storage.setAlarm(Date.now());
    return null;
  }

  private record(sweep: Sweep, position: string, done: boolean, count: number): void {
    this.ctx.storage.sql.exec(
      `INSERT INTO cursor (kind, position, done, count, pages) VALUES (?1, ?2, ?3, ?4, 1)
       ON CONFLICT (kind) DO UPDATE SET position = ?2, done = ?3, count = count + ?4, pages = pages + 1`,
      sweep.kind,
      position,
      done ? 1 : 0,
      count,
    );
  }
}

/** The reaper of one organization. */
export function reaperFor(env: Env, organizationId: string): DurableObjectStub<OrganizationReaper> {
  return env.ORG_REAPER.get(env.ORG_REAPER.idFromName(organizationId));
}
