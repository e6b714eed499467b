/**
 * The isolate's burst signal: when this isolate last sent an intake group while more than
 * INTAKE_BURST_SUBMISSIONS of its submissions were being begun (src/intake/submit.ts), and when
 * starts held for it go (src/intake/intake.ts).
 *
 * It is module state, so it is seen only by code in the same isolate, and that is the point: the
 * hold exists because one thread serves the isolate's requests and its objects, and a job's start
 * and first step cost that thread several times what an accept does. An intake object that shares
 * an isolate with a burst's requests (always under `wrangler dev`, where every object of the
 * process runs on one thread) holds its starts until the burst has passed; one in another isolate
 * (as on Cloudflare's network, where an object usually runs apart from the requests that reach it)
 * never sees the signal and starts at once.
 */
import { INTAKE_BURST_LULL_MS, INTAKE_MAX_START_HOLD_MS } from "../limits";

let lastBurstAt = 0;

/** Records that a group leaves during a burst, at `now` (0: no burst, as at the isolate's start). */
export function noteBurst(now: number): void {
  lastBurstAt = now;
}

/** When this isolate last sent a group during a burst (0 if never). */
export function lastBurst(): number {
  return lastBurstAt;
}

/**
 * When starts held since `heldSince` may go, at `now`: INTAKE_BURST_LULL_MS after the burst's latest
 * group (its last answers are still on their way to their clients), and never later than
 * INTAKE_MAX_START_HOLD_MS after the hold began; `now` itself once either has passed.
 */
export function holdEnds(now: number, burstAt: number, heldSince: number): number {
  return Math.max(now, Math.min(burstAt + INTAKE_BURST_LULL_MS, heldSince + INTAKE_MAX_START_HOLD_MS));
}
