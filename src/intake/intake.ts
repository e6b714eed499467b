/**
 * An intake object: accepts single submissions (SubmitJob, webhook deliveries) durably, many in one
 * commit, and starts them from its alarm. It is a BatchStarter that takes any number of groups over
 * its life instead of one batch: the same start rows (one per job), the same alarm passes (a chunk
 * of idempotent starts, organizations checked live, backoff on failure), the same start on demand.
 * It keeps no batch identity: a submission's duplicates are told by its job id (an idempotency key
 * or a caller-chosen id name the same job), and a start already held is not stored twice.
 * Its alarm fires at once after each accept, so a job starts moments after SubmitJob answers.
 */
import type { JobIdentity } from "../engine/types";
import { BatchStarter } from "../job/batch-starter";

/** One accepted submission: the job's identity and its input (its definition travels beside, once per version). */
export interface IntakeStart {
  identity: JobIdentity;
  input: unknown;
}

export class Intake extends BatchStarter {
  /**
   * Stores a group of starts in one commit and arms the alarm for now; answers once durable (the
   * output gate holds the answer until the commit is). Each start is a row of its own, so a group is
   * bounded by INTAKE_GROUP_MAX_BYTES only for the RPC that carries it. A job id already held
   * keeps its first start.
   */
  async acceptGroup(definitions: Record<string, string>, starts: IntakeStart[]): Promise<{ accepted: number }> {
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
    await this.ctx.storage.setAlarm(Date.now());
    return { accepted: starts.length };
  }

  override async alarm(): Promise<void> {
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
