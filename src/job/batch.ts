/**
 * SubmitJobs (batch): up to MAX_BATCH_ITEMS submissions in one request, each with its own result in
 * order. Every item is checked like a single submission (size, workflow, version, input schema);
 * an invalid item gets its error and the others go on. The valid ones are accepted in three steps,
 * none of them per job: their idempotency keys are claimed in one call to the organization's index,
 * then the batch is stored in its own BatchStarter object (one commit) while its index rows are
 * written (one call per shard). The jobs start from that object's alarm; a request that reaches a
 * job before then has the object start it at once (src/intake/on-demand.ts), found through the
 * batch's tag in the job's id.
 *
 * A batch is safe to send again whatever became of the first try. With a `batchKey`, its object is
 * named by (organization, key)'s tag and its job ids derive from (key, what the batch holds, position):
 * the same batch sent again reaches the same object, which answers that it has it, and the same ids.
 * Without one, an accept whose answer is lost is asked again, then settled by sealing the object
 * (it took the batch, or it never will); the API says nothing was accepted only when that is sure.
 */
import { ApiError, ConflictError, ValidationError, type ErrorInfo } from "../errors";
import { newJobState } from "../engine/state";
import { sha256Hex } from "../crypto/hash";
import { batchJobId, batchStarterName, keyedBatchTag, randomBatchTag, randomJobPart } from "../intake/batch-ids";
import { refuseOversizedJson } from "../json-size";
import { MAX_BATCH_TARGETS, MAX_PAYLOAD_BYTES } from "../limits";
import { indexEntry } from "../job-index/entry";
import { claimIdempotencyKeys, forgetUnstarted, writeIndex } from "../job-index/shards";
import { resolveSubmissionTarget, type SubmissionTarget } from "../registry/submission-target";
import { checkedSubmission, jobStart, type PreparedSubmission, type SubmitRequest } from "./submit";
import type { AcceptAnswer, BatchStarter } from "./batch-starter";
import type { StartJob } from "./messages";

/** Targets resolved at once: Cloudflare runs at most 6 outbound connections per request. */
const TARGET_CONCURRENCY = 6;

export type BatchItem = Omit<SubmitRequest, "organizationId" | "submittedByUser" | "apiAuthTokenId" | "jobId">;
export type BatchItemResult = { jobId: string } | { error: ErrorInfo };

/** Submits every valid item; answers one result per item, in order. `batchKey` names the batch (see above). */
export async function submitBatch(
  env: Env,
  organizationId: string,
  submitter: Pick<SubmitRequest, "submittedByUser" | "apiAuthTokenId">,
  items: BatchItem[],
  batchKey?: string,
): Promise<BatchItemResult[]> {
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
      accepted.push({ index, prepared: checkedSubmission({ ...item, organizationId, ...submitter }, target) });
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
  // A keyed batch's ids are its own: another batch under the same key (a conflict) gets other ids.
  const fingerprint = await sha256Hex(JSON.stringify([submitter.submittedByUser, items]));
  // Every id carries the batch's tag, which names its object: a request that reaches a job before
  // its start finds the object that holds it from the id alone (src/intake/batch-ids.ts).
  const tag = batchKey ? await keyedBatchTag(organizationId, batchKey) : randomBatchTag();
  const proposed = batchKey
    ? await Promise.all(
        accepted.map(async ({ index }) => batchJobId(tag, await sha256Hex(["batch", organizationId, batchKey, fingerprint, index].join("\u0000")))),
      )
    : accepted.map(() => batchJobId(tag, randomJobPart()));
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
  const starter = env.BATCH_STARTS.get(env.BATCH_STARTS.idFromName(batchStarterName(organizationId, tag)));
  const startList = [...starts.values()].map((s) => ({ identity: s.identity, input: s.executionData.workflowInput }));
  const [stored, listed] = await Promise.allSettled([
    acceptOnce(starter, definitions, startList, fingerprint, batchKey !== undefined),
    writeIndex(env, index, firstRows),
  ]);
  const outcome: AcceptOutcome = stored.status === "fulfilled" ? stored.value : { unknown: stored.reason };
  if (!("accepted" in outcome)) {
    // Not accepted, or not known to be: the rows this request wrote for jobs it proposed go (a key
    // bound to an earlier request's job keeps that job's row). A job whose batch was accepted
    // after all writes its own row when it starts.
    const ours = new Set(proposed);
    if (listed.status === "fulfilled") await forgetUnstarted(env, index, [...starts.keys()].filter((id) => ours.has(id))).catch(() => undefined);
    throw refusal(outcome, batchKey);
  }
  // Stored is accepted: each job's object writes its own row when it starts.
  if (listed.status === "rejected") console.error(JSON.stringify({ event: "batch.indexDeferred", error: String(listed.reason) }));

  accepted.forEach(({ index }, i) => (results[index] = { jobId: jobIds[i]! }));
  return results;
}

type AcceptOutcome = Extract<AcceptAnswer, { accepted: number }> | { refused: "sealed" | "conflict" } | { unknown: unknown };

/**
 * Hands the batch to its object, once: an accept that throws may have committed before its answer
 * was lost (the object reset in a deploy), so it is asked again (an accept that landed answers
 * `already`); if that fails too, an object without a key is sealed, which settles it either way.
 */
async function acceptOnce(
  starter: DurableObjectStub<BatchStarter>,
  definitions: Record<string, string>,
  starts: Parameters<BatchStarter["accept"]>[1],
  fingerprint: string,
  keyed: boolean,
): Promise<AcceptOutcome> {
  let lost: unknown;
  for (let i = 0; i < 2; i++) {
    try {
      return (await starter.accept(definitions, starts, fingerprint)) as AcceptAnswer;
    } catch (e) {
      lost = e;
      console.error(JSON.stringify({ event: "batch.storeFailed", attempt: i + 1, error: String(e) }));
    }
  }
  // A keyed batch is settled by sending it again: sealing its object would refuse that too.
  if (keyed) return { unknown: lost };
  try {
    return (await starter.seal()) === "accepted" ? { accepted: starts.length, already: true } : { refused: "sealed" };
  } catch (e) {
    return { unknown: e };
  }
}

/** The error for a batch that was not accepted, or may not have been: it says which, and what to do. */
function refusal(outcome: Exclude<AcceptOutcome, { accepted: number }>, batchKey: string | undefined): ApiError {
  if ("refused" in outcome && outcome.refused === "conflict") {
    return new ConflictError(`batchKey "${batchKey}" was used for a different batch within the last 24 hours; a batchKey names one batch.`);
  }
  if ("refused" in outcome) {
    return new ApiError("UnhandledError", "The batch could not be stored, so none of it was accepted. Sending it again is safe.");
  }
  console.error(JSON.stringify({ event: "batch.outcomeUnknown", keyed: batchKey !== undefined, error: String(outcome.unknown) }));
  return new ApiError(
    "UnhandledError",
    batchKey !== undefined
      ? "The batch may have been accepted: its object did not answer. Send it again with the same batchKey: that is safe, and answers its jobs' ids."
      : "The batch may have been accepted: its object did not answer, and its jobs may start. Sending it again without a batchKey may start them twice; give a batchKey to make a batch safe to send again.",
  );
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
