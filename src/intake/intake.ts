/**
 * An intake object: accepts single submissions (SubmitJob, webhook deliveries) durably, many in one
 * commit, and starts them from its alarm. It is a BatchStarter that takes any number of groups over
 * its life instead of one batch: the same start rows (one per job), the same alarm passes (a chunk
 * of idempotent starts, organizations checked live, backoff on failure), the same start on demand.
 * It keeps no batch identity: a submission's duplicates are told by its job id (an idempotency key
 * or a caller-chosen id name the same job), and a start already held is not stored twice.
 * Its alarm fires at once after an accept, so a job starts moments after SubmitJob answers; during
 * a burst of submissions it fires once the burst has passed (acceptGroup).
 */
import type { JobIdentity } from "../engine/types";
import { BatchStarter } from "../job/batch-starter";
import { INTAKE_BURST_LULL_MS, INTAKE_MAX_HELD_STARTS, INTAKE_MAX_START_HOLD_MS } from "../limits";

/** One accepted submission: the job's identity and its input (its definition travels beside, once per version). */
export interface IntakeStart {
  identity: JobIdentity;
  input: unknown;
}

/**
 * When an intake object of this isolate last accepted a group of a burst. Module scope on purpose:
 * the intake objects of an isolate share its thread, so a burst seen by any of them holds every
 * one's starts (a start run by one would slow the accepts of all).
 */
let lastBurstAt = 0;

export class Intake extends BatchStarter {
  /**
   * Since when this object has held starts back for a burst (memory only: an object that lost it
   * starts at its next alarm, which is never later than it would have been).
   */
  private heldSince: number | null = null;

  /**
   * Stores a group of starts in one commit and arms the alarm that starts them; answers once durable
   * (the output gate holds the answer until the commit is). Each start is a row of its own, so a group
   * is bounded by INTAKE_GROUP_MAX_BYTES only for the RPC that carries it. A job id already held
   * keeps its first start.
   *
   * A group sent during a burst of submissions (`burst`: its isolate had more than
   * INTAKE_BURST_SUBMISSIONS waiting) holds the starts back until the burst has passed: the alarm
   * is armed INTAKE_BURST_LULL_MS after the latest such group, and never later than
   * INTAKE_MAX_START_HOLD_MS after the first. Starting a job costs the thread several times what
   * accepting one does (its object created, its first step run, its index rows), so the burst is
   * answered first and started right after. Any other group arms the alarm for now.
   *
   * An intake holds at most INTAKE_MAX_HELD_STARTS starts: a group that would pass it is refused
   * whole (`full`), nothing stored, and its submissions are answered 429.
   */
  async acceptGroup(definitions: Record<string, string>, starts: IntakeStart[], burst = false): Promise<{ accepted: number } | { full: number }> {
    const held = this.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM start`).one().n;
    if (held + starts.length > INTAKE_MAX_HELD_STARTS) return { full: held };
    this.ctx.storage.transactionSync(() => {
      for (const [versionId, text] of Object.entries(definitions)) {
        this.sql.exec(`INSERT OR IGNORE INTO definition (version_id, text) VALUES (?, ?)`, versionId, text);
      }
      for (const s of starts) {
        this.sql.exec(
          `INSERT OR IGNORE INTO start (job_id, identity, input) VALUES (?, ?, ?)`,
          s.identity.jobId,
          JSON.stringify(s.identity),
          JSON.stringify(s.input ?? null),
        );
      }
    });
    const now = Date.now();
    if (burst) lastBurstAt = now;
    if (now - lastBurstAt < INTAKE_BURST_LULL_MS) {
      // In a burst, or in its lull (its last answers still on their way): held.
      this.heldSince ??= now;
      await this.ctx.storage.setAlarm(this.holdEnds(now));
    } else {
      this.heldSince = null;
      await this.ctx.storage.setAlarm(now);
    }
    return { accepted: starts.length };
  }

  /** When starts held for a burst go: INTAKE_BURST_LULL_MS after its latest group, at most INTAKE_MAX_START_HOLD_MS after the first. */
  private holdEnds(now: number): number {
    return Math.max(now, Math.min(lastBurstAt + INTAKE_BURST_LULL_MS, (this.heldSince ?? now) + INTAKE_MAX_START_HOLD_MS));
  }

  override async alarm(): Promise<void> {
    const now = Date.now();
    // Still within a burst another intake of this isolate is taking: held on.
    if (this.heldSince !== null && this.holdEnds(now) > now) {
      await this.ctx.storage.setAlarm(this.holdEnds(now));
      return;
    }
    // A pass runs: a later burst holds the starts after it from its own first group.
    this.heldSince = null;
    await super.alarm();
    // A busy intake may never be empty: definitions no start needs go after each pass. Every
    // reader of a definition (a pass, a start on demand) reads it with its start, before any await.
    this.sql.exec(
      `DELETE FROM definition WHERE version_id NOT IN (SELECT json_extract(identity, '$.versionId') FROM start)`,
    );
  }

  /** Nothing is left to start: the object stays, empty, for the next submissions. */
  protected override async allStarted(): Promise<void> {
    this.sql.exec(`DELETE FROM definition`);
  }
}
