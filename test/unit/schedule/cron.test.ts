import { describe, expect, it } from "vitest";
import { checkCronSpec, fireTimesAfter, jitterMs, nextFireTime } from "../../../src/schedule/cron";

const iso = (times: number[]) => times.map((t) => new Date(t).toISOString());
const at = (s: string) => Date.parse(s);

describe("next fire times", () => {
  it("a daily 02:30 in New York runs at 03:00 EDT on the spring-forward day (02:30 does not exist)", () => {
    const times = fireTimesAfter({ cron: "30 2 * * *", timezone: "America/New_York" }, at("2026-03-07T12:00:00Z"), 3);
    // 2026-03-08 is the US spring-forward day: 02:00 EST jumps to 03:00 EDT.
    expect(iso(times)).toEqual(["2026-03-08T07:00:00.000Z", "2026-03-09T06:30:00.000Z", "2026-03-10T06:30:00.000Z"]);
  });

  it("a daily 01:30 in New York runs once on the fall-back day, though 01:30 happens twice", () => {
    const times = fireTimesAfter({ cron: "30 1 * * *", timezone: "America/New_York" }, at("2026-10-31T12:00:00Z"), 3);
    // 2026-11-01: 02:00 EDT falls back to 01:00 EST; 01:30 EDT is 05:30Z, 01:30 EST is 06:30Z.
    expect(iso(times)).toEqual(["2026-11-01T05:30:00.000Z", "2026-11-02T06:30:00.000Z", "2026-11-03T06:30:00.000Z"]);
  });

  it("an hourly cron keeps one hour of real time between firings across the spring-forward gap", () => {
    const times = fireTimesAfter({ cron: "0 * * * *", timezone: "Europe/Berlin" }, at("2026-03-29T00:30:00Z"), 3);
    // 2026-03-29 02:00 CET jumps to 03:00 CEST: local 02:00, 04:00, 05:00 follow each other an hour apart in UTC: no hour is lost or doubled.
    expect(iso(times)).toEqual(["2026-03-29T01:00:00.000Z", "2026-03-29T02:00:00.000Z", "2026-03-29T03:00:00.000Z"]);
  });

  it("a weekday 09:00 cron in Berlin moves from 08:00Z to 07:00Z when summer time starts", () => {
    const times = fireTimesAfter({ cron: "0 9 * * MON-FRI", timezone: "Europe/Berlin" }, at("2026-03-26T12:00:00Z"), 3);
    expect(iso(times)).toEqual(["2026-03-27T08:00:00.000Z", "2026-03-30T07:00:00.000Z", "2026-03-31T07:00:00.000Z"]);
  });

  it("reads 6-field crons with seconds and nicknames such as @hourly", () => {
    expect(iso(fireTimesAfter({ cron: "*/2 * * * * *", timezone: "UTC" }, at("2026-01-01T00:00:00Z"), 3))).toEqual([
      "2026-01-01T00:00:02.000Z",
      "2026-01-01T00:00:04.000Z",
      "2026-01-01T00:00:06.000Z",
    ]);
    expect(iso(fireTimesAfter({ cron: "@hourly", timezone: "Asia/Kolkata" }, at("2026-01-01T00:10:00Z"), 2))).toEqual([
      "2026-01-01T00:30:00.000Z",
      "2026-01-01T01:30:00.000Z",
    ]);
  });

  it("keeps to startAt and endAt, both inclusive", () => {
    const spec = { cron: "0 * * * *", timezone: "UTC", startAt: at("2026-01-01T03:00:00Z"), endAt: at("2026-01-01T05:00:00Z") };
    expect(iso(fireTimesAfter(spec, at("2026-01-01T00:00:00Z"), 10))).toEqual([
      "2026-01-01T03:00:00.000Z",
      "2026-01-01T04:00:00.000Z",
      "2026-01-01T05:00:00.000Z",
    ]);
    expect(nextFireTime(spec, at("2026-01-01T05:00:00Z"))).toBeUndefined();
  });
});

describe("checking a spec", () => {
  const now = at("2026-06-01T00:00:00Z");
  it.each([
    [{ cron: "0 0 30 2 *", timezone: "UTC" }, "cron", "never fires"],
    [{ cron: "not a cron", timezone: "UTC" }, "cron", "not a valid cron"],
    [{ cron: "* * * * * * *", timezone: "UTC" }, "cron", "not a valid cron"],
    [{ cron: "0 * * * *", timezone: "Mars/Olympus_Mons" }, "timezone", "IANA"],
    [{ cron: "0 * * * *", timezone: "UTC", startAt: now + 10_000, endAt: now }, "endAt", "before startAt"],
    [{ cron: "0 0 1 1 *", timezone: "UTC", startAt: now, endAt: now + 86_400_000 }, "cron", "never fires between"],
  ])("refuses %j, naming %s", (spec, field, problem) => {
    let error: any;
    try {
      checkCronSpec(spec, now);
    } catch (e) {
      error = e;
    }
    expect(error?.code).toBe("ValidationError");
    expect(error.fields[field]).toContain(problem);
  });

  it("accepts every second at the 1 s floor, and refuses it under a higher floor", () => {
    expect(() => checkCronSpec({ cron: "* * * * * *", timezone: "UTC" }, now)).not.toThrow();
    expect(() => checkCronSpec({ cron: "* * * * * *", timezone: "UTC" }, now, 2000)).toThrow(/floor/);
    expect(() => checkCronSpec({ cron: "*/2 * * * * *", timezone: "UTC" }, now, 2000)).not.toThrow();
  });
});

describe("jitter", () => {
  it("is the same for the same firing and stays inside the window", () => {
    const a = jitterMs("s1", 1_000_000, 30);
    expect(jitterMs("s1", 1_000_000, 30)).toBe(a);
    for (let t = 0; t < 100; t++) {
      const j = jitterMs("s1", t * 1000, 30);
      expect(j).toBeGreaterThanOrEqual(0);
      expect(j).toBeLessThan(30_000);
    }
    expect(new Set(Array.from({ length: 20 }, (_, t) => jitterMs("s1", t * 1000, 30))).size).toBeGreaterThan(1);
    expect(jitterMs("s1", 1_000_000, 0)).toBe(0);
  });
});
