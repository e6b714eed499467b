/**
 * Single submissions through the intake (SubmitJob, webhook deliveries): a job is accepted durably
 * by its intake shard, coalesced with the isolate's other submissions of the same moment into one
 * accept and one commit, and started from that shard's alarm moments later. The request's path
 * creates no Durable Object. Idempotency keys and caller-chosen ids keep their meaning: a job id
 * names one job, and an intake that holds its start keeps the first.
 */
import { utf8Length } from "../json-size";
import { INTAKE_GROUP_MAX_BYTES, INTAKE_GROUP_MAX_JOBS, INTAKE_GROUP_MAX_WAIT_MS, INTAKE_MEMBER_WAIT_MS, INTAKE_SHARDS } from "../limits";
import { logEvent } from "../log";
import type { StartJob } from "../job/messages";
import type { Beginning } from "../job/submit";
import { GroupCommitter } from "./group-commit";
import type { IntakeStart } from "./intake";
import { intakeShardOf, intakeStub, newIdInShard } from "./shards";

/** New ids go to this shard until a group of it is sent: one moment's submissions share a commit. */
let currentShard = Math.floor(Math.random() * INTAKE_SHARDS);

const sendGroup = (env: Env, shard: number, definitions: Record<string, string>, starts: IntakeStart[]) =>
  intakeStub(env, shard).acceptGroup(definitions, starts);

const committer = new GroupCommitter<Env, IntakeStart>(
  sendGroup,
  { maxJobs: INTAKE_GROUP_MAX_JOBS, maxBytes: INTAKE_GROUP_MAX_BYTES, maxWaitMs: INTAKE_GROUP_MAX_WAIT_MS },
  (shard) => {
    if (shard === currentShard) currentShard = (shard + 1) % INTAKE_SHARDS;
  },
);

/**
 * Accepts `start` in its intake shard, durably, before resolving. If its group fails or has not
 * answered in INTAKE_MEMBER_WAIT_MS, it is sent again alone: an accept is idempotent by job id.
 */
export async function acceptInIntake(env: Env, start: StartJob): Promise<void> {
  const shard = intakeShardOf(start.identity.jobId);
  const item: IntakeStart = { identity: start.identity, input: start.executionData.workflowInput };
  const bytes = utf8Length(JSON.stringify(item));
  try {
    const definition = { versionId: start.identity.versionId, text: start.definition };
    if ((await committer.submit(env, shard, item, bytes, definition, INTAKE_MEMBER_WAIT_MS)) === "accepted") return;
    logEvent("intake.groupLate", { jobId: start.identity.jobId, shard });
  } catch (error) {
    logEvent("intake.groupFailed", { jobId: start.identity.jobId, shard, error: String(error) });
  }
  await sendGroup(env, shard, { [start.identity.versionId]: start.definition }, [item]);
}

/** SubmitJob's way in: ids in the isolate's current shard, accepted by the intake. */
export const throughIntake: Beginning = {
  newJobId: () => newIdInShard(currentShard),
  async begin(env, start) {
    await acceptInIntake(env, start);
    // Accepted: whether a job of this id existed already is not known here (its start says so later).
    return { ok: true, value: { jobId: start.identity.jobId, created: true } };
  },
};
