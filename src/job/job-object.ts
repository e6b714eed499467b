/**
 * JobObject: one Durable Object per job run. It keeps the run's state, history and owed work in
 * its own SQLite, applies events through the pure engine, and carries out the resulting commands
 * from its alarm. Every RPC handler only records facts; all I/O to other objects (the index among them) and to D1 (other
 * than the first index write) happens from the alarm, so call chains between objects stay short.
 */
import { DurableObject } from "cloudflare:workers";
import { decide } from "../engine/decide";
import { newJobState } from "../engine/state";
import { isTerminal } from "../engine/status";
import { measurePayload } from "../engine/payload";
import type { ChildReportFact, Decision, EngineContext, EngineEvent, HistoryItem, JobError, JobState } from "../engine/types";
import type { InheritanceBatch, InheritanceCursor, JobRpc, PurgeAnswer, RetirementStatus, StartJob, StateMetadata, ValueAddress, ValuePage, WorkflowStatePage } from "./messages";
import { INHERITANCE_START, type FirstEvent } from "./inheritance";
import { ApiError, ConflictError, NotFoundError, PayloadTooLargeError, ValidationError, type RpcResult } from "../errors";
import { DEFAULT_HISTORY_ROLLOVER_THRESHOLD, INBOX_BATCH, INBOX_BATCH_BYTES, INHERIT_BATCH_BYTES, MAX_PAYLOAD_BYTES, MAX_INLINE_STEPS_PER_COMMIT, METRICS_MAX_FLUSH_DELAY_MS } from "../limits";
import type { MetricEvent } from "../metrics/types";
import { decisionEvents, jobSubmittedEvents } from "../metrics/job-events";
import { jobFailedNotification } from "../notifications/job-failed";
import { logEvent, logEvents } from "../log";
import { utf8Length } from "../json-size";
import { parsedDefinition } from "./definition-cache";
import { JobStore, StoredValueTooLargeError } from "./store";
import { jobSummary, waitingFor, type JobSummary, type OutputView } from "./views";
import { parsePageToken, StateReader } from "./state-reader";
import { unusedEventsRefusal } from "./event-room";
import { childReport, performWork, type WorkHost } from "./work";
import { jobRunStub } from "./naming";
import { continuedState, ensureNextRun } from "./rollover";
import { Waiters } from "./waiters";
import type { TimeTravelRows } from "./time-travel-rows";
import { isPaused, startedUnderParentPause } from "../engine/pause";
import { planRerun } from "./rerun-source";
import { copyFromSource, rerunRun } from "./rerun-target";
import type { ChildRowCopy, RerunAnswer, RerunMade, RerunRequest, RerunStart, ValueSource } from "./rerun-types";
import { retirePass, type RetireHost } from "./retire";
import { deleteJob, purgeStep, retireForOrganization, retirementStatus, scheduleRetirement } from "./retire-requests";
import type { WorkflowDefinition } from "../definition/schema";
import { owedAudit } from "../audit/record";
import type { AuditAction, AuditActor } from "../audit/types";

/** A pause word whose commit fails goes back to its sender, which tries again; it must not fail a step. */
const CALLER_PAUSE_EVENTS: ReadonlySet<EngineEvent["type"]> = new Set(["pause", "unpause", "parentPause"]);

/** What a run answers to a call it cannot take while it receives its inheritance (a matter of moments). */
const MOVING = "The job is moving to its next run (continueAsNew); try again in a moment.";

function fail<T>(error: ApiError): RpcResult<T> {
  return { ok: false, error: error.toInfo() };
}

/** `fn`'s value, or the ApiError it threw as a value (RPC loses an error's class). */
function asResult<T>(fn: () => T): RpcResult<T> {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    if (e instanceof ApiError) return fail(e);
    throw e;
  }
}

export class JobObject extends DurableObject<Env> implements JobRpc, WorkHost {
  readonly store: JobStore;
  private current: { state: JobState; definition: WorkflowDefinition; definitionText: string } | null = null;
  /** Work items being performed by this instance now (not persisted: a new instance redoes them). */
  readonly inflight = new Set<string>();
  /** GetJob callers waiting for this run to end or hand over (in memory only; see `waitForEnd`). */
  readonly waiters = new Waiters();
  private alarmAt: number | undefined;
  private readonly timeTravel: TimeTravelRows;
  /** The copy that creates this rerun, while it runs: a concurrent call for the same rerun waits for it. */
  private rerunCopy: Promise<RpcResult<{ jobId: string; created: boolean }>> | undefined;
  /**
   * What the deletion of this job's tree needs of the object (retire.ts). Public only because work
   * (WorkHost) hands it on; its functions are closures, not RPC methods.
   */
  readonly retireHost: RetireHost;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // Synchronous SQLite: state is rebuilt before any event is delivered.
    this.store = new JobStore(ctx.storage);
    this.timeTravel = this.store.timeTravel;
    const self = this;
    this.retireHost = {
      get bindings() {
        return self.env;
      },
      get store() {
        return self.store;
      },
      get state() {
        return self.state;
      },
      liveSummary: () => this.#liveSummary(),
      deleteStorage: () => this.#deleteStorage(),
      armRetire: (at) => this.#armRetire(at),
      armAlarm: () => this.armAlarm(),
      cancel: (reason) => {
        if (this.current && !isTerminal(this.current.state.status)) this.apply({ type: "cancel", at: Date.now(), reason });
      },
    };
    const loaded = this.store.load();
    if (loaded) {
      this.current = { state: loaded.state, definition: parsedDefinition(loaded.state.identity.versionId, loaded.definition), definitionText: loaded.definition };
      // An alarm whose retries ran out is gone; work still owed must not wait for a caller.
      void ctx.blockConcurrencyWhile(() => this.rearmIfOwed());
    }
  }

  /** Sets the alarm when work is owed and none is set. */
  private async rearmIfOwed(): Promise<void> {
    if ((await this.ctx.storage.getAlarm()) !== null) return;
    this.alarmAt = undefined;
    if (this.#retiring()) this.#armRetire(Date.now());
    else this.armAlarm();
  }

  get state(): JobState | null {
    return this.current?.state ?? null;
  }

  get bindings(): Env {
    return this.env;
  }

  get definition(): WorkflowDefinition | null {
    return this.current?.definition ?? null;
  }

  private engineContext(): EngineContext {
    const threshold = Number(this.env.HISTORY_ROLLOVER_THRESHOLD) || DEFAULT_HISTORY_ROLLOVER_THRESHOLD;
    return { definition: this.current!.definition, maxInlineSteps: MAX_INLINE_STEPS_PER_COMMIT, rolloverThreshold: threshold };
  }

  /**
   * Runs the engine on one event and commits the outcome with its history and owed work, and
   * `extra`, in one transaction. A decision that cannot be committed (a value too large for a row,
   * a storage error) is never retried as it is, since the work that led to it would run again each
   * time: the step fails with the error instead, for the user to see and resume. An event sent by a
   * caller is the exception: the caller gets the error, and the event was never acknowledged.
   */
  apply(event: EngineEvent, extra?: (decided: Decision) => void, before?: () => void): Decision {
    try {
      return this.commitDecision(event, extra, before);
    } catch (e) {
      logEvent("commit.failed", { jobId: this.state!.identity.jobId, event: event.type, error: String(e) });
      if (event.type === "abort" || event.type === "eventReceived" || CALLER_PAUSE_EVENTS.has(event.type)) throw e;
      const code = e instanceof StoredValueTooLargeError ? e.code : "COMMIT_FAILED";
      return this.apply({ type: "abort", error: { code, message: `The step's outcome could not be stored: ${(e as Error).message}` }, at: event.at }, extra, before);
    }
  }

  /**
   * Decides and commits in one transaction; `before` runs first inside it (a new run's rows, so a
   * run is created and takes its first steps in one durable commit). Throws, changing nothing, if
   * the transaction fails.
   */
  private commitDecision(event: EngineEvent, extra?: (decided: Decision) => void, before?: () => void): Decision {
    const decision = this.store.transaction(() => {
      before?.();
      const prior = this.current!.state;
      const d = decide(this.engineContext(), prior, this.store, event);
      this.store.write(d, event.at);
      this.recordOutcomes(prior, d, event.at);
      extra?.(d);
      return d;
    });
    this.current!.state = decision.state;
    if (isTerminal(decision.state.status) || decision.state.continuedAs) this.waiters.wakeAll();
    const jobId = decision.state.identity.jobId;
    logEvents(decision.commands.flatMap((c) => (c.type === "log" ? [{ event: c.event, fields: { jobId, ...c.fields } }] : [])));
    this.armAlarm();
    return decision;
  }

  /**
   * Inside a decision's transaction: its metric events, kept for the job index, the notification a
   * top-level job's failure raises and a top-level job's retention, owed as work. None waits on
   * another object here.
   */
  private recordOutcomes(prior: JobState, d: Decision, now: number): void {
    const metrics = this.store.metrics;
    const { events, ended } = decisionEvents(prior, d, { unitsMetered: () => metrics.unitsMetered() });
    this.keepMetrics(events, now, d.state);
    // A run that hands over takes no more steps, so no report of a step carries its metrics: they
    // leave now (a child's on one more report of this run, which its parent takes as a stale one).
    if (d.state.continuedAs && !prior.continuedAs && metrics.hasPending()) this.store.queue.owe("metrics", "metrics", now, now);
    if (!ended) return;
    const s = d.state;
    metrics.setUnitsMetered(s.ownUnits + s.priorRunUnits);
    if (s.status === "FAILED" && !s.identity.parentJobId) {
      this.store.queue.enqueue({ id: `alert:job-failed:${s.indexSeq}`, kind: "alert", payload: jobFailedNotification(s), dueAt: now });
    }
    // A top-level job that ends is kept for its organization's retention, then its tree goes (retire.ts).
    if (!s.identity.parentJobId) {
      const finishedAt = s.finishedAt ?? now;
      this.store.queue.enqueue({ id: `retain:${s.indexSeq}`, kind: "retain", payload: { finishedAt, status: s.status }, dueAt: now });
    }
  }

  /** Creates the run's rows and records its submission (inside the caller's transaction). */
  private createRun(state: JobState, init: StartJob, executionData: Record<string, unknown>): void {
    this.store.create(state, init.definition, executionData);
    // A submission is flushed from the first alarm, whatever the job waits for next.
    if (!init.continuation) this.keepMetrics(jobSubmittedEvents(state), Date.now(), state, 0);
  }

  /**
   * Keeps metric events (inside a transaction), `state` being the run as the transaction leaves it:
   * a top-level run that has ended flushes at once (off its caller's path: from the alarm); a child's
   * travel on its reports, and a flush is owed within METRICS_MAX_FLUSH_DELAY_MS only in case no
   * report carries them sooner.
   */
  private keepMetrics(events: MetricEvent[], now: number, state: JobState, maxDelayMs = isTerminal(state.status) && !state.identity.parentJobId ? 0 : METRICS_MAX_FLUSH_DELAY_MS): void {
    this.store.metrics.record(events, now, maxDelayMs);
  }

  /** When the state itself next needs the clock: a retry, a timer or a deadline. */
  private stateWakeAt(): number | undefined {
    const s = this.state;
    // A paused job's timers wait for unpause.
    if (!s || s.status !== "RUNNING" || !s.current || isPaused(s)) return undefined;
    const times: number[] = [];
    const w = s.current.wait;
    if (w?.type === "retry" || w?.type === "timer" || w?.type === "poll") times.push(w.at);
    if (s.current.deadline !== undefined) times.push(s.current.deadline);
    return times.length ? Math.min(...times) : undefined;
  }

  /** Sets the alarm to the earliest of owed work, the state's own wake time, and `also`. */
  armAlarm(also?: number): void {
    // A run whose tree is being deleted does nothing else: its alarm is the deletion's (#armRetire).
    if (this.#retiring()) return;
    const inbox = this.store.queue.hasInbox() ? Date.now() : undefined;
    const candidates = [this.stateWakeAt(), this.store.queue.nextWorkDue(), inbox, also].filter((t): t is number => t !== undefined);
    if (candidates.length === 0) return;
    const at = Math.min(...candidates);
    if (this.alarmAt !== undefined && this.alarmAt <= at) return;
    this.alarmAt = at;
    void this.ctx.storage.setAlarm(at);
  }

  override async alarm(): Promise<void> {
    this.alarmAt = undefined;
    if (this.#retiring()) return retirePass(this.retireHost, Date.now());
    const now = Date.now();
    if (this.current) {
      // Reports are applied without waiting on the index: their index rows are written on their own path.
      const reports = this.store.queue.inbox(INBOX_BATCH, INBOX_BATCH_BYTES);
      if (reports.length > 0) {
        this.apply({ type: "childReports", reports, at: now }, (d) => {
          this.store.queue.settleReports(reports);
          // Reports are kept without their metric events (adopted on receipt); one kept by an
          // older version of the inbox may still carry some.
          this.keepMetrics(reports.flatMap((r) => r.metrics ?? []), now, d.state);
        });
      }
      const wake = this.stateWakeAt();
      if (wake !== undefined && wake <= now) this.apply({ type: "timerFired", at: now });
    }
    await performWork(this, Date.now());
    // Whatever the handler armed while it ran is re-armed now that it is over.
    this.alarmAt = undefined;
    this.armAlarm();
  }

  // ---- RPC: the API and other jobs call these --------------------------------------------------

  /**
   * Creates and starts the run; starting one that exists returns it unchanged. With `reportToCaller`
   * (a parent creating its child), a run that has ended returns its report to its parent: a
   * one-step child is created, runs and reports in one commit, with no alarm of its own.
   */
  async start(init: StartJob): Promise<RpcResult<{ jobId: string; created: boolean; report?: ChildReportFact }>> {
    const jobId = init.identity.jobId;
    if (this.current) return { ok: true, value: { jobId, created: false, ...this.reportForCaller(init) } };
    const now = Date.now();
    const fresh = newJobState(init.identity, now);
    const state = init.continuation ? continuedState(fresh, init.continuation) : startedUnderParentPause(fresh, init.parentPause, this.timeTravel.parentPause());
    const run = { state, definition: parsedDefinition(init.identity.versionId, init.definition), definitionText: init.definition };
    const tombstone = this.store.tombstone();
    const first: FirstEvent = tombstone
      ? { type: "cancel", at: now, reason: JSON.parse(tombstone) as JobError }
      : init.rejectWith
        ? { type: "reject", error: init.rejectWith, at: now }
        : { type: "start", at: now, ...(init.continuation ? { stepName: init.continuation.nextStep } : {}) };
    if (init.continuation) return this.startContinued(init, run, first);
    this.current = run;
    // The report goes back to the caller, so the run owes its parent nothing more.
    const finished = (d: Decision) => {
      if (!init.reportToCaller || !isTerminal(d.state.status)) return;
      this.store.queue.dropWork("notify");
      // Its metrics ride on the same report (sealed here, in the commit): no flush of its own is owed.
      this.store.metrics.seal(Date.now());
      this.store.queue.dropWork("metrics");
    };
    try {
      this.commitDecision(first, finished, () => this.createRun(state, init, init.executionData));
    } catch (e) {
      // The slow path, for a run that could not be created and started in one commit: create it
      // (FAILED, saying why, if its input is too large to store), then start it.
      this.current = null;
      let rejectWith = init.rejectWith;
      try {
        this.store.transaction(() => this.createRun(state, init, init.executionData));
      } catch (tooLarge) {
        if (!(tooLarge instanceof StoredValueTooLargeError)) throw tooLarge;
        this.store.transaction(() => this.createRun(state, init, {}));
        rejectWith = { code: tooLarge.code, message: tooLarge.message };
      }
      this.current = run;
      logEvent("start.slowPath", { jobId, error: String(e) });
      this.apply(tombstone ? first : rejectWith ? { type: "reject", error: rejectWith, at: now } : first, finished);
    }
    // The index rows are written from the alarm: a submitter writes a top-level job's first row
    // itself (src/job/submit.ts), and a parent's children are indexed in batches.
    return { ok: true, value: { jobId, created: true, ...this.reportForCaller(init) } };
  }

  /**
   * Creates a run that continues an earlier one, holding nothing yet: it receives what it inherits
   * in batches from its alarm (the `inherit` work, src/job/work.ts), then applies `first`.
   */
  private startContinued(init: StartJob, run: NonNullable<typeof this.current>, first: FirstEvent): RpcResult<{ jobId: string; created: boolean }> {
    const now = Date.now();
    this.current = run;
    this.store.transaction(() => {
      this.createRun(run.state, init, {});
      const c = init.continuation!;
      // A run that carries everything keeps its start for reruns once it has it all (inheritance.ts).
      const keepStart = c.carry === "all" ? { keepStart: c.previousStepName !== undefined ? { previousStepName: c.previousStepName } : {} } : {};
      this.store.inheritance.setPending({ fromRun: init.identity.runNumber - 1, cursor: INHERITANCE_START, first, ...keepStart });
      this.store.queue.enqueue({ id: "inherit", kind: "inherit", payload: null, dueAt: now });
    });
    this.armAlarm();
    return { ok: true, value: { jobId: init.identity.jobId, created: true } };
  }

  /** Whether this run is still receiving what it inherits: it takes no step, event or resume until it has it. */
  private inheriting(): boolean {
    return this.store.inheritance.pending() !== null;
  }

  /**
   * On a run that has handed over: the next batch of what it passes on (the next run asks, from
   * its alarm). Its rows no longer change, so any batch read again is the same.
   */
  async inheritanceBatch(cursor: InheritanceCursor): Promise<RpcResult<InheritanceBatch>> {
    const s = this.state;
    if (!s?.continuedAs) return this.notFound();
    return { ok: true, value: this.store.bequest.batch(s.continuedAs.carry, cursor, INHERIT_BATCH_BYTES) };
  }

  /** A child's end, for the parent that asked to start it (the parent records it before anything else). */
  private reportForCaller(init: StartJob): { report?: ChildReportFact } {
    const s = this.state;
    if (!init.reportToCaller || !s || !isTerminal(s.status) || s.continuedAs) return {};
    return { report: childReport(this.store, s) };
  }

  /**
   * The run that answers for the job now, when it is not this one: the job's head (run 1) knows
   * the latest run, and a run that has handed over knows its successor (created here if need be).
   */
  private async liveRun(): Promise<DurableObjectStub<JobRpc> | null> {
    const s = this.state!;
    const jobId = s.identity.jobId;
    if (s.identity.runNumber === 1) {
      const latest = this.store.currentRun();
      if (latest > 1) return jobRunStub(this.env, jobId, latest);
    }
    if (!s.continuedAs) return null;
    return jobRunStub(this.env, jobId, await this.rollOver());
  }

  /** Creates the next run of a run that has handed over, and points the head at it. */
  async rollOver(): Promise<number> {
    return ensureNextRun(this.env, this.state!, this.current!.definitionText, (run) => this.followRun(run));
  }

  /** On the head: remember the job's latest run (runs only ever grow). */
  async followRun(runNumber: number): Promise<void> {
    if (runNumber > this.store.currentRun()) this.store.setCurrentRun(runNumber);
  }

  /** After the retention period, an old run drops what it kept for reading its history. */
  async purgeRun(): Promise<void> {
    const s = this.state;
    if (!s?.continuedAs) return;
    if (s.identity.runNumber === 1) {
      // The head keeps its identity and its pointer to the latest run: the API finds the job through it.
      this.store.dropHistory();
      return;
    }
    this.current = null;
    await this.ctx.storage.deleteAll();
    // The object may be called again (a stale request): it then finds an empty, well-formed store.
    this.store.reinitialize();
  }

  /** The run, if it belongs to this organization and its tree is not being deleted here. */
  private owned(organizationId: string): JobState | null {
    const s = this.state;
    return s && s.identity.organizationId === organizationId && !this.#retiring() ? s : null;
  }

  /**
   * The run as the API may see it: owned, and, for a child's head, only while its root's tree is
   * not being deleted (the root is asked: from DeleteJob on, nothing of the tree is readable).
   * A later run is reached only through its head, which asked.
   */
  private async visible(organizationId: string): Promise<JobState | null> {
    const s = this.owned(organizationId);
    if (!s) return null;
    const id = s.identity;
    if (id.rootJobId === id.jobId || id.runNumber !== 1) return s;
    const live = await jobRunStub(this.env, id.rootJobId).rootLive(organizationId);
    return live ? this.owned(organizationId) : null;
  }

  private notFound<T>(): RpcResult<T> {
    return fail(new NotFoundError("The job was not found."));
  }

  /** The job's summary, if it belongs to this organization; without its output when `withOutput` is false. */
  async describe(organizationId: string, withOutput = true): Promise<RpcResult<JobSummary>> {
    const s = await this.visible(organizationId);
    if (!s) return this.notFound();
    const live = await this.liveRun();
    if (live) return (await live.describe(organizationId, withOutput)) as RpcResult<JobSummary>;
    // A run receiving its inheritance has not taken its first step, but the job it continues runs on.
    const shown = s.status === "PENDING" && this.inheriting() ? { ...s, status: "RUNNING" as const } : s;
    const summary = jobSummary(shown, withOutput ? this.outputView(s) : undefined);
    const waiting = waitingFor(shown, this.current!.definition, (eventId) => this.store.event(eventId)?.consumed === false);
    return { ok: true, value: waiting ? { ...summary, waitingFor: waiting } : summary };
  }

  /**
   * A SUCCEEDED run's output as GetJob shows it: the value when it is at most MAX_PAYLOAD_BYTES (a
   * plain output always is), else where to read it page by page (a runChildJob step's results).
   */
  private outputView(s: JobState): OutputView | undefined {
    if (s.status !== "SUCCEEDED" || !s.outputKey) return undefined;
    const read = new StateReader(this.store).valueWithin(s.outputKey, MAX_PAYLOAD_BYTES);
    if (!read) return undefined;
    if ("value" in read) return { output: read.value };
    const { organizationId, jobId, runNumber } = s.identity;
    const path = `/organizations/${organizationId}/jobs/${jobId}/state/data/${encodeURIComponent(s.outputKey)}?runNumber=${runNumber}`;
    return { outputTooLarge: { bytes: read.tooLarge, executionDataKey: s.outputKey, read: path } };
  }

  /**
   * The job's summary once it has ended, or after `seconds` as it is then (GetJob's
   * `waitForTerminalSeconds`). The commit that ends this run, or hands it over, wakes the waiter; a
   * run that has handed over passes the time left to the live run. Waiters live in memory only: an
   * eviction fails this call, and the API then answers as a plain GetJob.
   */
  async waitForEnd(organizationId: string, seconds: number): Promise<RpcResult<JobSummary>> {
    const until = Date.now() + seconds * 1000;
    if (!(await this.visible(organizationId))) return this.notFound();
    for (;;) {
      const s = this.owned(organizationId);
      if (!s) return this.notFound();
      if (isTerminal(s.status) || Date.now() >= until) return this.describe(organizationId);
      if (s.continuedAs) {
        const live = (await this.liveRun())!;
        return (await live.waitForEnd(organizationId, Math.max(0, until - Date.now()) / 1000)) as RpcResult<JobSummary>;
      }
      // Nothing was awaited since the state was read, so no commit can slip between it and the wait.
      if (!(await this.waiters.wait(until - Date.now()))) return this.describe(organizationId);
    }
  }

  async cancel(organizationId: string, actor?: AuditActor): Promise<RpcResult<{ jobId: string }>> {
    const s = await this.visible(organizationId);
    if (!s) return this.notFound();
    const live = await this.liveRun();
    if (live) return live.cancel(organizationId, actor);
    if (isTerminal(s.status)) return fail(new ConflictError(`The job is ${s.status} and cannot be cancelled.`));
    const at = Date.now();
    this.apply({ type: "cancel", at }, () => this.oweAudit(actor, "job.cancel", at));
    return { ok: true, value: { jobId: s.identity.jobId } };
  }

  async resume(organizationId: string, actor?: AuditActor): Promise<RpcResult<{ jobId: string }>> {
    const s = await this.visible(organizationId);
    if (!s) return this.notFound();
    const live = await this.liveRun();
    if (live) return live.resume(organizationId, actor);
    if (s.status !== "FAILED" && s.status !== "CANCELLED") {
      return fail(new ConflictError(`Only a FAILED or CANCELLED job can be resumed; this one is ${s.status}.`));
    }
    if (this.inheriting()) return fail(new ConflictError(MOVING));
    const at = Date.now();
    this.apply({ type: "resume", at }, () => this.oweAudit(actor, "job.resume", at));
    return { ok: true, value: { jobId: s.identity.jobId } };
  }

  /**
   * Inside the transaction of an action on the job: its audit entry, owed as work that the alarm
   * delivers (src/audit/record.ts), so the entry exists exactly when the action committed. Pause,
   * unpause and the like call this the same way.
   */
  private oweAudit(actor: AuditActor | undefined, action: AuditAction, at: number): void {
    if (!actor) return;
    const s = this.state!;
    const owed = owedAudit(s.identity.organizationId, { actor, action, target: { type: "job", id: s.identity.jobId }, at });
    this.store.queue.enqueue({ id: owed.id, kind: "audit", payload: owed.payload, dueAt: at });
  }

  /** PauseJob: refused (409) on a job that has ended. */
  async pause(organizationId: string, actor?: AuditActor): Promise<RpcResult<{ jobId: string; paused: boolean }>> {
    if (!(await this.visible(organizationId))) return this.notFound();
    const live = await this.liveRun();
    if (live) return live.pause(organizationId, actor);
    const s = this.state!;
    if (isTerminal(s.status)) return fail(new ConflictError(`The job is ${s.status}; only a job that has not ended can be paused.`));
    const at = Date.now();
    const d = this.apply({ type: "pause", at }, () => this.oweAudit(actor, "job.pause", at));
    return { ok: true, value: { jobId: s.identity.jobId, paused: isPaused(d.state) } };
  }

  /** UnpauseJob: lifts the job's own pause (a paused ancestor still holds it: `paused` says so). */
  async unpause(organizationId: string, actor?: AuditActor): Promise<RpcResult<{ jobId: string; paused: boolean }>> {
    if (!(await this.visible(organizationId))) return this.notFound();
    const live = await this.liveRun();
    if (live) return live.unpause(organizationId, actor);
    const s = this.state!;
    const at = Date.now();
    const paused = s.pause?.self
      ? isPaused(this.apply({ type: "unpause", at }, () => this.oweAudit(actor, "job.unpause", at)).state)
      : isPaused(s) && !isTerminal(s.status);
    return { ok: true, value: { jobId: s.identity.jobId, paused } };
  }

  /** The parent's pause changed. A word that overtakes the child's start is kept for it. */
  async pauseFromParent(paused: boolean, seq: number): Promise<{ ok: true }> {
    if (!this.current) {
      this.timeTravel.keepParentPause({ paused, seq });
      return { ok: true };
    }
    const live = await this.liveRun();
    if (live) return live.pauseFromParent(paused, seq);
    this.apply({ type: "parentPause", paused, seq, at: Date.now() });
    return { ok: true };
  }

  // ---- RerunJob (src/job/rerun.ts): on the source, then on the new job ----------------------------

  /** On the source: the plan of a rerun of the job's latest run (its checks, and where each value is). */
  async planRerun(organizationId: string, request: RerunRequest): Promise<RpcResult<RerunAnswer>> {
    if (!(await this.visible(organizationId))) return this.notFound();
    const live = await this.liveRun();
    if (live) return (await live.planRerun(organizationId, request)) as RpcResult<RerunAnswer>;
    // A run still receiving its inheritance has not got the data a rerun would copy.
    if (this.inheriting()) return fail(new ConflictError(MOVING));
    return asResult(() => planRerun({ state: this.state!, definition: this.current!.definition, store: this.store, rows: this.timeTravel }, request));
  }

  /** On the source run: the JSON texts at these places (a page of a rerun's copy). */
  async rerunValues(organizationId: string, sources: ValueSource[]): Promise<RpcResult<string[]>> {
    if (!this.owned(organizationId)) return this.notFound();
    const texts = sources.map((from) => this.timeTravel.readValue(from));
    if (texts.some((t) => t === undefined)) return fail(new ConflictError("The job changed while a rerun copied it; rerun it again."));
    return { ok: true, value: texts as string[] };
  }

  /** On the source run: a range of a step attempt's child rows (a page of a rerun's copy). */
  async rerunChildRows(organizationId: string, range: { stepName: string; attempt: number; fromIndex: number; toIndex: number }): Promise<RpcResult<ChildRowCopy[]>> {
    if (!this.owned(organizationId)) return this.notFound();
    return { ok: true, value: this.store.childRows.copyRows(range.stepName, range.attempt, range.fromIndex, range.toIndex) };
  }

  /**
   * On the new job: copies the plan's data from the source, then creates the run and starts it at
   * the plan's step, in one commit. A rerun that exists is returned as it is.
   */
  async startRerun(init: RerunStart): Promise<RpcResult<{ jobId: string; created: boolean }>> {
    if (this.current) return { ok: true, value: { jobId: init.identity.jobId, created: false } };
    this.rerunCopy ??= this.createRerun(init).finally(() => (this.rerunCopy = undefined));
    return this.rerunCopy;
  }

  private async createRerun(init: RerunStart): Promise<RpcResult<{ jobId: string; created: boolean }>> {
    const jobId = init.identity.jobId;
    try {
      await copyFromSource(this.env, this.timeTravel, init);
    } catch (e) {
      if (e instanceof ApiError) return fail(e);
      throw e;
    }
    if (this.current) return { ok: true, value: { jobId, created: false } };
    const now = Date.now();
    const { state, start, tellSource } = rerunRun(init, now);
    this.current = { state, definition: parsedDefinition(init.identity.versionId, init.definition), definitionText: init.definition };
    try {
      this.commitDecision({ type: "start", at: now }, undefined, () => {
        this.createRun(state, start, start.executionData);
        // What the rerun starts with, so that a rerun of the rerun can rebuild its data too.
        this.timeTravel.keepStartData(init.plan.previousStepName);
        this.store.queue.enqueue(tellSource);
      });
    } catch (e) {
      this.current = null;
      throw e;
    }
    return { ok: true, value: { jobId, created: true } };
  }

  /** On the source run: a rerun of it was made (RerunJobs reruns that one rather than this). */
  async rerunMade(organizationId: string, made: RerunMade): Promise<{ ok: true }> {
    if (this.owned(organizationId)) this.timeTravel.keepRerunMade(made);
    return { ok: true };
  }

  /** Records an event once; one that arrives before its wait is kept for it. */
  async sendEvent(organizationId: string, eventId: string, payload: unknown): Promise<RpcResult<{ jobId: string; eventId: string; duplicate: boolean }>> {
    const s = await this.visible(organizationId);
    if (!s) return this.notFound();
    const live = await this.liveRun();
    if (live) return live.sendEvent(organizationId, eventId, payload);
    // Its unused events are on their way from the run before: a duplicate could not be told yet.
    if (this.inheriting()) return fail(new ConflictError(MOVING));
    const duplicate = this.store.event(eventId) !== undefined;
    if (!duplicate) {
      const measured = measurePayload(payload, "The event payload");
      if (!measured.ok) return fail(new PayloadTooLargeError(measured.error.message));
      const full = this.tooManyUnusedEvents(s, eventId, measured.json === undefined ? 4 : utf8Length(measured.json));
      if (full) return fail(new ConflictError(full));
      this.apply({ type: "eventReceived", eventId, payload, at: Date.now() });
    }
    return { ok: true, value: { jobId: s.identity.jobId, eventId, duplicate } };
  }

  /** Why an event `eventId` of `bytes` bytes cannot be kept now (see event-room.ts). */
  private tooManyUnusedEvents(s: JobState, eventId: string, bytes: number): string | undefined {
    const wait = s.current?.wait;
    const waitedFor = s.status === "RUNNING" && wait?.type === "events" && wait.eventIds.includes(eventId);
    return unusedEventsRefusal(this.store.unusedEvents(), bytes, waitedFor);
  }

  /** GetWorkflowState: a page of the live run's state, or of run `runNumber` while it is kept. */
  async getState(organizationId: string, runNumber?: number, pageToken?: string): Promise<RpcResult<WorkflowStatePage>> {
    const after = parsePageToken(pageToken);
    if (after === null) return fail(new ValidationError("pageToken is not one this API gave.", ["pageToken: not a page token"]));
    return this.onRun(organizationId, runNumber, (stub) => stub.getState(organizationId, runNumber, pageToken), (s) =>
      new StateReader(this.store).statePage(s, after, { organizationId, jobId: s.identity.jobId, runNumber: s.identity.runNumber }),
    );
  }

  /** GetExecutionDataValue: one value of the live run (or of run `runNumber`), whole or a page of it. */
  async readValue(organizationId: string, runNumber: number | undefined, what: ValueAddress, pageToken?: string): Promise<RpcResult<ValuePage>> {
    const from = parsePageToken(pageToken);
    if (from === null) return fail(new ValidationError("pageToken is not one this API gave.", ["pageToken: not a page token"]));
    const result = await this.onRun(organizationId, runNumber, (stub) => stub.readValue(organizationId, runNumber, what, pageToken), () => {
      const reader = new StateReader(this.store);
      return "key" in what ? reader.dataValue(what.key, from) : reader.historyValue(what.historyItemId, what.part, from);
    });
    if (result.ok && result.value === undefined) return this.notFound();
    return result as RpcResult<ValuePage>;
  }

  /** GetWorkflowStateMetadata, plus (extensions) the run's number, history size and storage bytes. */
  async getStateMetadata(organizationId: string, runNumber?: number): Promise<RpcResult<StateMetadata>> {
    return this.onRun(organizationId, runNumber, (stub) => stub.getStateMetadata(organizationId, runNumber), (s) => ({
      // Summed from stored sizes: the whole state is never assembled to be measured.
      contentLengthBytes: new StateReader(this.store).stateBytes(s),
      runNumber: s.identity.runNumber,
      historyItems: s.historyCount,
      storageBytes: this.store.databaseSize(),
    }));
  }

  /**
   * Answers from the live run, or from run `runNumber`: other runs are reached through the head,
   * which knows them all. `local` reads this run's state.
   */
  private async onRun<T>(
    organizationId: string,
    runNumber: number | undefined,
    remote: (stub: DurableObjectStub<JobRpc>) => Promise<unknown>,
    local: (s: JobState) => T,
  ): Promise<RpcResult<T>> {
    const s = await this.visible(organizationId);
    if (!s) return this.notFound();
    if (runNumber === undefined) {
      const live = await this.liveRun();
      if (live) return (await remote(live)) as RpcResult<T>;
    } else if (runNumber !== s.identity.runNumber) {
      if (s.identity.runNumber !== 1 || runNumber < 1) return this.notFound();
      return (await remote(jobRunStub(this.env, s.identity.jobId, runNumber))) as RpcResult<T>;
    }
    return { ok: true, value: local(s) };
  }

  /**
   * A child's report (from the child's alarm). Kept in the inbox and applied from the alarm in
   * batches; the engine records each child's outcome once, so a duplicate changes nothing.
   */
  async receiveChildReport(report: ChildReportFact): Promise<{ ok: true }> {
    if (!this.current) return { ok: true };
    const now = Date.now();
    this.store.transaction(() => this.takeReports([report], now));
    this.armAlarm(now);
    return { ok: true };
  }

  /**
   * Inside a transaction: keeps children's reports in the inbox for the alarm, and adopts the metric
   * flushes they carry at once, each key once (metrics-outbox.ts), so the child may forget them as
   * soon as this returns (a later report that replaces an unapplied one cannot take them along). A
   * report from a child still on the version before flushes carries raw events: kept as this run's own.
   */
  takeReports(reports: ChildReportFact[], now: number): void {
    this.store.queue.receiveReports(reports);
    this.store.metrics.adopt(reports.flatMap((r) => r.metricFlushes ?? []), now, METRICS_MAX_FLUSH_DELAY_MS);
    this.keepMetrics(reports.flatMap((r) => r.metrics ?? []), now, this.current!.state);
  }

  /** The parent was cancelled: cancel this job (and, through it, its own children). */
  async cancelFromParent(reason: JobError): Promise<{ ok: true }> {
    if (!this.current) {
      // The cancel overtook the start: remember it, and the job is created cancelled.
      this.store.setTombstone(JSON.stringify(reason));
      return { ok: true };
    }
    // A child that continued as new is cancelled in its live run.
    const live = await this.liveRun();
    if (live) return live.cancelFromParent(reason);
    if (!isTerminal(this.current.state.status)) this.apply({ type: "cancel", at: Date.now(), reason });
    return { ok: true };
  }

  /**
   * A resource pool offers the lease the job waits for (`granted`), or asks whether the job still
   * wants the lease or queue place it keeps for it. `keep: false` (the job ended, or moved on to a
   * later round) frees it. Idempotent: a grant already recorded is simply kept.
   */
  async offerLease(poolId: string, epoch: number, granted: boolean): Promise<{ keep: boolean }> {
    const s = this.state;
    if (!s) return { keep: false };
    const live = await this.liveRun();
    if (live) return live.offerLease(poolId, epoch, granted);
    const index = (s.identity.resourcePoolIds ?? []).indexOf(poolId);
    const a = s.admission;
    if (!a || a.epoch !== epoch || index < 0 || index > a.held || isTerminal(s.status)) return { keep: false };
    if (index === a.held && granted) this.apply({ type: "leaseGranted", poolId, epoch, at: Date.now() });
    return { keep: true };
  }

  /**
   * The first page of the run's history, as GetWorkflowState shows it. Public only for tests, which
   * read it inside the object; it is not part of JobRpc.
   */
  history(): HistoryItem[] {
    const s = this.state;
    if (!s) return [];
    return new StateReader(this.store).statePage(s, 0, { organizationId: s.identity.organizationId, jobId: s.identity.jobId, runNumber: s.identity.runNumber }).state.executionHistory;
  }

  // ---- retention and deletion (retire.ts) ------------------------------------------------------

  #retiring(): boolean {
    return this.store.retire.row() !== null;
  }

  #armRetire(at: number): void {
    this.alarmAt = at;
    void this.ctx.storage.setAlarm(at);
  }

  /** The job's summary from its live run (this one, or its latest run), whatever the deletion's state. */
  async #liveSummary(): Promise<JobSummary | null> {
    const s = this.state;
    if (!s) return null;
    if (s.identity.runNumber === 1 && this.store.currentRun() > 1) {
      const live = (await jobRunStub(this.env, s.identity.jobId, this.store.currentRun()).describe(s.identity.organizationId, false)) as RpcResult<JobSummary>;
      return live.ok ? live.value : null;
    }
    return jobSummary(s);
  }

  /** Deletes this object's storage and alarm: a later call finds an empty, well-formed store. */
  async #deleteStorage(): Promise<void> {
    this.current = null;
    this.waiters.wakeAll();
    await this.ctx.storage.deleteAll();
    // deleteAll deletes the alarm too from compatibility date 2026-02-24 on; said again, so no alarm outlives the data.
    await this.ctx.storage.deleteAlarm();
    this.alarmAt = undefined;
    this.store.reinitialize();
  }

  async deleteJob(organizationId: string): Promise<RpcResult<{ jobId: string }>> {
    return deleteJob(this.retireHost, (org) => this.owned(org), organizationId);
  }

  async retireForOrganization(organizationId: string): Promise<{ retiring: boolean }> {
    return retireForOrganization(this.retireHost, organizationId);
  }

  async scheduleRetirement(organizationId: string, finishedAt: number, deleteAt: number): Promise<void> {
    scheduleRetirement(this.retireHost, organizationId, finishedAt, deleteAt);
  }

  async rootLive(organizationId: string): Promise<boolean> {
    return this.owned(organizationId) !== null;
  }

  async purgeStep(organizationId: string, rootJobId: string, after: string, runsKnown: number): Promise<PurgeAnswer> {
    return purgeStep(this.retireHost, organizationId, rootJobId, after, runsKnown);
  }

  async retirement(): Promise<RetirementStatus | null> {
    return retirementStatus(this.retireHost);
  }
}
