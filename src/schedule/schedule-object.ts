/**
 * ScheduleObject: one Durable Object per schedule, driven by its alarm. It owns the spec and the
 * firing state (cursor, recent actions, missed and skipped counts, a buffered firing) in its own
 * SQLite, and keeps the D1 copy that ListSchedules reads up to date.
 *
 * A pass of the alarm: bring the D1 copy up to date, carry out pending firings (backfills, a
 * buffered firing whose predecessor ended, a replacement waiting for a cancelled job), then handle
 * every fire time that is due: run it if it is at most `catchupWindowSeconds` late, count it missed
 * otherwise. Each fire time is decided and recorded with the cursor in one transaction before its
 * job is started under an id derived from (schedule, fire time), so duplicates start one job.
 */
import { DurableObject } from "cloudflare:workers";
import { ConflictError, NotFoundError, ValidationError, type ApiError, type RpcResult } from "../errors";
import { isoTime } from "../ids";
import {
  BACKFILL_STARTS_PER_ALARM,
  MAX_BACKFILL_FIRINGS,
  SCHEDULE_FIRINGS_PER_ALARM,
  SCHEDULE_NEXT_FIRE_TIMES,
  SCHEDULE_POLL_MAX_MS,
  SCHEDULE_POLL_MS,
  SCHEDULE_RETRY_MAX_MS,
  SCHEDULE_RETRY_MS,
  SCHEDULE_START_BACKSTOP_MS,
  SCHEDULE_TIMES_PER_ALARM,
} from "../limits";
import { logEvent } from "../log";
import { organizationIsLive } from "../registry/organizations";
import { deleteScheduleIndex, upsertScheduleIndex } from "../registry/schedules";
import { fireTimesAfter, jitterMs, nextFireTime } from "./cron";
import { firingJobId } from "./firing";
import { Firings } from "./firings";
import type { ScheduleSpec } from "./spec";
import { ScheduleStore, type ActionState, type Trigger } from "./store";

/** What GetSchedule shows, before the route adds the jobs' statuses. */
export interface ScheduleView {
  scheduleId: string;
  spec: ScheduleSpec;
  paused: boolean;
  note?: string;
  nextFireTimes: string[];
  recentActions: { trigger: Trigger; scheduledAt: string; actionTime: string; jobId?: string; state: ActionState; buffered: boolean; detail?: string }[];
  missedCount: number;
  skippedCount: number;
  createdAt: string;
  updatedAt: string;
}

function fail<T>(error: ApiError): RpcResult<T> {
  return { ok: false, error: error.toInfo() };
}

const notFound = <T>(): RpcResult<T> => fail(new NotFoundError("The schedule was not found."));

/** Rolls back a backfill that would leave more than MAX_BACKFILL_FIRINGS waiting. */
class BackfillQueueFull extends Error {}

export class ScheduleObject extends DurableObject<Env> {
  readonly store: ScheduleStore;
  readonly #firings: Firings;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new ScheduleStore(ctx.storage);
    const self = this;
    this.#firings = new Firings({
      // Read at each use: a test replaces the object's bindings to inject a failure.
      get env() {
        return self.env;
      },
      store: this.store,
      armWithin: (ms) => this.armWithin(ms),
      syncIndex: () => this.syncIndex(),
    });
  }

  private owned(organizationId: string) {
    const c = this.store.control();
    return c && c.organizationId === organizationId ? c : null;
  }

  // ---- RPC: the API calls these -------------------------------------------------------------

  /** Creates the schedule; creating one that exists returns it unchanged. */
  async create(organizationId: string, scheduleId: string, spec: ScheduleSpec): Promise<RpcResult<ScheduleView>> {
    if (!this.store.control()) {
      const now = Date.now();
      this.store.create({ organizationId, scheduleId, spec, paused: false, cursor: now, createdAt: now, updatedAt: now, indexSeq: 1 });
      await this.syncIndex();
      await this.arm();
    }
    return this.describe(organizationId);
  }

  async describe(organizationId: string): Promise<RpcResult<ScheduleView>> {
    const c = this.owned(organizationId);
    if (!c) return notFound();
    const now = Date.now();
    const next = fireTimesAfter(c.spec, Math.max(c.cursor, now), SCHEDULE_NEXT_FIRE_TIMES);
    return {
      ok: true,
      value: {
        scheduleId: c.scheduleId,
        spec: c.spec,
        paused: c.paused,
        ...(c.note !== undefined ? { note: c.note } : {}),
        nextFireTimes: next.map(isoTime),
        recentActions: this.store.recent().map((a) => ({
          trigger: a.trigger,
          scheduledAt: isoTime(a.fireAt),
          actionTime: isoTime(a.actedAt),
          ...(a.state !== "SKIPPED" ? { jobId: a.jobId } : {}),
          state: a.state,
          buffered: a.state === "PENDING" && (a.waitFor !== undefined || a.cancelJobId !== undefined),
          ...(a.detail !== undefined ? { detail: a.detail } : {}),
        })),
        missedCount: c.missed,
        skippedCount: c.skipped,
        createdAt: isoTime(c.createdAt),
        updatedAt: isoTime(c.updatedAt),
      },
    };
  }

  /** Replaces the spec. Fire times of the new spec before now are not caught up. */
  async update(organizationId: string, spec: ScheduleSpec): Promise<RpcResult<ScheduleView>> {
    if (!this.owned(organizationId)) return notFound();
    const now = Date.now();
    this.store.setSpec(spec, now, now);
    await this.syncIndex();
    await this.arm();
    return this.describe(organizationId);
  }

  /** Pauses: no scheduled firing runs until unpaused (triggers and backfills still do). */
  async pause(organizationId: string, note: string | undefined): Promise<RpcResult<ScheduleView>> {
    if (!this.owned(organizationId)) return notFound();
    this.store.setPaused(true, note, Date.now());
    await this.syncIndex();
    await this.arm();
    return this.describe(organizationId);
  }

  /** Unpauses: fire times that passed while paused are neither run nor counted; the next one runs. */
  async unpause(organizationId: string, note: string | undefined): Promise<RpcResult<ScheduleView>> {
    const c = this.owned(organizationId);
    if (!c) return notFound();
    if (c.paused) {
      const now = Date.now();
      this.store.setPaused(false, note, now, now);
      await this.syncIndex();
      await this.arm();
    }
    return this.describe(organizationId);
  }

  /** Fires now, under the schedule's overlap policy; the nominal fire time is now. */
  async trigger(organizationId: string): Promise<RpcResult<{ scheduleId: string; scheduledAt: string; jobId: string; state: ActionState; buffered: boolean }>> {
    const c = this.owned(organizationId);
    if (!c) return notFound();
    const fireAt = Date.now();
    try {
      await this.#firings.fire("TRIGGERED", fireAt);
    } catch (e) {
      // Recorded but not started: the alarm (armed below, for now) starts it. Not recorded: a 500, nothing done.
      if (!this.store.action("TRIGGERED", fireAt)) throw e;
      logEvent("schedule.firingFailed", { scheduleId: c.scheduleId, trigger: "TRIGGERED", fireAt: isoTime(fireAt), recorded: true, error: String(e) });
    } finally {
      await this.arm();
    }
    const a = this.store.action("TRIGGERED", fireAt)!;
    const buffered = a.state === "PENDING" && (a.waitFor !== undefined || a.cancelJobId !== undefined);
    return { ok: true, value: { scheduleId: c.scheduleId, scheduledAt: isoTime(a.fireAt), jobId: a.jobId, state: a.state, buffered } };
  }

  /**
   * Queues one firing per fire time of the cron in [startAt, endAt] (both in the past), started
   * from the alarm in batches. Each job's id is the one that fire time's scheduled firing has, so a
   * backfill of times that already ran starts nothing new. Overlap policies do not apply.
   */
  async backfill(organizationId: string, startAt: number, endAt: number): Promise<RpcResult<{ scheduleId: string; fireTimes: string[] }>> {
    const c = this.owned(organizationId);
    if (!c) return notFound();
    const now = Date.now();
    if (endAt < startAt) return fail(new ValidationError("endAt is before startAt.", ["endAt: is before startAt"], { endAt: "is before startAt" }));
    if (endAt > now) return fail(new ValidationError("endAt is in the future: a backfill covers past fire times.", ["endAt: is in the future"], { endAt: "is in the future" }));
    const times = fireTimesAfter({ cron: c.spec.cron, timezone: c.spec.timezone }, startAt - 1, MAX_BACKFILL_FIRINGS + 1, endAt);
    if (times.length > MAX_BACKFILL_FIRINGS) {
      const problem = `covers more than ${MAX_BACKFILL_FIRINGS} fire times`;
      return fail(new ValidationError(`The backfill range ${problem}.`, [`endAt: ${problem}`], { endAt: problem }));
    }
    const ids = await Promise.all(times.map((t) => firingJobId(c.scheduleId, t)));
    // Fire times already waiting add nothing; what would wait past the bound is refused, whole.
    try {
      this.store.transaction(() => {
        times.forEach((t, i) => this.store.addAction({ trigger: "BACKFILL", fireAt: t, jobId: ids[i]!, state: "PENDING", waitForTree: false, actedAt: now }));
        if (this.store.pendingBackfills() > MAX_BACKFILL_FIRINGS) throw new BackfillQueueFull();
      });
    } catch (e) {
      if (!(e instanceof BackfillQueueFull)) throw e;
      const waiting = this.store.pendingBackfills();
      return fail(new ConflictError(`At most ${MAX_BACKFILL_FIRINGS} backfilled fire times may wait to start, and ${waiting} do: send this backfill once they have started.`));
    }
    await this.arm(now);
    return { ok: true, value: { scheduleId: c.scheduleId, fireTimes: times.map(isoTime) } };
  }

  /** Deletes the schedule and its D1 copy; jobs it started are left as they are. */
  async remove(organizationId: string): Promise<RpcResult<{ scheduleId: string }>> {
    const c = this.owned(organizationId);
    if (!c) return notFound();
    await this.store.deleteAll();
    await deleteScheduleIndex(this.env.DB, c.scheduleId);
    return { ok: true, value: { scheduleId: c.scheduleId } };
  }

  /**
   * Its organization was deleted: the schedule deletes itself and its D1 copy. The organization's
   * reaper tells every schedule of it, paused ones included, which have no alarm to notice by
   * themselves. Nothing happens while the organization is live.
   */
  async organizationDeleted(organizationId: string): Promise<RpcResult<{ deleted: boolean }>> {
    const c = this.owned(organizationId);
    if (!c || (await organizationIsLive(this.env.DB, organizationId))) return { ok: true, value: { deleted: false } };
    await this.store.deleteAll();
    await deleteScheduleIndex(this.env.DB, c.scheduleId);
    logEvent("schedule.deletedWithOrganization", { scheduleId: c.scheduleId, organizationId });
    return { ok: true, value: { deleted: true } };
  }

  // ---- The alarm ------------------------------------------------------------------------------

  /**
   * One pass. Whatever happens in it (D1 down, a job's object throwing), it ends with the next alarm
   * armed: after a failure, with a backoff that doubles per consecutive failure. Throwing instead
   * would leave the retry to Cloudflare, which gives up after 6 attempts and the schedule would
   * never fire again. Each firing's failure is caught where it happens, so the others still run.
   */
  override async alarm(): Promise<void> {
    if (!this.store.control()) return;
    let failed = false;
    try {
      failed = !(await this.pass());
    } catch (e) {
      failed = true;
      logEvent("schedule.passFailed", { scheduleId: this.store.control()?.scheduleId, error: String(e) });
    } finally {
      await this.rearm(failed);
    }
  }

  /** The pass; false when a firing failed (it is retried by a later pass). */
  private async pass(): Promise<boolean> {
    const control = this.store.control();
    if (!control) return true;
    // A deleted organization's schedules end with it: the first pass after the deletion deletes
    // the schedule (one indexed D1 read per pass; a pass starts jobs, so it costs more already).
    if (!(await organizationIsLive(this.env.DB, control.organizationId))) {
      await this.store.deleteAll();
      await deleteScheduleIndex(this.env.DB, control.scheduleId);
      logEvent("schedule.deletedWithOrganization", { scheduleId: control.scheduleId, organizationId: control.organizationId });
      return true;
    }
    await this.syncIndex();
    let ok = await this.#firings.runPending();
    const c = this.store.control();
    if (c && !c.paused) ok = (await this.fireDue(Date.now())) && ok;
    return ok;
  }

  /** Arms the next alarm; after a failed pass, no sooner than the backoff (nothing is due sooner than a retry). */
  private async rearm(failed: boolean): Promise<void> {
    if (!this.store.control()) return;
    if (!failed) {
      this.store.setFailures(0);
      await this.arm();
      return;
    }
    const failures = this.store.failures() + 1;
    this.store.setFailures(failures);
    const backoff = Math.min(SCHEDULE_RETRY_MAX_MS, SCHEDULE_RETRY_MS * 2 ** Math.min(failures - 1, 30));
    await this.arm(undefined, Date.now() + backoff);
  }

  /**
   * Handles the fire times that are due, up to a batch; the alarm re-arms at once for the rest.
   * Missed ones (later than the catch-up window) are counted without I/O, in one commit. Returns
   * false when a firing failed: one recorded but not started is left PENDING for a later pass and
   * the next fire times still run; one that failed before it was recorded stops the batch there
   * (the cursor stays before it, so it is decided again, in order, by the retry).
   */
  private async fireDue(now: number): Promise<boolean> {
    let c = this.store.control();
    if (!c || c.paused) return true;
    let ok = true;
    let cursor = c.cursor;
    let missed = 0;
    const flushMissed = () => {
      if (missed === 0) return;
      const n = missed;
      this.store.transaction(() => {
        this.store.advanceCursor(cursor);
        this.store.countMissed(n);
      });
      logEvent("schedule.missed", { scheduleId: c!.scheduleId, count: n, upTo: isoTime(cursor) });
      missed = 0;
    };
    let fired = 0;
    for (let handled = 0; handled < SCHEDULE_TIMES_PER_ALARM && fired < SCHEDULE_FIRINGS_PER_ALARM; handled++) {
      const t = nextFireTime(c.spec, cursor);
      if (t === undefined) break;
      const due = t + jitterMs(c.scheduleId, t, c.spec.jitterSeconds);
      if (due > now) break;
      cursor = t;
      if (now - due > c.spec.catchupWindowSeconds * 1000) {
        // Missed (the engine was down, or the schedule could not keep up): counted, never run.
        missed++;
        continue;
      }
      flushMissed();
      try {
        await this.#firings.fire("SCHEDULED", t);
      } catch (e) {
        ok = false;
        const recorded = this.store.action("SCHEDULED", t) !== undefined;
        logEvent("schedule.firingFailed", { scheduleId: c.scheduleId, fireAt: isoTime(t), recorded, error: String(e) });
        if (!recorded) return false;
      }
      fired++;
      c = this.store.control();
      // Deleted, paused (pauseOnFailure) or updated meanwhile: the next pass starts from the new state.
      if (!c || c.paused || c.cursor !== cursor) return ok;
    }
    flushMissed();
    return ok;
  }

  /** Brings the D1 copy up to date; a failure leaves it for the next alarm. */
  private async syncIndex(): Promise<void> {
    const c = this.store.control();
    if (!c || c.indexedSeq >= c.indexSeq) return;
    try {
      await upsertScheduleIndex(
        this.env.DB,
        c.organizationId,
        {
          scheduleId: c.scheduleId,
          spec: c.spec,
          paused: c.paused,
          ...(c.note !== undefined ? { note: c.note } : {}),
          createdAt: isoTime(c.createdAt),
          updatedAt: isoTime(c.updatedAt),
        },
        c.indexSeq,
      );
      this.store.indexed(c.indexSeq);
    } catch (e) {
      logEvent("schedule.indexFailed", { scheduleId: c.scheduleId, error: String(e) });
    }
  }

  /** Makes sure the alarm fires within `ms` from now; an earlier one stays (inside an alarm pass, none is set yet). */
  private async armWithin(ms: number): Promise<void> {
    const at = Date.now() + ms;
    const armed = await this.ctx.storage.getAlarm();
    if (armed === null || armed > at) await this.ctx.storage.setAlarm(at);
  }

  /**
   * Sets the alarm to the earliest of: the next fire time (plus its jitter) unless paused, now for
   * pending backfills or an unsynced D1 copy, a poll for a firing waiting on a job, and `also`;
   * but not before `notBefore` (a retry's backoff).
   */
  private async arm(also?: number, notBefore?: number): Promise<void> {
    const c = this.store.control();
    if (!c) return;
    const now = Date.now();
    const times: number[] = also !== undefined ? [also] : [];
    if (!c.paused) {
      const t = nextFireTime(c.spec, c.cursor);
      if (t !== undefined) times.push(t + jitterMs(c.scheduleId, t, c.spec.jitterSeconds));
    }
    const pending = this.store.pending(BACKFILL_STARTS_PER_ALARM);
    // A start in flight in this instance gets a backstop, not a second start alongside it.
    const owed = pending.filter((a) => a.trigger === "BACKFILL" || (!a.waitFor && !a.cancelJobId));
    if (owed.some((a) => !this.#firings.startsInFlight.has(a.seq))) times.push(now);
    else if (owed.length > 0) times.push(now + SCHEDULE_START_BACKSTOP_MS);
    const waiting = pending.filter((a) => !owed.includes(a));
    if (waiting.length > 0) {
      // A job that runs for hours is not asked after every second: the poll slows as the wait grows.
      const waited = now - Math.min(...waiting.map((a) => a.actedAt));
      times.push(now + Math.min(SCHEDULE_POLL_MAX_MS, Math.max(SCHEDULE_POLL_MS, waited / 10)));
    }
    if (c.indexedSeq < c.indexSeq) times.push(now + SCHEDULE_POLL_MS);
    if (times.length === 0) {
      await this.ctx.storage.deleteAlarm();
      return;
    }
    // After a failed pass, what is due (the failed firing included) waits for the retry; later times keep theirs.
    await this.ctx.storage.setAlarm(Math.max(Math.min(...times), notBefore ?? 0));
  }
}
