/**
 * SubmitJobs (batch): up to MAX_BATCH_ITEMS submissions in one request, each with its own result in
 * order. Every item is checked like a single submission (size, workflow, version, input schema);
 * an invalid item gets its error and the others go on. The valid ones are accepted in three steps,
 * none of them per job: their idempotency keys are claimed in one call to the organization's index,
 * then the batch is stored in its own BatchStarter object (one commit) while its index rows are
 * written (one call per shard). The jobs start from that object's alarm; until a job has started, GetJob answers from its
 * index row (PENDING) and CancelJob leaves a tombstone that the start honours.
 */
import { ApiError, ValidationError, type ErrorInfo } from "../errors";
import { newJobState } from "../engine/state";
import { newId } from "../ids";
import { refuseOversizedJson } from "../json-size";
import { MAX_PAYLOAD_BYTES } from "../limits";
import { indexEntry } from "../job-index/entry";
import { claimIdempotencyKeys, forgetUnstarted, writeIndex } from "../job-index/shards";
import { resolveSubmissionTarget, type SubmissionTarget } from "../registry/submission-target";
import { checkedSubmission, jobStart, type PreparedSubmission, type SubmitRequest } from "./submit";
import type { StartJob } from "./messages";

/** Items per batch request (Cloudflare Workflows' createBatch takes 100). */
export const MAX_BATCH_ITEMS = 1_000;
/**
 * Distinct (workflow, version selector) pairs per batch: each costs a D1 query when not cached,
 * and their definitions (≤ 1 MiB each) travel to the batch's object in one RPC (≤ 32 MiB).
 */
export const MAX_BATCH_TARGETS = 20;
/** Targets resolved at once: Cloudflare runs at most 6 outbound connections per request. */
const TARGET_CONCURRENCY = 6;

export type BatchItem = Omit<SubmitRequest, "organizationId" | "submittedByUser" | "jobId">;
export type BatchItemResult = { jobId: string } | { error: ErrorInfo };

/** Submits every valid item; answers one result per item, in order. */
export async function submitBatch(env: Env, organizationId: string, submittedByUser: string, items: BatchItem[]): Promise<BatchItemResult[]> {
  const results: BatchItemResult[] = new Array(items.length);
  const targets = await resolveTargets(env, organizationId, items);

  const accepted: { index: number; prepared: PreparedSubmission }[] = [];
  items.forEach((item, index) => {
    try {
      refuseOversizedJson(item.input, "The job input", MAX_PAYLOAD_BYTES);
      const target = targets.get(targetKey(item));
      if (target === undefined) {
        throw new ValidationError(`A batch may name at most ${MAX_BATCH_TARGETS} distinct workflow versions; this item is past that.`);
      }
      if (target instanceof ApiError) throw target;
      accepted.push({ index, prepared: checkedSubmission({ ...item, organizationId, submittedByUser }, target) });
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      results[index] = { error: e.toInfo() };
    }
  });
  if (accepted.length === 0) return results;

  // Ids: each item proposes one; a key bound within the window keeps its job, and the same key
  // twice in one batch is one job.
  const now = Date.now();
  const index = { organizationId, shards: accepted[0]!.prepared.indexShards ?? 1 };
  const proposed = accepted.map(() => newId());
  const claims = new Map<string, string>();
  accepted.forEach(({ prepared }, i) => {
    const key = prepared.req.idempotencyKey;
    if (key !== undefined && !claims.has(key)) claims.set(key, proposed[i]!);
  });
  const bound =
    claims.size > 0
      ? await claimIdempotencyKeys(env, index, [...claims].map(([key, jobId]) => ({ key, jobId })), now)
      : new Map<string, string>();
  const jobIds = accepted.map(({ prepared }, i) => {
    const key = prepared.req.idempotencyKey;
    return key === undefined ? proposed[i]! : bound.get(key)!;
  });

  // A key bound to a job of an earlier request starts that job again: a no-op if it exists, and
  // the start that request never finished if it does not (as SubmitJob does).
  const starts = new Map<string, StartJob>();
  accepted.forEach(({ prepared }, i) => {
    // The first item with a key is the one that starts its job.
    if (!starts.has(jobIds[i]!)) starts.set(jobIds[i]!, jobStart(prepared, jobIds[i]!, now));
  });
  const definitions: Record<string, string> = {};
  for (const s of starts.values()) definitions[s.identity.versionId] = s.definition;
  const firstRows = [...starts.values()].map((s) => indexEntry(newJobState(s.identity, now)));
  const starter = env.BATCH_STARTS.get(env.BATCH_STARTS.newUniqueId());
  const [stored, listed] = await Promise.allSettled([
    starter.accept(
      definitions,
      [...starts.values()].map((s) => ({ identity: s.identity, input: s.executionData.workflowInput })),
    ),
    writeIndex(env, index, firstRows),
  ]);
  if (stored.status === "rejected") {
    // Nothing will start: take back the rows this request wrote for jobs it proposed (a key bound
    // to an earlier request's job keeps that job's row).
    const ours = new Set(proposed);
    if (listed.status === "fulfilled") await forgetUnstarted(env, index, [...starts.keys()].filter((id) => ours.has(id))).catch(() => undefined);
    console.error(JSON.stringify({ event: "batch.storeFailed", error: String(stored.reason) }));
    throw new ApiError("UnhandledError", "The batch could not be stored, so none of it was accepted. Sending it again is safe for items with an idempotencyKey.");
  }
  // Stored is accepted: each job's object writes its own row when it starts.
  if (listed.status === "rejected") console.error(JSON.stringify({ event: "batch.indexDeferred", error: String(listed.reason) }));

  accepted.forEach(({ index }, i) => (results[index] = { jobId: jobIds[i]! }));
  return results;
}

function targetKey(item: BatchItem): string {
  return JSON.stringify([item.workflow, item.version]);
}

/** Resolves the first MAX_BATCH_TARGETS distinct targets, each once; a missing one maps to its error. */
async function resolveTargets(env: Env, organizationId: string, items: BatchItem[]): Promise<Map<string, SubmissionTarget | ApiError>> {
  const distinct = new Map<string, BatchItem>();
  for (const item of items) {
    const key = targetKey(item);
    if (!distinct.has(key) && distinct.size < MAX_BATCH_TARGETS) distinct.set(key, item);
  }
  const resolved = new Map<string, SubmissionTarget | ApiError>();
  const queue = [...distinct];
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const [key, item] = next;
      try {
        resolved.set(key, await resolveSubmissionTarget(env.DB, organizationId, item.workflow, item.version));
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        resolved.set(key, e);
      }
    }
  };
  await Promise.all(Array.from({ length: TARGET_CONCURRENCY }, worker));
  return resolved;
}
