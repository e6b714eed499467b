/**
 * Single submissions through the intake (SubmitJob, webhook deliveries): a job is accepted durably
 * by its intake shard, coalesced with the isolate's other submissions of the same moment into one
 * accept and one commit (and one D1 write of their first index rows), and started from that
 * shard's alarm moments later. The request's path
 * creates no Durable Object. Idempotency keys and caller-chosen ids keep their meaning: a job id
 * names one job, and an intake that holds its start keeps the first.
 */
import { newJobState } from "../engine/state";
import { utf8Length } from "../json-size";
import { INTAKE_GROUP_MAX_BYTES, INTAKE_GROUP_MAX_JOBS, INTAKE_GROUP_MAX_WAIT_MS, INTAKE_MEMBER_WAIT_MS, INTAKE_SHARDS } from "../limits";
import { logEvent } from "../log";
import type { StartJob } from "../job/messages";
import { jobSummary, type JobSummary } from "../job/views";
import { insertFirstIndexRows } from "../registry/jobs";
import type { Beginning } from "../job/submit";
import { GroupCommitter } from "./group-commit";
import type { IntakeStart } from "./intake";
import { intakeShardOf, intakeStub, newIdInShard } from "./shards";

/** New ids go to this shard until a group of it is sent: one moment's submissions share a commit. */
let currentShard = Math.floor(Math.random() * INTAKE_SHARDS);

/**
 * One accept of a group, and its jobs' first index rows (one D1 write per organization in it) at the
 * same time: the jobs are listed when the group is answered. Rows that could not be written are
 * written by the jobs' objects when they start, as for any start.
 */
async function sendGroup(env: Env, shard: number, definitions: Record<string, string>, starts: IntakeStart[]): Promise<void> {
  const byOrganization = new Map<string, JobSummary[]>();
  for (const { identity } of starts) {
    const rows = byOrganization.get(identity.organizationId) ?? [];
    rows.push(jobSummary(newJobState(identity, identity.createdAt)));
    byOrganization.set(identity.organizationId, rows);
  }
  const [accepted, ...listed] = await Promise.allSettled([
    intakeStub(env, shard).acceptGroup(definitions, starts),
    ...[...byOrganization].map(([organizationId, rows]) => insertFirstIndexRows(env.DB, organizationId, rows)),
  ]);
  for (const l of listed) if (l.status === "rejected") logEvent("intake.indexDeferred", { jobs: starts.length, error: String(l.reason) });
  if (accepted.status === "rejected") throw accepted.reason;
}

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
  lists: true,
  newJobId: () => newIdInShard(currentShard),
  async begin(env, start) {
    await acceptInIntake(env, start);
    // Accepted: whether a job of this id existed already is not known here (its start says so later).
    return { ok: true, value: { jobId: start.identity.jobId, created: true } };
  },
};
