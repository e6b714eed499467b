/**
 * Which intake object holds a single submission's start: its shard is the low bits of the first
 * 32 bits of its job id, so any job id names one (a random id, a caller-chosen one, one bound to an
 * idempotency key by an earlier request), and a request that reaches the job before its start finds
 * the holder from the id alone (src/intake/on-demand.ts).
 */
import { INTAKE_SHARDS } from "../limits";
import type { Intake } from "./intake";

const SHARD_MASK = INTAKE_SHARDS - 1;

/** The intake shard of a (lower-case) job id, in [0, INTAKE_SHARDS). */
export function intakeShardOf(jobId: string): number {
  return Number.parseInt(jobId.slice(0, 8), 16) & SHARD_MASK;
}

/** A random v4 job id whose shard is `shard`: submissions of one moment share a shard, and so a commit. */
export function newIdInShard(shard: number): string {
  const id = crypto.randomUUID();
  const head = ((Number.parseInt(id.slice(0, 8), 16) & ~SHARD_MASK) | shard) >>> 0;
  return head.toString(16).padStart(8, "0") + id.slice(8);
}

/** The stub of intake shard `shard`. */
export function intakeStub(env: Env, shard: number): DurableObjectStub<Intake> {
  return env.INTAKE.get(env.INTAKE.idFromName(`intake:${shard}`));
}
