/**
 * One webhook delivery, from raw bytes to a job. The order is the contract: size (checked by the
 * app's body limit before this runs), trigger (404), signature over the raw bytes (401), the
 * trigger's rate (429), JSON (400), the mapped input's size (413, see submitJob) and its match
 * with the workflow's schema (400), then the job.
 *
 * Exactly one job per (trigger, delivery id), also when duplicates race:
 * - the job id is derived from (trigger id, delivery id), and starting a job id that exists returns
 *   it (the job's Durable Object is the single writer of its own creation), so every racer names
 *   the same job and at most one creates it;
 * - the delivery record's primary key then decides who answers 202 (the INSERT that won) and who
 *   answers 200 with the recorded job id (the INSERTs that conflicted). Nothing is checked first
 *   and inserted later; the early lookup below only spares a known replay the work.
 * A crash between starting the job and recording the delivery leaves a job and no record; the
 * sender's retry finds the same job id, records it and gets 202: still one job.
 */
import { applyTransformer, TransformError } from "../definition/transformer";
import { AuthenticationError, NotFoundError, ThrottlingError, ValidationError } from "../errors";
import { deterministicId } from "../ids";
import { jsonNestsDeeperThan } from "../json-depth";
import { MAX_JSON_DEPTH, WEBHOOK_DEFAULT_RATE_PER_SECOND } from "../limits";
import { submitJob } from "../job/submit";
import { takeDeliveryToken } from "./rate-limiter";
import { verifySignature } from "./signatures";
import { findDelivery, findTriggerForDelivery, pruneDeliveries, recordDelivery, type WebhookTrigger } from "./triggers";

export interface Delivery {
  triggerId: string;
  headers: Headers;
  /** The body exactly as received: signatures are over these bytes. */
  body: Uint8Array;
}

/** 202 for a delivery that started its job, 200 for a replay of one that did. */
export interface DeliveryResult {
  status: 200 | 202;
  jobId: string;
}

/** A 429 that says when to come back. */
export class DeliveryThrottled extends ThrottlingError {
  constructor(readonly retryAfterSeconds: number) {
    super("This webhook trigger's delivery rate is exceeded; retry later.");
  }
}

/** The name a delivered job shows as `submittedByUser`. */
export function submitterName(triggerId: string): string {
  return `webhook:${triggerId}`;
}

/**
 * The data an inputTransformer reads: `body` is the parsed delivery, `deliveryId` its id
 * (`webhook-id` or `X-GitHub-Delivery`). Without a transformer the body itself is the input.
 */
export function mapInput(trigger: WebhookTrigger, body: unknown, deliveryId: string): unknown {
  if (!trigger.inputTransformer) return body;
  try {
    return applyTransformer(trigger.inputTransformer, { body, deliveryId }, {});
  } catch (e) {
    if (e instanceof TransformError) throw new ValidationError("The trigger's inputTransformer cannot map this delivery.", [e.message]);
    throw e;
  }
}

function parseJson(bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new ValidationError("The delivery body is not JSON.");
  }
  // The body becomes a job's input: it crosses RPC and validators, which recurse.
  if (jsonNestsDeeperThan(text, MAX_JSON_DEPTH)) throw new ValidationError(`The delivery body nests deeper than ${MAX_JSON_DEPTH} levels.`);
  try {
    return JSON.parse(text);
  } catch {
    throw new ValidationError("The delivery body is not JSON.");
  }
}

/** Verifies a delivery and starts its job (or finds the job a replay already started). */
export async function deliver(
  env: Env,
  delivery: Delivery,
  now: number,
  waitUntil: (p: Promise<unknown>) => void,
): Promise<DeliveryResult> {
  const found = await findTriggerForDelivery(env, delivery.triggerId);
  if (!found) throw new NotFoundError(`Webhook trigger ${delivery.triggerId} was not found.`);
  const { trigger, secret } = found;

  const verified = await verifySignature(trigger.scheme, secret, delivery.headers, delivery.body, Math.floor(now / 1000));
  if (!verified.ok) throw new AuthenticationError(verified.reason);
  const { deliveryId } = verified;

  // After the signature: an unsigned flood must not use up the sender's own rate.
  const rate = await takeDeliveryToken(env, trigger.triggerId, trigger.rateLimitPerSecond ?? WEBHOOK_DEFAULT_RATE_PER_SECOND);
  if (!rate.allowed) throw new DeliveryThrottled(rate.retryAfterSeconds);

  const body = parseJson(delivery.body);
  const known = await findDelivery(env.DB, trigger.triggerId, deliveryId);
  if (known) return { status: 200, jobId: known };

  const input = mapInput(trigger, body, deliveryId);
  const { jobId } = await submitJob(env, {
    organizationId: trigger.organizationId,
    workflow: { workflowId: trigger.workflowId },
    version: trigger.workflowVersion,
    input,
    submittedByUser: submitterName(trigger.triggerId),
    jobId: await deterministicId("webhook", trigger.triggerId, deliveryId),
  });
  const recorded = await recordDelivery(env.DB, trigger.triggerId, deliveryId, jobId, now);
  if (recorded.first) waitUntil(pruneDeliveries(env.DB, now).catch((e: unknown) => console.error(JSON.stringify({ event: "webhook_prune_failed", error: String(e) }))));
  return { status: recorded.first ? 202 : 200, jobId: recorded.jobId };
}
