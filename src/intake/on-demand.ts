/**
 * Start on demand: a job accepted and not started yet (a batch's or a single submission's, waiting
 * for its holder's alarm) is a full citizen. A request that reaches it (an event, a cancel, a wait,
 * a read of its state) asks the object that holds its start to start it now, then proceeds against
 * the job's own object. The holder is found from the job id alone (src/intake/shards.ts,
 * batch-ids.ts). Starting is idempotent, so a start on demand and the holder's alarm may both start
 * the job: it starts once.
 */
import type { BatchStarter } from "../job/batch-starter";
import { batchStarterName, batchTagOf } from "./batch-ids";
import { intakeShardOf, intakeStub } from "./shards";

/** The objects that may hold job `jobId`'s start, in the order to ask them. */
function holdersOf(env: Env, organizationId: string, jobId: string): DurableObjectStub<BatchStarter>[] {
  // Every id names an intake shard, and a batch's ids also name their batch.
  const holders: DurableObjectStub<BatchStarter>[] = [intakeStub(env, intakeShardOf(jobId))];
  const tag = batchTagOf(jobId);
  if (tag !== null) holders.push(env.BATCH_STARTS.get(env.BATCH_STARTS.idFromName(batchStarterName(organizationId, tag))));
  return holders;
}

/**
 * Has job `jobId` (a lower-case id) started now by whichever object holds its start: true once it
 * exists, false when no holder had it (it started meanwhile, or will never start).
 */
export async function startOnDemand(env: Env, organizationId: string, jobId: string): Promise<boolean> {
  for (const holder of holdersOf(env, organizationId, jobId)) {
    if ((await holder.startNow(organizationId, jobId)) === "started") return true;
  }
  return false;
}
