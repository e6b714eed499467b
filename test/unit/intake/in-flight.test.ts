/** Telling a lone submission from a burst (src/intake/in-flight.ts), at both of its bounds. */
import { describe, expect, it } from "vitest";
import { InFlight } from "../../../src/intake/in-flight";
import { INTAKE_BURST_SUBMISSIONS, SUBMISSION_BEGIN_STALE_MS } from "../../../src/limits";

describe("the submissions an isolate is beginning", () => {
  const t = 1_000_000;

  it(`is a burst past INTAKE_BURST_SUBMISSIONS (${INTAKE_BURST_SUBMISSIONS}), not at it`, () => {
    const f = new InFlight();
    expect(f.count(t)).toBe(0);
    const keys = Array.from({ length: INTAKE_BURST_SUBMISSIONS }, () => f.begin(t));
    expect(f.isBurst(t)).toBe(false);
    const one = f.begin(t);
    expect(f.isBurst(t)).toBe(true);
    f.end(one);
    expect(f.isBurst(t)).toBe(false);
    for (const k of keys) f.end(k);
    expect(f.count(t)).toBe(0);
  });

  it(`drops an entry never ended once it is SUBMISSION_BEGIN_STALE_MS (${SUBMISSION_BEGIN_STALE_MS} ms) old, and not before`, () => {
    const f = new InFlight();
    f.begin(t); // a request cancelled mid-way: never ended
    const later = f.begin(t + 10);
    expect(f.count(t + SUBMISSION_BEGIN_STALE_MS - 1)).toBe(2);
    expect(f.count(t + SUBMISSION_BEGIN_STALE_MS)).toBe(1);
    f.end(later);
    expect(f.count(t + SUBMISSION_BEGIN_STALE_MS)).toBe(0);
  });
});
