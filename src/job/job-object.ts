/**
 * JobObject: one Durable Object per job run. It keeps the run's state, history and owed work in
 * its own SQLite, applies events through the pure engine, and carries out the resulting commands
 * from its alarm. Every RPC handler only records facts; all I/O to other objects and to D1 (other
 * than the first index write) happens from the alarm, so call chains between objects stay short.
 */
import { DurableObject } from "cloudflare:workers";
import { decide } from "../engine/decide";
import { newJobState } from "../engine/state";
import { isTerminal } from "../engine/status";
import type { ChildReportFact, Decision, EngineContext, EngineEvent, HistoryItem, JobError, JobIdentity, JobState } from "../engine/types";
import { ConflictError, NotFoundError, type ApiError, type RpcResult } from "../errors";
import { DEFAULT_HISTORY_ROLLOVER_THRESHOLD, INBOX_BATCH, MAX_INLINE_STEPS_PER_COMMIT } from "../limits";
import { logEvent } from "../log";
import { parsedDefinition } from "./definition-cache";
import { JobStore } from "./store";
import { jobSummary, workflowStateView, type JobSummary } from "./views";
import { performWork, type WorkHost } from "./work";
import type { WorkflowDefinition } from "../definition/schema";

/** What creates a job run. */
export interface StartJob {
  identity: JobIdentity;
  /** The definition text of the pinned version. */
  definition: string;
  executionData: Record<string, unknown>;
  /** Create the job already FAILED with this error (a child whose input is invalid). */
  rejectWith?: JobError;
}

function fail<T>(error: ApiError): RpcResult<T> {
  return { ok: false, error: error.toInfo() };
}

export class JobObject extends DurableObject<Env> implements WorkHost {
  readonly store: JobStore;
  private current: { state: JobState; definition: WorkflowDefinition } | null = null;
  /** Work items being performed by this instance now (not persisted: a new instance redoes them). */
  readonly inflight = new Set<string>();
  private alarmAt: number | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // Synchronous SQLite: state is rebuilt before any event is delivered.
    this.store = new JobStore(ctx.storage);
    const loaded = this.store.load();
    if (loaded) this.current = { state: loaded.state, definition: parsedDefinition(loaded.state.identity.versionId, loaded.definition) };
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

  /** Runs the engine on one event and commits the outcome with its history and owed work. */
  apply(event: EngineEvent, extra?: () => void): Decision {
    const decision = decide(this.engineContext(), this.current!.state, event);
    this.store.commit(decision.state, decision.history, decision.commands, event.at, extra);
    this.current!.state = decision.state;
    for (const c of decision.commands) {
      if (c.type === "log") logEvent(c.event, { jobId: decision.state.identity.jobId, ...c.fields });
    }
    this.armAlarm();
    return decision;
  }

  /** When the state itself next needs the clock: a retry, a timer or a deadline. */
  private stateWakeAt(): number | undefined {
    const s = this.state;
    if (!s || s.status !== "RUNNING" || !s.current) return undefined;
    const times: number[] = [];
    const w = s.current.wait;
    if (w?.type === "retry" || w?.type === "timer") times.push(w.at);
    if (s.current.deadline !== undefined) times.push(s.current.deadline);
    return times.length ? Math.min(...times) : undefined;
  }

  /** Sets the alarm to the earliest of owed work, the state's own wake time, and `also`. */
  armAlarm(also?: number): void {
    const candidates = [this.stateWakeAt(), this.store.nextWorkDue(), also].filter((t): t is number => t !== undefined);
    if (candidates.length === 0) return;
    const at = Math.min(...candidates);
    if (this.alarmAt !== undefined && this.alarmAt <= at) return;
    this.alarmAt = at;
    void this.ctx.storage.setAlarm(at);
  }

  override async alarm(): Promise<void> {
    this.alarmAt = undefined;
    const now = Date.now();
    if (this.current) {
      const reports = this.store.inbox(INBOX_BATCH);
      if (reports.length > 0) {
        this.apply({ type: "childReports", reports, at: now }, () => this.store.clearInbox(reports));
        if (reports.length === INBOX_BATCH) this.armAlarm(now);
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

  /** Creates and starts the run; starting one that exists returns it unchanged. */
  async start(init: StartJob): Promise<RpcResult<{ jobId: string; created: boolean }>> {
    const jobId = init.identity.jobId;
    if (this.current) return { ok: true, value: { jobId, created: false } };
    const now = Date.now();
    const state = newJobState(init.identity, init.executionData, now);
    this.store.create(state, init.definition);
    this.current = { state, definition: parsedDefinition(init.identity.versionId, init.definition) };
    const tombstone = this.store.tombstone();
    if (tombstone) this.apply({ type: "cancel", at: now, reason: JSON.parse(tombstone) as JobError });
    else if (init.rejectWith) this.apply({ type: "reject", error: init.rejectWith, at: now });
    else this.apply({ type: "start", at: now });
    // A submitted job's first index write is awaited, so it is listable as soon as SubmitJob
    // answers. A child's is left to its alarm: the parent starting a batch need not wait on D1.
    if (!init.identity.parentJobId) await performWork(this, now, "index");
    return { ok: true, value: { jobId, created: true } };
  }

  private owned(organizationId: string): JobState | null {
    const s = this.state;
    return s && s.identity.organizationId === organizationId ? s : null;
  }

  private notFound<T>(): RpcResult<T> {
    return fail(new NotFoundError("The job was not found."));
  }

  /** The job's summary, if it belongs to this organization. */
  async describe(organizationId: string): Promise<RpcResult<JobSummary>> {
    const s = this.owned(organizationId);
    return s ? { ok: true, value: jobSummary(s) } : this.notFound();
  }

  async cancel(organizationId: string): Promise<RpcResult<{ jobId: string }>> {
    const s = this.owned(organizationId);
    if (!s) return this.notFound();
    if (isTerminal(s.status)) return fail(new ConflictError(`The job is ${s.status} and cannot be cancelled.`));
    this.apply({ type: "cancel", at: Date.now() });
    return { ok: true, value: { jobId: s.identity.jobId } };
  }

  async resume(organizationId: string): Promise<RpcResult<{ jobId: string }>> {
    const s = this.owned(organizationId);
    if (!s) return this.notFound();
    if (s.status !== "FAILED" && s.status !== "CANCELLED") {
      return fail(new ConflictError(`Only a FAILED or CANCELLED job can be resumed; this one is ${s.status}.`));
    }
    this.apply({ type: "resume", at: Date.now() });
    return { ok: true, value: { jobId: s.identity.jobId } };
  }

  /** Records an event once; one that arrives before its wait is kept for it. */
  async sendEvent(organizationId: string, eventId: string, payload: unknown): Promise<RpcResult<{ jobId: string; eventId: string; duplicate: boolean }>> {
    const s = this.owned(organizationId);
    if (!s) return this.notFound();
    const duplicate = eventId in s.events;
    if (!duplicate) this.apply({ type: "eventReceived", eventId, payload, at: Date.now() });
    return { ok: true, value: { jobId: s.identity.jobId, eventId, duplicate } };
  }

  async getState(organizationId: string): Promise<RpcResult<{ state: ReturnType<typeof workflowStateView> }>> {
    const s = this.owned(organizationId);
    if (!s) return this.notFound();
    return { ok: true, value: { state: workflowStateView(s, this.store.history()) } };
  }

  /**
   * A child's report (from the child's alarm). Kept in the inbox and applied from the alarm in
   * batches; the engine records each child's outcome once, so a duplicate changes nothing.
   */
  async receiveChildReport(report: ChildReportFact): Promise<{ ok: true }> {
    if (!this.current) return { ok: true };
    this.store.receiveReport(report);
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
    if (!isTerminal(this.current.state.status)) this.apply({ type: "cancel", at: Date.now(), reason });
    return { ok: true };
  }

  /** For tests and benchmarks: the run's history size and storage bytes. */
  async storageStats(): Promise<{ historyCount: number; databaseSize: number }> {
    return { historyCount: this.state?.historyCount ?? 0, databaseSize: this.store.databaseSize() };
  }

  /** The run's history (used by GetWorkflowState). */
  history(): HistoryItem[] {
    return this.store.history();
  }
}
