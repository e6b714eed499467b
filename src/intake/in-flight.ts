/**
 * The single submissions an isolate is beginning now (src/intake/submit.ts), each with when it
 * began, oldest first: none other means a submission is alone (it goes direct), more than
 * INTAKE_BURST_SUBMISSIONS a burst. A request cancelled mid-way (its client gone) never runs its
 * `finally`, so never ends its entry: an entry SUBMISSION_BEGIN_STALE_MS old is dropped, and no
 * leaked entry can make the isolate look busy for longer.
 */
import { INTAKE_BURST_SUBMISSIONS, SUBMISSION_BEGIN_STALE_MS } from "../limits";

export class InFlight {
  private readonly since = new Map<symbol, number>();

  /** How many are being begun at `now` (stale entries dropped first). */
  count(now: number): number {
    for (const [key, at] of this.since) {
      if (at > now - SUBMISSION_BEGIN_STALE_MS) break;
      this.since.delete(key);
    }
    return this.since.size;
  }

  /** Whether more than INTAKE_BURST_SUBMISSIONS are being begun at `now`. */
  isBurst(now: number): boolean {
    return this.count(now) > INTAKE_BURST_SUBMISSIONS;
  }

  /** Counts one more from `now`; end it with the key returned. */
  begin(now: number): symbol {
    const key = Symbol();
    this.since.set(key, now);
    return key;
  }

  end(key: symbol): void {
    this.since.delete(key);
  }
}
