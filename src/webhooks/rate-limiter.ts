/**
 * The per-trigger delivery rate limit: one small Durable Object per trigger holding a token bucket.
 * A Durable Object runs one request at a time wherever the deliveries arrive, so the bucket holds
 * across isolates and under concurrency, which a per-isolate counter would not.
 *
 * The bucket lives in memory only: writing storage on every delivery would cost more than the
 * limit protects. If the object is evicted the bucket starts full again, which lets at most one
 * extra second's burst through; that is the trade-off.
 */
import { DurableObject } from "cloudflare:workers";

/** The answer to one delivery: allowed, or how long until a token is available. */
export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/** Pure token-bucket step: capacity is one second's worth of deliveries. */
export function takeToken(
  bucket: { tokens: number; updatedAt: number } | undefined,
  ratePerSecond: number,
  now: number,
): { bucket: { tokens: number; updatedAt: number }; decision: RateDecision } {
  const elapsed = bucket ? Math.max(0, now - bucket.updatedAt) / 1000 : Infinity;
  const tokens = Math.min(ratePerSecond, (bucket?.tokens ?? ratePerSecond) + elapsed * ratePerSecond);
  if (tokens >= 1) return { bucket: { tokens: tokens - 1, updatedAt: now }, decision: { allowed: true } };
  const retryAfterSeconds = Math.max(1, Math.ceil((1 - tokens) / ratePerSecond));
  return { bucket: { tokens, updatedAt: now }, decision: { allowed: false, retryAfterSeconds } };
}

export class WebhookRateLimiter extends DurableObject<Env> {
  private bucket: { tokens: number; updatedAt: number } | undefined;

  /** Takes one token at `ratePerSecond` (the trigger's current setting). */
  async take(ratePerSecond: number): Promise<RateDecision> {
    const { bucket, decision } = takeToken(this.bucket, ratePerSecond, Date.now());
    this.bucket = bucket;
    return decision;
  }
}

/** Asks the trigger's limiter for one delivery. */
export function takeDeliveryToken(env: Pick<Env, "WEBHOOK_RATE_LIMITER">, triggerId: string, ratePerSecond: number): Promise<RateDecision> {
  return env.WEBHOOK_RATE_LIMITER.get(env.WEBHOOK_RATE_LIMITER.idFromName(triggerId)).take(ratePerSecond);
}
