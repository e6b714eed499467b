import { describe, expect, it } from "vitest";
import { inTurn, shares } from "../../../src/job/rerun-shares";
import { MAX_RERUN_JOBS, RERUN_CONCURRENCY, RERUN_FANOUT, RERUN_SOURCES_PER_OBJECT } from "../../../src/limits";

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const sizes = (n: number) => shares(range(n)).map((s) => s.length);

describe("RerunJobs' shares", () => {
  it.each([
    [MAX_RERUN_JOBS, Array(RERUN_FANOUT).fill(100)],
    [100, Array(5).fill(RERUN_SOURCES_PER_OBJECT)],
    [RERUN_SOURCES_PER_OBJECT + 1, [11, 10]],
    [RERUN_SOURCES_PER_OBJECT, [RERUN_SOURCES_PER_OBJECT]],
    [1, [1]],
    [0, []],
  ])("splits %i sources into shares of %j", (n, expected) => {
    expect(sizes(n)).toEqual(expected);
    expect(shares(range(n)).flat()).toEqual(range(n));
  });

  it(`takes ${MAX_RERUN_JOBS} sources in two levels, no object calling more than ${RERUN_FANOUT} others nor making more than ${RERUN_SOURCES_PER_OBJECT} reruns`, () => {
    const level = (items: number[], depth: number): number => {
      if (items.length <= RERUN_SOURCES_PER_OBJECT) return depth;
      const parts = shares(items);
      expect(parts.length).toBeLessThanOrEqual(RERUN_FANOUT);
      return Math.max(...parts.map((p) => level(p, depth + 1)));
    };
    // The Worker always hands its sources to objects (depth 1); those split once more.
    expect(Math.max(...shares(range(MAX_RERUN_JOBS)).map((p) => level(p, 1)))).toBe(2);
  });

  it(`runs at most ${RERUN_CONCURRENCY} calls at once, answering in order`, async () => {
    let running = 0;
    let most = 0;
    const out = await inTurn(range(25), async (i) => {
      running += 1;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 1));
      running -= 1;
      return i * 2;
    });
    expect(most).toBe(RERUN_CONCURRENCY);
    expect(out).toEqual(range(25).map((i) => i * 2));
  });
});
