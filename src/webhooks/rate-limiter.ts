/**
 * Webhook rate limits: one small Durable Object per bucket holding a token bucket, named by a
 * trigger id (the trigger's delivery rate), by `ip:<address>|<triggerId>` (what one client address
 * may cost one trigger before its deliveries are verified) or by `probe:ip:<address>` (what one
 * address may cost looking up trigger ids that do not exist), see admission.ts. A Durable Object runs one request at a
 * time wherever the requests arrive, so the bucket holds across isolates and under concurrency,
 * which a per-isolate counter would not.
 *
 * The bucket is kept in the object's storage, so evicting the object (or a flood that gets it
 * restarted) does not refill it. A local SQLite write per request is cheap next to what the limit
 * protects (a D1 read, a decrypt and an HMAC, or a job). Once a bucket would be full again it holds
 * nothing a fresh one would not, so an alarm then deletes it: the objects of the many addresses a
 * flood comes from do not keep storage forever.
 *
 * An object named `refusals:<triggerId>` counts the trigger's refused signatures instead, in fixed
 * windows (notifications/webhook-refusals.ts): the refusal that completes a burst raises one
 * notification from here (a later refusal of the window, should that raise fail), and the window is
 * deleted when it closes.
 */
import { DurableObject } from "cloudflare:workers";
import { WEBHOOK_REFUSAL_THRESHOLD, WEBHOOK_REFUSAL_WINDOW_MS } from "../limits";
import { logEvent } from "../log";
import { raiseRefusalNotification, type RefusedTrigger } from "../notifications/webhook-refusals";

/** The answer to one request: allowed, or how long until a token is available. */
export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/** A bucket's contents: tokens left at `updatedAt` (epoch ms). */
export interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** How a bucket refills: `ratePerSecond` tokens a second up to `capacity`. */
export interface BucketShape {
  ratePerSecond: number;
  capacity: number;
}

/** The tokens a bucket holds at `now`. A missing bucket is full. */
function tokensAt(bucket: Bucket | undefined, shape: BucketShape, now: number): number {
  if (!bucket) return shape.capacity;
  const elapsed = Math.max(0, now - bucket.updatedAt) / 1000;
  return Math.min(shape.capacity, bucket.tokens + elapsed * shape.ratePerSecond);
}

/** Pure token-bucket step; the capacity defaults to one second's worth. */
export function takeToken(
  bucket: Bucket | undefined,
  ratePerSecond: number,
  now: number,
  capacity: number = ratePerSecond,
): { bucket: Bucket; decision: RateDecision } {
  const tokens = tokensAt(bucket, { ratePerSecond, capacity }, now);
  if (tokens >= 1) return { bucket: { tokens: tokens - 1, updatedAt: now }, decision: { allowed: true } };
  const retryAfterSeconds = Math.max(1, Math.ceil((1 - tokens) / ratePerSecond));
  return { bucket: { tokens, updatedAt: now }, decision: { allowed: false, retryAfterSeconds } };
}

/** Pure step: one token given back, never past the capacity. */
export function returnToken(bucket: Bucket | undefined, shape: BucketShape, now: number): Bucket {
  return { tokens: Math.min(shape.capacity, tokensAt(bucket, shape, now) + 1), updatedAt: now };
}

/** What the object stores: its bucket and the shape it was last used with (the alarm needs it). */
interface Stored extends Bucket, BucketShape {}

const KEY = "bucket";
const WINDOW_KEY = "refusals";

/** A refusal window: its count, when it opened, and whether its notification was raised. */
interface RefusalWindow {
  count: number;
  windowStart: number;
  /** Absent in a window stored before the flag existed: read as not raised (the dedupe key covers it). */
  raised?: boolean;
}

export class WebhookRateLimiter extends DurableObject<Env> {
  /** Whether this instance has armed the clean-up alarm (a new instance re-arms it once). */
  private alarmArmed = false;
  /** The refusal window whose notification is being raised now, if any. */
  private raising: number | null = null;

  /** Takes one token from a bucket refilling at `ratePerSecond` up to `capacity` (default: one second's worth). */
  async take(ratePerSecond: number, capacity: number = ratePerSecond): Promise<RateDecision> {
    const shape = { ratePerSecond, capacity };
    const { bucket, decision } = takeToken(this.ctx.storage.kv.get<Stored>(KEY), ratePerSecond, Date.now(), capacity);
    // A denial takes nothing: the stored bucket (and its alarm) already says all there is to say,
    // and a flood of denied requests then costs no storage write.
    if (decision.allowed) await this.save(bucket, shape);
    return decision;
  }

  /** Gives back one token taken for a request that turned out not to need limiting. */
  async giveBack(ratePerSecond: number, capacity: number = ratePerSecond): Promise<void> {
    const shape = { ratePerSecond, capacity };
    await this.save(returnToken(this.ctx.storage.kv.get<Stored>(KEY), shape, Date.now()), shape);
  }

  /**
   * Counts one refused signature of `trigger` in the window (opened by the first refusal after the
   * last window closed); the `threshold`-th in a window raises the notification, once. Should the
   * raise fail (D1 briefly unavailable), the window stays unraised and the next refusal in it raises
   * instead: the burst is not lost, and the dedupe key keeps a raise that did land from doubling.
   */
  async countRefusal(trigger: RefusedTrigger, reason: string, threshold: number, windowMs: number): Promise<{ count: number; windowStart: number }> {
    const now = Date.now();
    const open = this.ctx.storage.kv.get<RefusalWindow>(WINDOW_KEY);
    const window: RefusalWindow =
      open && now - open.windowStart < windowMs ? { count: open.count + 1, windowStart: open.windowStart, raised: open.raised === true } : { count: 1, windowStart: now, raised: false };
    this.ctx.storage.kv.put(WINDOW_KEY, window);
    // Nothing of a closed window is worth keeping: the alarm (below) then deletes it.
    if (window.count === 1) await this.ctx.storage.setAlarm(now + windowMs + 1);
    // One raise at a time: refusals arriving while it is in flight (the object takes requests
    // during its D1 call) leave it to that raise.
    if (window.count >= threshold && !window.raised && this.raising !== window.windowStart) {
      this.raising = window.windowStart;
      try {
        await raiseRefusalNotification(this.env, trigger, reason, window.windowStart);
        // The stored window, not `window`: refusals counted meanwhile stay counted.
        const stored = this.ctx.storage.kv.get<RefusalWindow>(WINDOW_KEY);
        if (stored && stored.windowStart === window.windowStart) this.ctx.storage.kv.put(WINDOW_KEY, { ...stored, raised: true });
      } catch (e) {
        logEvent("notification.refusalRaiseFailed", { triggerId: trigger.triggerId, count: window.count, error: String((e as Error)?.message ?? e) });
      } finally {
        this.raising = null;
      }
    }
    return { count: window.count, windowStart: window.windowStart };
  }

  /** Deletes a bucket that has refilled, or waits until it will have (a refusal window: it has closed). */
  override async alarm(): Promise<void> {
    this.alarmArmed = false;
    const stored = this.ctx.storage.kv.get<Stored>(KEY);
    if (!stored || tokensAt(stored, stored, Date.now()) >= stored.capacity) {
      await this.ctx.storage.deleteAll();
      return;
    }
    await this.armAlarm(stored);
  }

  private async save(bucket: Bucket, shape: BucketShape): Promise<void> {
    const stored: Stored = { ...bucket, ...shape };
    this.ctx.storage.kv.put(KEY, stored);
    if (!this.alarmArmed) await this.armAlarm(stored);
  }

  private async armAlarm(stored: Stored): Promise<void> {
    const fullInMs = (Math.max(0, stored.capacity - stored.tokens) / stored.ratePerSecond) * 1000;
    await this.ctx.storage.setAlarm(stored.updatedAt + Math.ceil(fullInMs) + 1);
    this.alarmArmed = true;
  }
}

/** Counts one refused signature of `trigger` (from the delivery's waitUntil): see src/notifications/webhook-refusals.ts. */
export async function noteRefusedSignature(env: Pick<Env, "WEBHOOK_RATE_LIMITER">, trigger: RefusedTrigger, reason: string): Promise<void> {
  await countRefusal(env, trigger, reason, WEBHOOK_REFUSAL_THRESHOLD, WEBHOOK_REFUSAL_WINDOW_MS);
}

/** Counts a refused signature of `trigger` against a threshold and window of the caller's (see the object's countRefusal). */
export function countRefusal(env: Pick<Env, "WEBHOOK_RATE_LIMITER">, trigger: RefusedTrigger, reason: string, threshold: number, windowMs: number) {
  return limiter(env, `refusals:${trigger.triggerId}`).countRefusal(trigger, reason, threshold, windowMs);
}

/** The object holding the bucket named `name`. */
function limiter(env: Pick<Env, "WEBHOOK_RATE_LIMITER">, name: string) {
  return env.WEBHOOK_RATE_LIMITER.get(env.WEBHOOK_RATE_LIMITER.idFromName(name));
}

/** Asks the trigger's limiter for one delivery. */
export function takeDeliveryToken(env: Pick<Env, "WEBHOOK_RATE_LIMITER">, triggerId: string, ratePerSecond: number): Promise<RateDecision> {
  return limiter(env, triggerId).take(ratePerSecond);
}

/** Asks a client's limiter (a bucket name of admission.ts) for one unverified request. */
export function takeClientToken(env: Pick<Env, "WEBHOOK_RATE_LIMITER">, bucketName: string, shape: BucketShape): Promise<RateDecision> {
  return limiter(env, bucketName).take(shape.ratePerSecond, shape.capacity);
}

/** Gives a client its token back once its request proved to come from a sender with the secret. */
export function returnClientToken(env: Pick<Env, "WEBHOOK_RATE_LIMITER">, bucketName: string, shape: BucketShape): Promise<void> {
  return limiter(env, bucketName).giveBack(shape.ratePerSecond, shape.capacity);
}
