/**
 * Resource pools, as the engine sees them: a job whose identity names pools stays PENDING until
 * it holds a lease in each, acquired one at a time in a fixed (sorted) order, so two jobs never
 * each hold what the other waits for. The Durable Object carries out `acquireLease` and
 * `releaseLeases` and reports the pools' answers as `leaseGranted` and `leaseQueued` events.
 */
import type { Decider } from "./decider";
import type { EngineEvent, JobState } from "./types";

function poolsOf(s: JobState): string[] {
  return s.identity.resourcePoolIds ?? [];
}

/** Whether the job lacks a lease it needs before it may run. */
export function needsLeases(s: JobState): boolean {
  return (s.admission?.held ?? 0) < poolsOf(s).length;
}

/** Opens a round of acquisition: the job asks its first pool for a lease. */
export function openAdmission(d: Decider): void {
  const s = d.state;
  const epoch = (s.admission?.epoch ?? 0) + 1;
  s.admission = { epoch, held: 0 };
  d.commands.push({ type: "acquireLease", poolId: poolsOf(s)[0]!, epoch });
}

type LeaseEvent = Extract<EngineEvent, { type: "leaseGranted" | "leaseQueued" }>;

/** Whether a pool's answer concerns the lease this job is acquiring now (not a late or duplicate one). */
function answersCurrentAsk(s: JobState, e: LeaseEvent): boolean {
  const a = s.admission;
  return s.status === "PENDING" && a !== undefined && a.epoch === e.epoch && poolsOf(s)[a.held] === e.poolId;
}

/** Records a grant; true once every lease is held and the job may run. */
export function leaseGranted(d: Decider, e: Extract<EngineEvent, { type: "leaseGranted" }>): boolean {
  const s = d.state;
  if (!answersCurrentAsk(s, e)) return false;
  const a = s.admission!;
  a.held += 1;
  a.queued = undefined;
  s.updatedAt = e.at;
  const next = poolsOf(s)[a.held];
  if (next === undefined) return true;
  d.commands.push({ type: "acquireLease", poolId: next, epoch: a.epoch });
  return false;
}

/** Records that the job waits in a pool's queue (GetJob shows it). */
export function leaseQueued(d: Decider, e: Extract<EngineEvent, { type: "leaseQueued" }>): void {
  const s = d.state;
  if (!answersCurrentAsk(s, e) || s.admission!.queued) return;
  s.admission!.queued = { poolId: e.poolId, since: e.since };
  s.updatedAt = e.at;
  d.log("job.queued", { poolId: e.poolId });
}

/** The job ended: every lease and queue place of this round goes back. */
export function releaseLeases(d: Decider): void {
  const a = d.state.admission;
  if (!a) return;
  d.commands.push({ type: "releaseLeases", epoch: a.epoch });
  d.state.admission = { epoch: a.epoch, held: 0 };
}
