/** When starts held for a burst go (src/intake/burst.ts): at the lull's end and at the hold's bound. */
import { describe, expect, it } from "vitest";
import { holdEnds } from "../../../src/intake/burst";
import { INTAKE_BURST_LULL_MS, INTAKE_MAX_START_HOLD_MS } from "../../../src/limits";

describe("a burst's hold", () => {
  const t = 1_000_000;

  it("ends INTAKE_BURST_LULL_MS after the burst's latest group", () => {
    expect(holdEnds(t, t, t)).toBe(t + INTAKE_BURST_LULL_MS);
    expect(holdEnds(t + 10, t + 5, t)).toBe(t + 5 + INTAKE_BURST_LULL_MS);
  });

  it("has ended once the lull has passed: now, exactly at the bound and after it", () => {
    expect(holdEnds(t + INTAKE_BURST_LULL_MS - 1, t, t)).toBe(t + INTAKE_BURST_LULL_MS);
    expect(holdEnds(t + INTAKE_BURST_LULL_MS, t, t)).toBe(t + INTAKE_BURST_LULL_MS);
    expect(holdEnds(t + INTAKE_BURST_LULL_MS + 1, t, t)).toBe(t + INTAKE_BURST_LULL_MS + 1);
    // No burst ever (0): at once.
    expect(holdEnds(t, 0, t)).toBe(t);
  });

  it("never lasts more than INTAKE_MAX_START_HOLD_MS from its start, however late the burst's groups come", () => {
    const held = t;
    const lastGroup = t + INTAKE_MAX_START_HOLD_MS - 1;
    expect(holdEnds(lastGroup, lastGroup, held)).toBe(held + INTAKE_MAX_START_HOLD_MS);
    expect(holdEnds(held + INTAKE_MAX_START_HOLD_MS, held + INTAKE_MAX_START_HOLD_MS, held)).toBe(held + INTAKE_MAX_START_HOLD_MS);
    expect(holdEnds(held + INTAKE_MAX_START_HOLD_MS + 1, held + INTAKE_MAX_START_HOLD_MS + 1, held)).toBe(held + INTAKE_MAX_START_HOLD_MS + 1);
  });
});
