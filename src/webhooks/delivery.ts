/**
 * One webhook delivery, from raw bytes to a job. The order is the contract: size (checked by the
 * app's body limit), the cheap checks of admission.ts (signature headers' form 401, the client's
 * buckets 429; no D1, no crypto), then here: trigger (404), signature over the raw bytes (401),
 * the replay lookups (200, see below), the trigger's rate (429), JSON (400), the mapped input's
 * size (413) and its match with the workflow's schema (400, see prepareSubmission), then the job.
 * A replay is answered before the trigger's rate is asked, so replays cannot use up the sender's
 * rate, and it keeps the admission token it took, so replays are throttled like forgeries.
 *
 * Exactly one job per (trigger, delivery id), also when duplicates race:
 * - the job id is derived from (trigger id, delivery id), and starting a job id that exists returns
 *   it (the job's Durable Object is the single writer of its own creation), so every racer names
 *   the same job and at most one creates it;
 * - the delivery record's primary key then decides who answers 202 (the INSERT that won) and who
 *   answers 200 with the recorded job id (the INSERTs that conflicted). Nothing is checked first
 *   and inserted later; the early lookups below only spare a known replay the work.
 * A crash between starting the job and recording the delivery leaves a job and no record; the
 * sender's retry finds the same job id, records it and gets 202: still one job.
 *
 * GitHub does not sign its delivery id, so for `github` triggers also exactly one job per body
 * within WEBHOOK_BODY_REPLAY_WINDOW_MS: before its job starts, a delivery binds the SHA-256 of its
 * raw body to its job id (webhook_bodies' primary key, one INSERT … ON CONFLICT). A delivery that
 * finds the body bound to another delivery's job is a replay: 200 with that job, nothing started.
 * The binding is made only after every check that can refuse the delivery, so a refused body
 * binds nothing; a failed start or a crash between binding and starting leaves a binding to this
 * delivery's own job id, which a retry with the same delivery id (GitHub's redelivery) derives
 * again: it is no replay, and it goes on to start the job.
 */
import { applyTransformer, TransformError } from "../definition/transformer";
import { toHex } from "../crypto/hash";
import { AuthenticationError, NotFoundError, ValidationError } from "../errors";
import { deterministicId } from "../ids";
import { jsonNestsDeeperThan } from "../json-depth";
import { MAX_JSON_DEPTH, WEBHOOK_BODY_REPLAY_WINDOW_MS, WEBHOOK_DEFAULT_RATE_PER_SECOND } from "../limits";
import { prepareSubmission, startSubmission } from "../job/submit";
import { singleSubmission } from "../intake/submit";
import { WebhookThrottled, type Admission } from "./admission";
import { noteRefusedSignature, takeDeliveryToken } from "./rate-limiter";
import { verifySignature } from "./signatures";
import { claimBody, findBody, findDelivery, findTriggerForDelivery, pruneDeliveries, recordDelivery, type WebhookTrigger } from "./triggers";

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
    return applyTransformer(trigger.inputTransformer, { body, deliveryId }, {}, Date.now());
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

/** Logs a failed background write of a delivery; the delivery's answer does not depend on it. */
const logFailure = (event: string) => (e: unknown) => console.error(JSON.stringify({ event, error: String(e) }));

/**
 * Verifies a delivery and starts its job (or finds the job a replay already started). `admission`
 * (admission.ts) hears of an unknown trigger, and of a verified delivery that is not a replay: it
 * gives that delivery's token back, in the background.
 */
export async function deliver(
  env: Env,
  delivery: Delivery,
  now: number,
  waitUntil: (p: Promise<unknown>) => void,
  admission: Partial<Admission> = {},
): Promise<DeliveryResult> {
  const found = await findTriggerForDelivery(env, delivery.triggerId);
  // An unknown trigger id keeps the probe token admission took; a known one gives it back.
  if (!found) throw new NotFoundError(`Webhook trigger ${delivery.triggerId} was not found.`);
  if (admission.knownTrigger) waitUntil(admission.knownTrigger().catch(logFailure("webhook_probe_token_return_failed")));
  const { trigger, secret } = found;

  const verification = await verifySignature(trigger.scheme, secret, delivery.headers, delivery.body, Math.floor(now / 1000));
  if (!verification.ok) {
    // Counted in the background: a burst of refusals raises one notification (webhook-refusals.ts).
    waitUntil(noteRefusedSignature(env, trigger, verification.reason).catch(logFailure("webhook_refusal_count_failed")));
    throw new AuthenticationError(verification.reason);
  }
  const { deliveryId } = verification;

  // Replays first: they are answered without the trigger's rate, and keep their admission token.
  const known = await findDelivery(env.DB, trigger.triggerId, deliveryId);
  if (known) return { status: 200, jobId: known };
  const jobId = await deterministicId("webhook", trigger.triggerId, deliveryId);
  const digest = trigger.scheme === "github" ? toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", delivery.body))) : null;
  const since = now - WEBHOOK_BODY_REPLAY_WINDOW_MS;
  if (digest !== null) {
    const first = await findBody(env.DB, trigger.triggerId, digest, since);
    // Bound to this delivery's own job id: an earlier attempt of this delivery claimed the body and
    // did not start the job (or did, and did not record the delivery). Starting it is idempotent.
    if (first !== null && first !== jobId) return { status: 200, jobId: first };
  }
  if (admission.verified) waitUntil(admission.verified().catch(logFailure("webhook_token_return_failed")));

  // After the signature: an unsigned flood must not use up the sender's own rate.
  const rate = await takeDeliveryToken(env, trigger.triggerId, trigger.rateLimitPerSecond ?? WEBHOOK_DEFAULT_RATE_PER_SECOND);
  if (!rate.allowed) throw new WebhookThrottled(rate.retryAfterSeconds);

  const body = parseJson(delivery.body);
  const prepared = await prepareSubmission(env, {
    organizationId: trigger.organizationId,
    workflow: { workflowId: trigger.workflowId },
    version: trigger.workflowVersion,
    input: mapInput(trigger, body, deliveryId),
    submittedByUser: submitterName(trigger.triggerId),
    triggerId: trigger.triggerId,
  });
  if (digest !== null) {
    const bound = await claimBody(env.DB, trigger.triggerId, digest, jobId, now, since);
    // Another delivery id bound this body first: this delivery is its replay.
    if (bound !== jobId) return { status: 200, jobId: bound };
  }
  await startSubmission(env, prepared, jobId, singleSubmission);
  const recorded = await recordDelivery(env.DB, trigger.triggerId, deliveryId, jobId, now);
  if (recorded.first) waitUntil(pruneDeliveries(env.DB, now).catch(logFailure("webhook_prune_failed")));
  return { status: recorded.first ? 202 : 200, jobId: recorded.jobId };
}
