/**
 * Single submissions (SubmitJob, webhook deliveries). One alone in its isolate goes `direct`: its
 * job's object is created and started on the request's path. Any other goes through the intake: it
 * is accepted durably by its intake shard, coalesced with the isolate's other submissions of the
 * same moment into one accept and one commit (and one write of their first index rows per
 * organization), and started from that shard's alarm moments later, so its request's path creates
 * no Durable Object. Idempotency keys and caller-chosen ids keep their meaning either way: a job id
 * names one job, an intake that holds its start keeps the first, and a start of a job that exists
 * returns it as it is.
 */
import { newJobState } from "../engine/state";
import { ThrottlingError } from "../errors";
import { utf8Length } from "../json-size";
import {
  INTAKE_GROUP_MAX_BYTES,
  INTAKE_GROUP_MAX_JOBS,
  INTAKE_GROUP_MAX_WAIT_MS,
  INTAKE_MAX_HELD_STARTS,
  INTAKE_MEMBER_WAIT_MS,
  INTAKE_SHARDS,
} from "../limits";
import { logEvent } from "../log";
import type { StartJob } from "../job/messages";
import { indexEntry, indexRefOf } from "../job-index/entry";
import type { IndexEntry } from "../job-index/messages";
import { forgetUnstarted, writeIndex, type IndexRef } from "../job-index/shards";
import { direct, type Beginning } from "../job/submit";
import { noteBurst } from "./burst";
import { GroupCommitter } from "./group-commit";
import { InFlight } from "./in-flight";
import type { IntakeStart } from "./intake";
import { intakeShardOf, intakeStub, newIdInShard } from "./shards";

/** New ids go to this shard until a group of it is sent: one moment's submissions share a commit. */
let currentShard = Math.floor(Math.random() * INTAKE_SHARDS);

/** This isolate's single submissions being begun now: alone, or part of a burst (src/intake/in-flight.ts). */
const inFlight = new InFlight();

/**
 * One accept of a group, and its jobs' first index rows (one index write per organization in it) at the
 * same time: the jobs are listed when the group is answered. Rows that could not be written are
 * written by the jobs' objects when they start, as for any start.
 */
async function sendGroup(env: Env, shard: number, definitions: Record<string, string>, starts: IntakeStart[]): Promise<void> {
  const byIndex = new Map<string, { ref: IndexRef; rows: IndexEntry[] }>();
  for (const { identity } of starts) {
    const ref = indexRefOf(identity);
    const index = byIndex.get(ref.organizationId) ?? { ref, rows: [] };
    index.rows.push(indexEntry(newJobState(identity, identity.createdAt)));
    byIndex.set(ref.organizationId, index);
  }
  // A group sent during a burst notes it, and the intakes of this isolate hold their starts until it
  // has passed (src/intake/burst.ts), so its thread takes the accepts first.
  const now = Date.now();
  if (inFlight.isBurst(now)) noteBurst(now);
  const [accepted, ...listed] = await Promise.allSettled([
    intakeStub(env, shard).acceptGroup(definitions, starts),
    ...[...byIndex.values()].map(({ ref, rows }) => writeIndex(env, ref, rows)),
  ]);
  for (const l of listed) if (l.status === "rejected") logEvent("intake.indexDeferred", { jobs: starts.length, error: String(l.reason) });
  if (accepted.status === "rejected") throw accepted.reason;
  if ("full" in accepted.value) {
    throw new ThrottlingError(
      `Too many submitted jobs are waiting to start (${accepted.value.full}, at most ${INTAKE_MAX_HELD_STARTS} per intake): nothing was submitted. Try again in a few seconds.`,
    );
  }
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
    // A full intake refuses alone too: the submission is answered 429 at once.
    if (error instanceof ThrottlingError) throw error;
    logEvent("intake.groupFailed", { jobId: start.identity.jobId, shard, error: String(error) });
  }
  await sendGroup(env, shard, { [start.identity.versionId]: start.definition }, [item]);
}

/** Through the intake, always (tests hold its alarm to keep jobs unstarted). */
export const throughIntake: Beginning = {
  newJobId: () => newIdInShard(currentShard),
  async begin(env, start) {
    try {
      await acceptInIntake(env, start);
    } catch (error) {
      // Not accepted: take back the row its group may have written for a job that will not exist.
      await forgetUnstarted(env, indexRefOf(start.identity), [start.identity.jobId]).catch(() => undefined);
      throw error;
    }
    // Accepted: whether a job of this id existed already is not known here (its start says so later).
    return { ok: true, value: { jobId: start.identity.jobId, created: true } };
  },
};

/**
 * SubmitJob's and webhook deliveries' way in: through the intake, or `direct` when no other
 * submission is being begun in the isolate.
 */
export const singleSubmission: Beginning = {
  newJobId: throughIntake.newJobId,
  async begin(env, start) {
    const now = Date.now();
    // Alone: creating the job's object on the request's path starts its first step soonest (no
    // accept, no alarm in between), and there is nothing to coalesce it with.
    const alone = inFlight.count(now) === 0;
    const key = inFlight.begin(now);
    try {
      return await (alone ? direct : throughIntake).begin(env, start);
    } finally {
      inFlight.end(key);
    }
  },
};
