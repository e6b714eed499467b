/**
 * PURE: when a schedule fires. Crons are parsed by croner (5 fields, 6 with seconds, `@hourly` and
 * the like) and read in an IANA timezone, so DST is handled the way croner documents it: a
 * fixed-time job (`30 2 * * *`) whose time falls in a spring-forward gap runs at the first valid
 * time after the gap, and once when the time occurs twice; an interval job (`*\/30 * * * *`) keeps
 * its interval in real time. No clock is read here: every function takes `now` or a bound.
 */
import { Cron } from "croner";
import { ValidationError } from "../errors";
import { MIN_SCHEDULE_INTERVAL_MS } from "../limits";

/** What decides a schedule's fire times. `startAt` and `endAt` are inclusive bounds, in ms. */
export interface CronSpec {
  cron: string;
  timezone: string;
  startAt?: number;
  endAt?: number;
}

function invalid(field: string, problem: string): ValidationError {
  return new ValidationError(`${field} ${problem}.`, [`${field}: ${problem}`], { [field]: problem });
}

/** True when the runtime knows the IANA timezone. */
export function isKnownTimezone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

/** Parsed crons by `timezone\ncron`: an alarm after an outage asks for thousands of fire times. */
const compiled = new Map<string, Cron>();
const COMPILED_CACHE_ENTRIES = 100;

/** The croner instance of a spec; throws a 400 naming `cron` or `timezone` for one croner refuses. */
function compile(spec: CronSpec): Cron {
  const key = `${spec.timezone}\n${spec.cron}`;
  const hit = compiled.get(key);
  if (hit) return hit;
  const cron = parse(spec);
  if (compiled.size >= COMPILED_CACHE_ENTRIES) compiled.delete(compiled.keys().next().value!);
  compiled.set(key, cron);
  return cron;
}

function parse(spec: CronSpec): Cron {
  if (!isKnownTimezone(spec.timezone)) throw invalid("timezone", `is not an IANA timezone this engine knows ("${spec.timezone}")`);
  try {
    // paused: croner never sets a timer of its own here; the schedule's alarm does the firing.
    return new Cron(spec.cron, { paused: true, timezone: spec.timezone, mode: "5-or-6-parts" });
  } catch (e) {
    throw invalid("cron", `is not a valid cron expression: ${(e as Error).message}`);
  }
}

/** Up to `count` fire times strictly after `after` (ms), within the spec's bounds, in order. */
export function fireTimesAfter(spec: CronSpec, after: number, count: number, until = Infinity): number[] {
  const cron = compile(spec);
  const out: number[] = [];
  const end = Math.min(until, spec.endAt ?? Infinity);
  // croner's next run is strictly after the date it is given.
  let from = spec.startAt !== undefined && spec.startAt - 1 > after ? spec.startAt - 1 : after;
  while (out.length < count) {
    const next = cron.nextRun(new Date(from));
    if (!next) break;
    const t = next.getTime();
    if (t > end) break;
    out.push(t);
    from = t;
  }
  return out;
}

/** The first fire time strictly after `after`, or undefined when the schedule never fires again. */
export function nextFireTime(spec: CronSpec, after: number): number | undefined {
  return fireTimesAfter(spec, after, 1)[0];
}

/**
 * The smallest gap between consecutive times; Infinity for fewer than two. A cron's fastest rate
 * shows within its first minute of seconds, so a short sample of times is enough.
 */
export function smallestGap(times: number[]): number {
  let gap = Infinity;
  for (let i = 1; i < times.length; i++) gap = Math.min(gap, times[i]! - times[i - 1]!);
  return gap;
}

/**
 * Checks a spec as CreateSchedule and UpdateSchedule need it: a cron and timezone croner accepts,
 * `endAt` after `startAt`, at least one fire time from `now` on, and no two fire times closer than
 * `floorMs`. Throws a 400 naming the field.
 */
export function checkCronSpec(spec: CronSpec, now: number, floorMs = MIN_SCHEDULE_INTERVAL_MS): void {
  if (spec.startAt !== undefined && spec.endAt !== undefined && spec.endAt < spec.startAt) throw invalid("endAt", "is before startAt");
  const sample = fireTimesAfter(spec, Math.max(now, (spec.startAt ?? now) - 1), 64);
  if (sample.length === 0) {
    throw invalid("cron", spec.endAt !== undefined ? "never fires between now (or startAt) and endAt" : "never fires");
  }
  if (smallestGap(sample) < floorMs) throw invalid("cron", `fires more often than once every ${floorMs / 1000} s, the floor for schedules`);
}

/**
 * The delay of one firing, in [0, jitterSeconds) seconds, the same every time it is asked for: a
 * replayed alarm waits as long as the first. FNV-1a of the schedule id and the nominal time.
 */
export function jitterMs(scheduleId: string, fireAt: number, jitterSeconds: number): number {
  if (jitterSeconds <= 0) return 0;
  let h = 0x811c9dc5;
  for (const ch of `${scheduleId}:${fireAt}`) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % (jitterSeconds * 1000);
}
