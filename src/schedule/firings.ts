/**
 * The firings of one schedule: deciding each under its overlap policy, and carrying it out
 * (cancel what it replaces, wait for what it follows, start its job). Triggers, the alarm's fire
 * times and its pending firings all arrive here concurrently (a Durable Object's input gate opens
 * at every await), so every decision and every step towards a start runs one at a time, on the
 * stored state as it is then, never on a snapshot read before an await.
 *
 * A firing whose start has been decided counts as busy from the moment that decision is stored, in
 * the same transaction, until its job exists: a crash between the decision and the start leaves it
 * PENDING, the alarm (armed before the start goes out) carries it out, and every firing decided
 * meanwhile sees it as the running job it is about to be.
 */
import { isoTime } from "../ids";
import { BACKFILL_STARTS_PER_ALARM, SCHEDULE_START_BACKSTOP_MS } from "../limits";
import { logEvent } from "../log";
import { cancelJob, firingJobId, isRunning, jobStatus, startFiring, treeEnded } from "./firing";
import { decideOverlap } from "./overlap";
import { Serial } from "./serial";
import type { Action, ScheduleStore, Trigger } from "./store";

/** What the firings need from their Durable Object. */
export interface FiringHost {
  readonly env: Env;
  readonly store: ScheduleStore;
  /** Makes sure an alarm fires within `ms`, without moving an earlier one. */
  armWithin(ms: number): Promise<void>;
  /** The D1 copy must show a change (a pause on failure). */
  syncIndex(): Promise<void>;
}

export class Firings {
  private readonly serial = new Serial();
  /**
   * Starts this instance has sent and not yet recorded, by firing (seq): a second caller waits for
   * the one in flight instead of sending it again. Memory only: after a crash, none.
   */
  readonly startsInFlight = new Map<number, Promise<void>>();

  constructor(private readonly host: FiringHost) {}

  /**
   * Decides one firing under the overlap policy, records it (moving the cursor past a scheduled
   * one) in one transaction, then carries it out. A firing already decided is only carried out.
   */
  async fire(trigger: Trigger, fireAt: number): Promise<void> {
    const action = await this.serial.run(() => this.decide(trigger, fireAt));
    if (action?.state === "PENDING") await this.carryOut(action);
  }

  /**
   * Carries out pending firings: backfills in batches, then those waiting for an earlier job. One
   * that fails stays PENDING for a later pass and does not stop the others; returns false if any failed.
   */
  async runPending(): Promise<boolean> {
    const pending = this.host.store.pending(BACKFILL_STARTS_PER_ALARM);
    const attempt = async (a: Action) => {
      try {
        await this.carryOut(a);
        return true;
      } catch (e) {
        logEvent("schedule.firingFailed", { scheduleId: this.host.store.control()?.scheduleId, trigger: a.trigger, fireAt: isoTime(a.fireAt), recorded: true, error: String(e) });
        return false;
      }
    };
    const results = await Promise.all(pending.filter((a) => a.trigger === "BACKFILL").map(attempt));
    for (const a of pending.filter((p) => p.trigger !== "BACKFILL")) results.push(await attempt(a));
    return results.every(Boolean);
  }

  /** Decides a firing (run one at a time); the action as recorded, or undefined when the schedule is gone. */
  private async decide(trigger: Trigger, fireAt: number): Promise<Action | undefined> {
    const store = this.host.store;
    const existing = store.action(trigger, fireAt);
    if (existing) {
      if (trigger === "SCHEDULED") store.advanceCursor(fireAt);
      return existing;
    }
    let c = store.control();
    if (!c) return undefined;
    const jobId = await firingJobId(c.scheduleId, fireAt);
    // A start decided and not yet done is the latest job: busy, without asking a job that may not exist yet.
    const inFlight = store.starting().at(-1);
    const lastJobId = inFlight?.jobId ?? c.lastJobId;
    // ALLOW_ALL without pauseOnFailure needs nothing of the previous job: no call, no added lateness.
    const needsPrevious = c.spec.overlapPolicy !== "ALLOW_ALL" || c.spec.pauseOnFailure;
    const prevStatus = inFlight ? "PENDING" : lastJobId && needsPrevious ? await jobStatus(this.host.env, c.organizationId, lastJobId) : undefined;
    // Read again after the await: an update or a deletion may have come in meanwhile (decisions cannot).
    c = store.control();
    if (!c) return undefined;
    const now = Date.now();
    const d = decideOverlap({
      policy: c.spec.overlapPolicy,
      pauseOnFailure: c.spec.pauseOnFailure,
      ...(lastJobId ? { lastJobId } : {}),
      ...(prevStatus ? { lastJobStatus: prevStatus } : {}),
      waiting: store.waiting(),
    });
    const base = { trigger, fireAt, jobId, actedAt: now };
    const decided: Omit<Action, "seq"> = d.start
      ? { ...base, state: "PENDING", waitForTree: d.waitForTree, ...(d.cancelJobId ? { cancelJobId: d.cancelJobId } : {}), ...(d.waitFor ? { waitFor: d.waitFor } : {}) }
      : { ...base, state: "SKIPPED", waitForTree: false, detail: d.reason };
    const pauseNote = !d.start && d.pause ? d.reason : undefined;
    store.transaction(() => {
      store.addAction(decided);
      if (trigger === "SCHEDULED") store.advanceCursor(fireAt);
      if (decided.state === "SKIPPED") store.countSkipped();
      for (const seq of d.supersede) {
        store.settle(seq, "SKIPPED", `replaced by the firing of ${isoTime(fireAt)}`, now);
        store.countSkipped();
      }
      if (pauseNote) {
        store.setPaused(true, pauseNote, now);
        store.setLastJob(null);
      }
    });
    if (pauseNote) await this.host.syncIndex();
    return store.action(trigger, fireAt);
  }

  /** Cancels what the firing replaces, waits (by returning) while its predecessor runs, then starts its job. */
  async carryOut(a: Action): Promise<void> {
    const inFlight = this.startsInFlight.get(a.seq);
    if (inFlight) return inFlight;
    const ready = await this.serial.run(() => this.readyToStart(a));
    if (!ready || this.startsInFlight.has(ready.seq)) return this.startsInFlight.get(ready?.seq ?? -1);
    const start = this.start(ready).finally(() => this.startsInFlight.delete(ready.seq));
    this.startsInFlight.set(ready.seq, start);
    return start;
  }

  /** Starts a firing's job (marked starting) and records the outcome. */
  private async start(a: Action): Promise<void> {
    const store = this.host.store;
    const c = store.control();
    if (!c) return;
    // The backstop: should this instance die before the start is recorded, the alarm starts it.
    await this.host.armWithin(SCHEDULE_START_BACKSTOP_MS);
    const outcome = await startFiring(this.host.env, c.organizationId, c.scheduleId, c.spec, a.fireAt, a.jobId);
    const now = Date.now();
    store.transaction(() => {
      if (store.action(a.trigger, a.fireAt)?.state !== "PENDING") return;
      if (outcome.ok) {
        store.settle(a.seq, "STARTED", outcome.created ? undefined : "the job already existed", now);
        if (a.trigger !== "BACKFILL") store.setLastJob(a.jobId);
      } else {
        store.settle(a.seq, "NOT_STARTED", outcome.message, now);
      }
    });
    logEvent("schedule.fired", { scheduleId: c.scheduleId, trigger: a.trigger, fireAt: isoTime(a.fireAt), jobId: a.jobId, lateMs: now - a.fireAt, ok: outcome.ok });
  }

  /**
   * One at a time with decisions: the firing as stored now, if it is still to start and nothing is
   * left to wait for; it is then marked starting (busy) before the lock is released.
   */
  private async readyToStart(given: Action): Promise<Action | undefined> {
    const store = this.host.store;
    const c = store.control();
    let a = store.action(given.trigger, given.fireAt);
    // Superseded or settled since it was read.
    if (!c || !a || a.state !== "PENDING" || a.seq !== given.seq) return undefined;
    if (a.cancelJobId) {
      // A job whose own start is in flight cannot be cancelled yet: its start would undo the cancel.
      if (store.unstarted(a.cancelJobId)) return undefined;
      await cancelJob(this.host.env, c.organizationId, a.cancelJobId);
      store.cancelSent(a.seq);
      a = store.action(a.trigger, a.fireAt)!;
    }
    if (a.waitFor) {
      if (store.unstarted(a.waitFor)) return undefined;
      const ended = a.waitForTree ? await treeEnded(this.host.env, c.organizationId, a.waitFor) : !isRunning(await jobStatus(this.host.env, c.organizationId, a.waitFor));
      if (!ended) return undefined;
    }
    a = store.action(a.trigger, a.fireAt);
    if (!a || a.state !== "PENDING") return undefined;
    store.markStarting(a.seq);
    return store.action(a.trigger, a.fireAt);
  }
}
