/**
 * Starts the jobs of one batch submission. SubmitJobs (batch) answers once the batch is stored here,
 * in one commit, instead of after a thousand Durable Objects have been created: the jobs are
 * accepted durably, listed at once (the API writes their first index rows), and started from this
 * object's alarm, START_CHUNK at a time. A start is idempotent (a job id that exists is returned as
 * it is), so an alarm that fires twice, or a retry after a crash, starts each job exactly once.
 * When every job has started the object keeps only the batch's identity (that it accepted it, and
 * a fingerprint of what it accepted) for BATCH_IDENTITY_RETENTION_MS, then deletes its storage: a
 * batch sent again under the same key within that time finds its first accept, and the API can ask
 * an object whose answer it lost whether it took the batch (`seal`).
 *
 * Each pass first asks D1 whether the batch's organization is still live (one query per distinct
 * organization; a batch has one): the starts of a deleted organization are dropped, with the index
 * rows that listed them, so no job starts after DeleteOrganization. A start whose pass read the
 * organization live just before its deletion is caught by the reaper, which leaves the job a
 * tombstone (src/organizations/reaper.ts) or cancels it once started.
 */
import { DurableObject } from "cloudflare:workers";
import { BATCH_FIRST_PASS_DELAY_MS, BATCH_IDENTITY_RETENTION_MS } from "../limits";
import { logEvent } from "../log";
import type { JobIdentity } from "../engine/types";
import { indexRefOf } from "../job-index/entry";
import { forgetUnstarted } from "../job-index/shards";
import { organizationIsLive } from "../registry/organizations";
import { jobRunStub } from "./naming";

/** How many starts one alarm pass sends at once. */
const START_CHUNK = 100;
/** Definition text in flight in one pass: 100 starts of a 1 MiB definition would hold 100 MiB of the isolate's 128. */
const START_DEFINITION_BYTES = 16 * 1024 * 1024;
/** After a pass whose starts failed, the next waits this long times 2^failures, up to a minute. */
const RETRY_BASE_MS = 500;
const RETRY_MAX_MS = 60_000;

/** What `accept` answers: taken now or before (`already`), or refused (sealed, or a different batch under its key). */
export type AcceptAnswer = { accepted: number; already: boolean } | { refused: "sealed" | "conflict" };

/** A job accepted and not started yet: its identity and its input (its definition is stored once per version). */
export interface HeldStart {
  identity: JobIdentity;
  input: unknown;
}

export class BatchStarter extends DurableObject<Env> {
  protected readonly sql = this.ctx.storage.sql;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql.exec(`CREATE TABLE IF NOT EXISTS definition (version_id TEXT PRIMARY KEY, text TEXT NOT NULL)`);
    this.sql.exec(
      `CREATE TABLE IF NOT EXISTS start (seq INTEGER PRIMARY KEY, job_id TEXT NOT NULL UNIQUE, identity TEXT NOT NULL, input TEXT NOT NULL)`,
    );
    this.sql.exec(`CREATE TABLE IF NOT EXISTS failures (id INTEGER PRIMARY KEY CHECK (id = 1), count INTEGER NOT NULL)`);
    // The batch's identity: written with its starts, or sealed (accepted nothing, and never will).
    this.sql.exec(
      `CREATE TABLE IF NOT EXISTS batch (id INTEGER PRIMARY KEY CHECK (id = 1), fingerprint TEXT NOT NULL, since INTEGER NOT NULL, sealed INTEGER NOT NULL)`,
    );
  }

  private identity(): { fingerprint: string; since: number; sealed: number } | undefined {
    return this.sql.exec<{ fingerprint: string; since: number; sealed: number }>(`SELECT fingerprint, since, sealed FROM batch`).toArray()[0];
  }

  /**
   * Stores the starts (in one commit) and arms the alarm that sends them. Every value fits a row:
   * an input arrived in a request body of at most MAX_BODY_BYTES (1 MiB), a definition was stored
   * in D1 under the same bound. Accepting again is a no-op that answers `already` (the same
   * batch: its `fingerprint`) or refuses (another batch under this object's key, or a sealed object).
   */
  async accept(definitions: Record<string, string>, starts: HeldStart[], fingerprint = ""): Promise<AcceptAnswer> {
    const answer = this.ctx.storage.transactionSync((): AcceptAnswer => {
      const known = this.identity();
      if (known?.sealed) return { refused: "sealed" };
      if (known) return known.fingerprint === fingerprint ? { accepted: starts.length, already: true } : { refused: "conflict" };
      this.sql.exec(`INSERT INTO batch (id, fingerprint, since, sealed) VALUES (1, ?, ?, 0)`, fingerprint, Date.now());
      this.storeStarts(definitions, starts);
      return { accepted: starts.length, already: false };
    });
    if ("accepted" in answer && !answer.already) await this.ctx.storage.setAlarm(Date.now() + BATCH_FIRST_PASS_DELAY_MS);
    return answer;
  }

  /**
   * Stores starts and the definitions they name (inside the caller's transaction): one row each, a
   * job id already held keeping its first start, a definition stored once.
   */
  protected storeStarts(definitions: Record<string, string>, starts: HeldStart[]): void {
    for (const [versionId, text] of Object.entries(definitions)) {
      this.sql.exec(`INSERT OR IGNORE INTO definition (version_id, text) VALUES (?, ?)`, versionId, text);
    }
    for (const s of starts) {
      this.sql.exec(`INSERT OR IGNORE INTO start (job_id, identity, input) VALUES (?, ?, ?)`, s.identity.jobId, JSON.stringify(s.identity), JSON.stringify(s.input ?? null));
    }
  }

  /**
   * Settles an accept whose answer was lost: "accepted" if this object took a batch, else it is
   * sealed so that no accept still on its way can land later ("sealed": nothing was, or will be, accepted).
   */
  async seal(): Promise<"accepted" | "sealed"> {
    const outcome = this.ctx.storage.transactionSync(() => {
      const known = this.identity();
      if (known) return known.sealed ? "sealed" : "accepted";
      this.sql.exec(`INSERT INTO batch (id, fingerprint, since, sealed) VALUES (1, '', ?, 1)`, Date.now());
      return "sealed";
    });
    if (outcome === "sealed" && (await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + BATCH_IDENTITY_RETENTION_MS);
    return outcome;
  }

  /**
   * The next starts in order: at most START_CHUNK, and no more than START_DEFINITION_BYTES of
   * definitions in flight (each start carries its definition, of up to 1 MiB).
   */
  private nextChunk(): { seq: number; job_id: string; identity: string; input: string; versionId: string }[] {
    const rows = this.sql
      .exec<{ seq: number; job_id: string; identity: string; input: string; versionId: string; size: number }>(
        `SELECT s.seq, s.job_id, s.identity, s.input, d.version_id AS versionId, length(d.text) AS size
         FROM start s JOIN definition d ON d.version_id = json_extract(s.identity, '$.versionId')
         ORDER BY s.seq LIMIT ?`,
        START_CHUNK,
      )
      .toArray();
    let bytes = 0;
    const chunk = [];
    for (const row of rows) {
      if (chunk.length > 0 && bytes + row.size > START_DEFINITION_BYTES) break;
      bytes += row.size;
      chunk.push(row);
    }
    return chunk;
  }

  /**
   * Starts job `jobId` now, if this object holds its start: a request reached the job before the
   * alarm did (src/intake/on-demand.ts). "absent" when it holds no such start (started already,
   * dropped with its organization, or another organization's job). Safe beside the alarm's own
   * start of the same job: a start of a job that exists returns it as it is, and the row is deleted
   * by its seq, which either may do. The organization is live: the request was authenticated for it.
   */
  async startNow(organizationId: string, jobId: string): Promise<"started" | "absent"> {
    const row = this.sql
      .exec<{ seq: number; identity: string; input: string; text: string }>(
        `SELECT s.seq, s.identity, s.input, d.text FROM start s
         JOIN definition d ON d.version_id = json_extract(s.identity, '$.versionId') WHERE s.job_id = ?`,
        jobId,
      )
      .toArray()[0];
    if (!row) return "absent";
    const identity = JSON.parse(row.identity) as JobIdentity;
    if (identity.organizationId !== organizationId) return "absent";
    const started = await jobRunStub(this.env, jobId).start({ identity, definition: row.text, executionData: { workflowInput: JSON.parse(row.input) as unknown } });
    // A start that failed keeps its row: the alarm tries it again (an error over RPC would lose its class).
    if (!started.ok) throw new Error(`The job ${jobId} could not be started now: ${started.error.message}`);
    this.sql.exec(`DELETE FROM start WHERE seq = ?`, row.seq);
    return "started";
  }

  /** How many of the batch's jobs are still to be started (tests and diagnostics). */
  async pending(): Promise<number> {
    return this.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM start`).one().n;
  }

  override async alarm(): Promise<void> {
    const rows = this.nextChunk();
    if (rows.length === 0) {
      await this.allStarted();
      return;
    }
    const starts = rows.map((r) => ({ ...r, identity: JSON.parse(r.identity) as JobIdentity }));
    let live: Map<string, boolean>;
    try {
      live = await this.liveOrganizations(starts.map((s) => s.identity.organizationId));
    } catch (error) {
      // Unknown whether they may start: the whole pass is tried again later.
      await this.retryLater(rows.length, error);
      return;
    }
    const dropped = starts.filter((s) => !live.get(s.identity.organizationId));
    if (dropped.length > 0) {
      // The rows only list jobs that will never exist; a row left behind (the index failing here) is
      // found by the reaper's second pass, which leaves its job a tombstone.
      await forgetUnstarted(this.env, indexRefOf(dropped[0]!.identity), dropped.map((s) => s.job_id)).catch((e: unknown) =>
        logEvent("batch.forgetFailed", { jobs: dropped.length, error: String(e) }),
      );
      logEvent("batch.startsDropped", { organizationId: dropped[0]!.identity.organizationId, jobs: dropped.length });
    }
    const sent = starts.filter((s) => live.get(s.identity.organizationId));
    // Each definition is read once per pass: a row carries only its version id.
    const definitions = new Map<string, string>();
    for (const versionId of new Set(sent.map((r) => r.versionId))) {
      definitions.set(versionId, this.sql.exec<{ text: string }>(`SELECT text FROM definition WHERE version_id = ?`, versionId).one().text);
    }
    const results = await Promise.allSettled(
      sent.map((r) =>
        jobRunStub(this.env, r.job_id).start({
          identity: r.identity,
          definition: definitions.get(r.versionId)!,
          executionData: { workflowInput: JSON.parse(r.input) as unknown },
        }),
      ),
    );
    // A start that answered (created, or already there) is done; one that threw is sent again.
    const done = [...dropped.map((r) => r.seq), ...sent.filter((_, i) => results[i]!.status === "fulfilled").map((r) => r.seq)];
    const failed = rows.length - done.length;
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(`DELETE FROM start WHERE seq IN (SELECT value FROM json_each(?))`, JSON.stringify(done));
      if (failed === 0) this.sql.exec(`DELETE FROM failures`);
    });
    if (failed > 0) {
      const error = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
      await this.retryLater(failed, error.reason);
      return;
    }
    await this.ctx.storage.setAlarm(Date.now());
  }

  /** Every job has started: the batch's identity stays for its retention, then nothing does. */
  protected async allStarted(): Promise<void> {
    const known = this.identity();
    const until = (known?.since ?? 0) + BATCH_IDENTITY_RETENTION_MS;
    if (known && Date.now() < until) {
      this.sql.exec(`DELETE FROM definition`);
      await this.ctx.storage.setAlarm(until);
      return;
    }
    await this.ctx.storage.deleteAll();
  }

  /** Whether each distinct organization is live: one D1 query per organization. */
  private async liveOrganizations(organizationIds: string[]): Promise<Map<string, boolean>> {
    const distinct = [...new Set(organizationIds)];
    const answers = await Promise.all(distinct.map((id) => organizationIsLive(this.env.DB, id)));
    return new Map(distinct.map((id, i) => [id, answers[i]!]));
  }

  /** Counts a failed pass and arms the alarm after its backoff. */
  private async retryLater(failed: number, error: unknown): Promise<void> {
    this.sql.exec(`INSERT INTO failures (id, count) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET count = count + 1`);
    const count = this.sql.exec<{ count: number }>(`SELECT count FROM failures`).one().count;
    logEvent("batch.startsFailed", { failed, attempt: count, error: String(error) });
    await this.ctx.storage.setAlarm(Date.now() + Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (count - 1)));
  }
}
