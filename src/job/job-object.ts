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
import type { ChildReportFact, Decision, EngineContext, EngineEvent, HistoryItem, JobError, JobState, ReceivedEvent } from "../engine/types";
import type { JobRpc, PurgeAnswer, RetirementStatus, StartJob, StateMetadata } from "./messages";
import { ConflictError, NotFoundError, PayloadTooLargeError, type ApiError, type RpcResult } from "../errors";
import { DEFAULT_HISTORY_ROLLOVER_THRESHOLD, INBOX_BATCH, MAX_INLINE_STEPS_PER_COMMIT, METRICS_MAX_FLUSH_DELAY_MS } from "../limits";
import type { MetricEvent } from "../metrics/types";
import { decisionEvents, jobSubmittedEvents } from "../metrics/job-events";
import { jobFailedNotification } from "../notifications/job-failed";
import { logEvent, logEvents } from "../log";
import { parsedDefinition } from "./definition-cache";
import { JobStore, StoredValueTooLargeError } from "./store";
import { jobSummary, workflowStateView, type JobSummary, type WorkflowStateView } from "./views";
import { childReport, performWork, type WorkHost } from "./work";
import { jobRunStub } from "./naming";
import { continuedState, ensureNextRun } from "./rollover";
import { Waiters } from "./waiters";
import { retirePass, type RetireHost } from "./retire";
import { deleteJob, purgeStep, retireForOrganization, retirementStatus, scheduleRetirement } from "./retire-requests";
import type { WorkflowDefinition } from "../definition/schema";

function fail<T>(error: ApiError): RpcResult<T> {
  return { ok: false, error: error.toInfo() };
}

export class JobObject extends DurableObject<Env> implements JobRpc, WorkHost {
  readonly store: JobStore;
  private current: { state: JobState; definition: WorkflowDefinition; definitionText: string } | null = null;
  /** Work items being performed by this instance now (not persisted: a new instance redoes them). */
  readonly inflight = new Set<string>();
  /** GetJob callers waiting for this run to end or hand over (in memory only; see `waitForEnd`). */
  readonly waiters = new Waiters();
  private alarmAt: number | undefined;
  /**
   * What the deletion of this job's tree needs of the object (retire.ts). Public only because work
   * (WorkHost) hands it on; its functions are closures, not RPC methods.
   */
  readonly retireHost: RetireHost;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // Synchronous SQLite: state is rebuilt before any event is delivered.
    this.store = new JobStore(ctx.storage);
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
  apply(event: EngineEvent, extra?: (decided: Decision) => void): Decision {
    try {
      return this.commitDecision(event, extra);
    } catch (e) {
      logEvent("commit.failed", { jobId: this.state!.identity.jobId, event: event.type, error: String(e) });
      if (event.type === "abort" || event.type === "eventReceived") throw e;
      const code = e instanceof StoredValueTooLargeError ? e.code : "COMMIT_FAILED";
      return this.apply({ type: "abort", error: { code, message: `The step's outcome could not be stored: ${(e as Error).message}` }, at: event.at }, extra);
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
   * Inside a decision's transaction: its metric events, kept for D1, and the notification a
   * top-level job's failure raises, owed as work. Neither waits on D1 here.
   */
  private recordOutcomes(prior: JobState, d: Decision, now: number): void {
    const metrics = this.store.metrics;
    const { events, ended } = decisionEvents(prior, d, { unitsMetered: () => metrics.unitsMetered() });
    this.keepMetrics(events, now, d.state);
    // A run that hands over reports no more: what it kept for its reports is flushed by itself.
    if (d.state.continuedAs && !prior.continuedAs && metrics.hasPending()) {
      this.store.queue.enqueue({ id: "metrics", kind: "metrics", payload: null, dueAt: now, coalesce: true });
    }
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
  private createRun(state: JobState, init: StartJob, executionData: Record<string, unknown>, events: [string, ReceivedEvent][]): void {
    this.store.create(state, init.definition, executionData, events);
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
    if (!s || s.status !== "RUNNING" || !s.current) return undefined;
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
      const reports = this.store.queue.inbox(INBOX_BATCH);
      if (reports.length > 0) {
        this.apply({ type: "childReports", reports, at: now }, (d) => {
          this.store.queue.settleReports(reports);
          // The children's metric events become this run's own, written with them.
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
    const state = init.continuation ? continuedState(fresh, init.continuation) : fresh;
    const run = { state, definition: parsedDefinition(init.identity.versionId, init.definition), definitionText: init.definition };
    const tombstone = this.store.tombstone();
    const first: EngineEvent = tombstone
      ? { type: "cancel", at: now, reason: JSON.parse(tombstone) as JobError }
      : init.rejectWith
        ? { type: "reject", error: init.rejectWith, at: now }
        : { type: "start", at: now, ...(init.continuation ? { stepName: init.continuation.nextStep } : {}) };
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
      this.commitDecision(first, finished, () => this.createRun(state, init, init.executionData, init.events ?? []));
    } catch (e) {
      // The slow path, for a run that could not be created and started in one commit: create it
      // (FAILED, saying why, if what it inherits is too large to store), then start it.
      this.current = null;
      let rejectWith = init.rejectWith;
      try {
        this.store.transaction(() => this.createRun(state, init, init.executionData, init.events ?? []));
      } catch (tooLarge) {
        if (!(tooLarge instanceof StoredValueTooLargeError)) throw tooLarge;
        this.store.transaction(() => this.createRun(state, init, {}, []));
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
    return ensureNextRun(this.env, this.state!, this.current!.definitionText, this.store, (run) => this.followRun(run));
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

  /** The job's summary, if it belongs to this organization. */
  async describe(organizationId: string): Promise<RpcResult<JobSummary>> {
    const s = await this.visible(organizationId);
    if (!s) return this.notFound();
    const live = await this.liveRun();
    if (live) return (await live.describe(organizationId)) as RpcResult<JobSummary>;
    return { ok: true, value: jobSummary(s, s.outputKey ? this.store.value(s.outputKey) : undefined) };
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

  async cancel(organizationId: string): Promise<RpcResult<{ jobId: string }>> {
    const s = await this.visible(organizationId);
    if (!s) return this.notFound();
    const live = await this.liveRun();
    if (live) return live.cancel(organizationId);
    if (isTerminal(s.status)) return fail(new ConflictError(`The job is ${s.status} and cannot be cancelled.`));
    this.apply({ type: "cancel", at: Date.now() });
    return { ok: true, value: { jobId: s.identity.jobId } };
  }

  async resume(organizationId: string): Promise<RpcResult<{ jobId: string }>> {
    const s = await this.visible(organizationId);
    if (!s) return this.notFound();
    const live = await this.liveRun();
    if (live) return live.resume(organizationId);
    if (s.status !== "FAILED" && s.status !== "CANCELLED") {
      return fail(new ConflictError(`Only a FAILED or CANCELLED job can be resumed; this one is ${s.status}.`));
    }
    this.apply({ type: "resume", at: Date.now() });
    return { ok: true, value: { jobId: s.identity.jobId } };
  }

  /** Records an event once; one that arrives before its wait is kept for it. */
  async sendEvent(organizationId: string, eventId: string, payload: unknown): Promise<RpcResult<{ jobId: string; eventId: string; duplicate: boolean }>> {
    const s = await this.visible(organizationId);
    if (!s) return this.notFound();
    const live = await this.liveRun();
    if (live) return live.sendEvent(organizationId, eventId, payload);
    const duplicate = this.store.event(eventId) !== undefined;
    if (!duplicate) {
      const measured = measurePayload(payload, "The event payload");
      if (!measured.ok) return fail(new PayloadTooLargeError(measured.error.message));
      this.apply({ type: "eventReceived", eventId, payload, at: Date.now() });
    }
    return { ok: true, value: { jobId: s.identity.jobId, eventId, duplicate } };
  }

  /** The workflow state of the live run, or of run `runNumber` while it is kept. */
  async getState(organizationId: string, runNumber?: number): Promise<RpcResult<{ state: WorkflowStateView }>> {
    return this.onRun(organizationId, runNumber, (stub) => stub.getState(organizationId, runNumber), (s) => ({
      state: this.stateView(s),
    }));
  }

  /** GetWorkflowStateMetadata, plus (extensions) the run's number, history size and storage bytes. */
  async getStateMetadata(organizationId: string, runNumber?: number): Promise<RpcResult<StateMetadata>> {
    return this.onRun(organizationId, runNumber, (stub) => stub.getStateMetadata(organizationId, runNumber), (s) => {
      const body = JSON.stringify({ state: this.stateView(s) });
      return {
        contentLengthBytes: new TextEncoder().encode(body).byteLength,
        runNumber: s.identity.runNumber,
        historyItems: s.historyCount,
        storageBytes: this.store.databaseSize(),
      };
    });
  }

  private stateView(s: JobState): WorkflowStateView {
    return workflowStateView(s, this.store.executionData(), this.store.history());
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
    this.store.queue.receiveReport(report);
    this.armAlarm(Date.now());
    return { ok: true };
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

  /** The run's history (used by GetWorkflowState). */
  history(): HistoryItem[] {
    return this.store.history();
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
      const live = (await jobRunStub(this.env, s.identity.jobId, this.store.currentRun()).describe(s.identity.organizationId)) as RpcResult<JobSummary>;
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
