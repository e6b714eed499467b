/**
 * An intake object: accepts single submissions (SubmitJob, webhook deliveries) durably, many in one
 * commit, and starts them from its alarm. It is a BatchStarter that takes any number of groups over
 * its life instead of one batch: the same start rows (one per job), the same alarm passes (a chunk
 * of idempotent starts, organizations checked live, backoff on failure), the same start on demand.
 * It keeps no batch identity: a submission's duplicates are told by its job id (an idempotency key
 * or a caller-chosen id name the same job), and a start already held is not stored twice.
 * Its alarm fires at once after an accept, so a job starts moments after SubmitJob answers; while
 * its isolate takes a burst of submissions it fires once the burst has passed (src/intake/burst.ts).
 */
import { BatchStarter, type HeldStart } from "../job/batch-starter";
import { INTAKE_MAX_HELD_STARTS } from "../limits";
import { holdEnds, lastBurst } from "./burst";

/** One accepted submission: the job's identity and its input (its definition travels beside, once per version). */
export type IntakeStart = HeldStart;

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
   * The alarm is armed for now, unless this isolate is taking a burst of submissions (src/intake/burst.ts):
   * then the starts wait until it has passed, at most INTAKE_MAX_START_HOLD_MS.
   *
   * An intake holds at most INTAKE_MAX_HELD_STARTS starts: a group that would pass it is refused
   * whole (`full`), nothing stored, and its submissions are answered 429.
   */
  async acceptGroup(definitions: Record<string, string>, starts: IntakeStart[]): Promise<{ accepted: number } | { full: number }> {
    const held = this.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM start`).one().n;
    if (held + starts.length > INTAKE_MAX_HELD_STARTS) return { full: held };
    this.ctx.storage.transactionSync(() => this.storeStarts(definitions, starts));
    const now = Date.now();
    const until = holdEnds(now, lastBurst(), this.heldSince ?? now);
    this.heldSince = until > now ? (this.heldSince ?? now) : null;
    await this.ctx.storage.setAlarm(until);
    return { accepted: starts.length };
  }

  override async alarm(): Promise<void> {
    const now = Date.now();
    // Still within a burst of this isolate: held on (an alarm may also fire early, or twice).
    const until = this.heldSince === null ? now : holdEnds(now, lastBurst(), this.heldSince);
    if (until > now) {
      await this.ctx.storage.setAlarm(until);
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
