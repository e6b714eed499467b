/**
 * ResourcePool: one Durable Object per resource pool, named by its pool id. It holds the pool's
 * leases, one row per job (granted, or queued in arrival order), in its own SQLite, and admits at
 * most `workerLimit` granted leases at once: a Durable Object runs one request at a time, so the
 * count holds across isolates and under concurrency.
 *
 * - A job asks with `acquire` (idempotent per job id and round) and gives back with `release`
 *   when it ends; a freed slot goes to the oldest queued job at once.
 * - A grant to a queued job is delivered from the alarm (`JobObject.offerLease`) until the job
 *   answers; one it no longer wants (it ended, or never existed) frees the slot for the next.
 * - Crash safety: a lease not confirmed for POOL_LEASE_CHECK_INTERVAL_MS is checked with its
 *   holder the same way, so a release that was lost frees its slot then. Every row change is
 *   conditional on the round (`epoch`) it was read with, so an answer that raced a newer request
 *   of the same job changes nothing, and a slot is never granted twice.
 */
import { DurableObject } from "cloudflare:workers";
import { POOL_ALARM_BATCH, POOL_GRANT_RETRY_INITIAL_MS, POOL_GRANT_RETRY_MAX_MS, POOL_LEASE_CHECK_INTERVAL_MS, POOL_QUEUED_NOTIFY_MS } from "../limits";
import { logEvent } from "../log";
import { raiseNotification } from "../notifications/raise";
import { jobRunStub } from "../job/naming";

/** What the pool is: written by the API on create and update. */
export interface PoolConfig {
  organizationId: string;
  poolId: string;
  workerLimit: number;
}

/** The answer to a job's request: its lease, or its place in the queue (1 = next) and since when it waits. */
export type AcquireAnswer = { granted: true } | { granted: false; position: number; queuedAt: number };

/** What the pool holds now, for GetResourcePool and for notifications about long waits. */
export interface PoolStatus {
  workerLimit: number | null;
  runningJobs: number;
  queuedJobs: number;
  /** When the job queued longest began to wait (epoch ms), if any waits. */
  oldestQueuedAt?: number;
}

type LeaseRow = {
  job_id: string;
  epoch: number;
  seq: number;
  granted: number;
  queued_at: number;
  delivered: number;
  attempts: number;
};

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS config (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    organization_id TEXT, pool_id TEXT, worker_limit INTEGER,
    deleted INTEGER NOT NULL DEFAULT 0,
    next_seq INTEGER NOT NULL DEFAULT 1
  );
  INSERT OR IGNORE INTO config (id) VALUES (1);
  CREATE TABLE IF NOT EXISTS lease (
    job_id TEXT PRIMARY KEY,
    epoch INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    granted INTEGER NOT NULL,
    queued_at INTEGER NOT NULL,
    delivered INTEGER NOT NULL,
    due_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX IF NOT EXISTS lease_queue ON lease (granted, seq);
  CREATE TABLE IF NOT EXISTS backlog (id INTEGER PRIMARY KEY CHECK (id = 1), since INTEGER NOT NULL, raised INTEGER NOT NULL);
  CREATE INDEX IF NOT EXISTS lease_due ON lease (due_at);
`;

/** Calls one alarm makes at a time: a Worker keeps at most 6 connections open. */
const ALARM_CONCURRENCY = 6;

/** The stub of a pool's object. */
export function resourcePoolStub(env: Env, poolId: string): DurableObjectStub<ResourcePool> {
  return env.RESOURCE_POOLS.get(env.RESOURCE_POOLS.idFromName(poolId));
}

export class ResourcePool extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(SCHEMA);
  }

  private config(): { organization_id: string | null; pool_id: string | null; worker_limit: number | null; deleted: number; next_seq: number } {
    return this.sql.exec<{ organization_id: string | null; pool_id: string | null; worker_limit: number | null; deleted: number; next_seq: number }>(`SELECT * FROM config WHERE id = 1`).one();
  }

  private count(granted: 0 | 1): number {
    return this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM lease WHERE granted = ?`, granted).one().n;
  }

  /** Sets the pool's limit (creation or UpdateResourcePool): a raised limit grants queued jobs at once. */
  async configure(config: PoolConfig): Promise<PoolStatus> {
    this.sql.exec(`UPDATE config SET organization_id = ?, pool_id = ?, worker_limit = ?, deleted = 0 WHERE id = 1`, config.organizationId, config.poolId, config.workerLimit);
    this.promote();
    this.armAlarm();
    return this.status();
  }

  /** The pool was deleted: it limits nothing from now on, and every queued job gets its lease. */
  async remove(): Promise<void> {
    this.sql.exec(`UPDATE config SET deleted = 1 WHERE id = 1`);
    this.promote();
    this.armAlarm();
  }

  /**
   * Asks for a lease for round `epoch` of job `jobId`. Asking again returns the same answer. A row
   * of an earlier round of the same job (its release not yet arrived) is released first: the new
   * round queues behind the jobs already waiting.
   */
  async acquire(jobId: string, epoch: number): Promise<AcquireAnswer> {
    const now = Date.now();
    const cfg = this.config();
    // A deleted pool limits nothing; nor does one the API never configured (it fails open, loudly).
    if (cfg.deleted === 1 || cfg.worker_limit === null) {
      if (cfg.worker_limit === null) logEvent("pool.unconfigured", { jobId });
      return { granted: true };
    }
    let row = this.lease(jobId);
    if (row && row.epoch < epoch) {
      this.sql.exec(`DELETE FROM lease WHERE job_id = ?`, jobId);
      row = undefined;
    }
    if (!row) {
      this.sql.exec(
        `INSERT INTO lease (job_id, epoch, seq, granted, queued_at, delivered, due_at) VALUES (?, ?, ?, 0, ?, 1, ?)`,
        jobId,
        epoch,
        cfg.next_seq,
        now,
        now + POOL_LEASE_CHECK_INTERVAL_MS,
      );
      this.sql.exec(`UPDATE config SET next_seq = next_seq + 1 WHERE id = 1`);
      this.promote(now);
      row = this.lease(jobId)!;
    }
    if (row.granted === 1) {
      // The answer itself delivers the grant (unless it answers a late request of an earlier round).
      if (row.epoch === epoch) {
        this.sql.exec(`UPDATE lease SET delivered = 1, attempts = 0, due_at = ? WHERE job_id = ?`, now + POOL_LEASE_CHECK_INTERVAL_MS, jobId);
      }
      this.armAlarm();
      return { granted: true };
    }
    this.armAlarm();
    const ahead = this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM lease WHERE granted = 0 AND seq < ?`, row.seq).one().n;
    return { granted: false, position: ahead + 1, queuedAt: row.queued_at };
  }

  /** Gives back the lease or queue place of round `epoch` (or an earlier one) of `jobId`. */
  async release(jobId: string, epoch: number): Promise<void> {
    const freed = this.sql.exec(`DELETE FROM lease WHERE job_id = ? AND epoch <= ?`, jobId, epoch).rowsWritten;
    if (freed === 0) return;
    this.promote();
    this.armAlarm();
  }

  /** The pool's occupancy now. */
  async status(): Promise<PoolStatus> {
    const oldest = this.sql.exec<{ t: number | null }>(`SELECT MIN(queued_at) AS t FROM lease WHERE granted = 0`).one().t;
    return {
      workerLimit: this.config().worker_limit,
      runningJobs: this.count(1),
      queuedJobs: this.count(0),
      ...(oldest !== null ? { oldestQueuedAt: oldest } : {}),
    };
  }

  private lease(jobId: string): LeaseRow | undefined {
    return this.sql.exec<LeaseRow>(`SELECT * FROM lease WHERE job_id = ?`, jobId).toArray()[0];
  }

  /**
   * Grants free slots to the oldest queued jobs; the alarm delivers the grants (a job whose own
   * `acquire` is being answered learns of its grant from the answer). A deleted pool grants all.
   */
  private promote(now = Date.now()): void {
    const cfg = this.config();
    if (cfg.worker_limit === null) return;
    // LIMIT -1 is no limit.
    const free = cfg.deleted === 1 ? -1 : Math.max(0, cfg.worker_limit - this.count(1));
    if (free === 0) return;
    this.sql.exec(
      `UPDATE lease SET granted = 1, delivered = 0, attempts = 0, due_at = ?
       WHERE job_id IN (SELECT job_id FROM lease WHERE granted = 0 ORDER BY seq LIMIT ?)`,
      now,
      free,
    );
    // The queue is empty: the backlog (see notifyIfQueuedTooLong) is over.
    if (this.count(0) === 0) this.sql.exec(`DELETE FROM backlog`);
  }

  /** Sets the alarm to the next lease that needs a look, if any. */
  private armAlarm(): void {
    const next = this.sql.exec<{ t: number | null }>(`SELECT MIN(due_at) AS t FROM lease`).one().t;
    if (next !== null) void this.ctx.storage.setAlarm(next);
  }

  /**
   * Delivers grants not yet acknowledged and checks leases not confirmed for a while, asking each
   * job whether it still wants its lease (or place). Idempotent: a second run finds nothing due.
   */
  override async alarm(): Promise<void> {
    const now = Date.now();
    const poolId = this.config().pool_id;
    const due = this.sql.exec<LeaseRow>(`SELECT * FROM lease WHERE due_at <= ? ORDER BY due_at LIMIT ?`, now, POOL_ALARM_BATCH).toArray();
    for (let i = 0; i < due.length; i += ALARM_CONCURRENCY) {
      await Promise.all(due.slice(i, i + ALARM_CONCURRENCY).map((row) => this.ask(poolId ?? this.ctx.id.toString(), row)));
    }
    await this.notifyIfQueuedTooLong(now);
    this.armAlarm();
  }

  /**
   * Raises RESOURCE_POOL_QUEUED_TOO_LONG once per backlog: from the time the alarm first sees jobs
   * queued until it sees the queue empty. It is raised when the oldest queued job has waited
   * POOL_QUEUED_NOTIFY_MS; queued rows come due every POOL_LEASE_CHECK_INTERVAL_MS, so the alarm
   * looks at least that often while anything waits. A busy pool whose waiters change with every
   * completion still raises once, and a repeated alarm raises nothing (nor reads D1).
   */
  private async notifyIfQueuedTooLong(now: number): Promise<void> {
    const cfg = this.config();
    const oldest = this.sql.exec<{ t: number | null }>(`SELECT MIN(queued_at) AS t FROM lease WHERE granted = 0`).one().t;
    if (oldest === null) {
      this.sql.exec(`DELETE FROM backlog`);
      return;
    }
    this.sql.exec(`INSERT OR IGNORE INTO backlog (id, since, raised) VALUES (1, ?, 0)`, oldest);
    const backlog = this.sql.exec<{ since: number; raised: number }>(`SELECT since, raised FROM backlog WHERE id = 1`).one();
    if (backlog.raised === 1 || cfg.organization_id === null || cfg.pool_id === null || now - oldest < POOL_QUEUED_NOTIFY_MS) return;
    const minutes = Math.floor((now - oldest) / 60_000);
    try {
      await raiseNotification(this.env, {
        organizationId: cfg.organization_id,
        type: "RESOURCE_POOL_QUEUED_TOO_LONG",
        title: "Jobs are waiting for a resource pool",
        message: `${this.count(0)} job(s) wait for resource pool ${cfg.pool_id} (limit ${cfg.worker_limit}); the oldest has waited ${minutes} minutes.`,
        resourceId: cfg.pool_id,
        dedupeKey: `pool-queued:${cfg.pool_id}:${backlog.since}`,
      });
      this.sql.exec(`UPDATE backlog SET raised = 1 WHERE id = 1`);
    } catch (e) {
      // The next alarm tries again; the dedupe key keeps a late success from raising twice.
      logEvent("pool.notifyFailed", { poolId: cfg.pool_id, error: String(e) });
    }
  }

  /** Offers (or confirms) one lease to its job and settles the answer. */
  private async ask(poolId: string, row: LeaseRow): Promise<void> {
    let keep: boolean;
    try {
      ({ keep } = await jobRunStub(this.env, row.job_id).offerLease(poolId, row.epoch, row.granted === 1));
    } catch (e) {
      const wait = Math.min(POOL_GRANT_RETRY_INITIAL_MS * 2 ** row.attempts, POOL_GRANT_RETRY_MAX_MS);
      logEvent("pool.offerFailed", { poolId, jobId: row.job_id, attempts: row.attempts, error: String(e) });
      this.sql.exec(`UPDATE lease SET attempts = attempts + 1, due_at = ? WHERE job_id = ? AND epoch = ?`, Date.now() + wait, row.job_id, row.epoch);
      return;
    }
    if (keep) {
      // Settled only as asked: a row that changed meanwhile (promoted, taken by a newer round) keeps its own due time.
      this.sql.exec(
        `UPDATE lease SET delivered = 1, attempts = 0, due_at = ? WHERE job_id = ? AND epoch = ? AND granted = ?`,
        Date.now() + POOL_LEASE_CHECK_INTERVAL_MS,
        row.job_id,
        row.epoch,
        row.granted,
      );
      return;
    }
    logEvent("pool.leaseFreed", { poolId, jobId: row.job_id, granted: row.granted === 1 });
    await this.release(row.job_id, row.epoch);
  }
}
