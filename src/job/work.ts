/**
 * Carrying out the work a job owes: index writes, executor calls, starting and cancelling
 * children, reports to the parent. Each item is idempotent, is removed only once it succeeded, and
 * is retried from the alarm with backoff when it fails.
 */
import type { ChildReportFact, ChildRow, Decision, EngineEvent, JobState, JobStatus } from "../engine/types";
import { totalUnits } from "../engine/status";
import { isPaused, pauseForChild } from "../engine/pause";
import { executorFor } from "../executors/registry";
import type { CallResult } from "../executors/types";
import type { RpcResult } from "../errors";
import {
  CALL_LEASE_MARGIN_MS,
  CHILD_INDEX_BATCH,
  CHILD_START_BATCH,
  CHILD_START_INPUT_BYTES,
  DEFAULT_CALL_TIMEOUT_MS,
  MAX_CALL_SENDS,
  MAX_CALL_TIMEOUT_MS,
  MAX_PAYLOAD_BYTES,
  METRIC_FLUSHES_PER_CALL,
  METRIC_FLUSHES_PER_REPORT,
  OUTBOX_RETRY_INITIAL_MS,
  OUTBOX_RETRY_MAX_MS,
  RUN_RETENTION_MS,
} from "../limits";
import { indexEntry, indexRefOf, indexedSummary } from "../job-index/entry";
import { addMetricFlushes, writeIndex } from "../job-index/shards";
import { raiseNotification } from "../notifications/raise";
import type { NotificationInput } from "../notifications/types";
import { buildChildStart, type ResolutionCache } from "./child-start";
import { retireIfDue, scheduleRetention, type RetireHost } from "./retire";
import { jobRunStub } from "./naming";
import { receiveInheritance } from "./rollover";
import { resourcePoolStub } from "../pools/resource-pool";
import type { JobStore, WorkItem } from "./store";
import { StateReader } from "./state-reader";
import { logEvent, logEvents } from "../log";
import { bindSecrets, secretReader } from "../executors/secret-reader";
import { callFacts, recordingSecrets, redactedError } from "../executors/call-facts";
import { organizationEgress } from "../egress/organization-egress";
import type { WorkflowDefinition } from "../definition/schema";
import { deliverOwedAudit } from "../audit/record";
import type { OwedAuditEntry } from "../audit/types";
import type { RerunMade } from "./rerun-types";

/** What work needs from its Durable Object. */
export interface WorkHost {
  readonly retireHost: RetireHost;
  readonly bindings: Env;
  readonly store: JobStore;
  readonly state: JobState | null;
  readonly inflight: Set<string>;
  readonly definition: WorkflowDefinition | null;
  /** Decides and commits `event`; `extra` runs in the same transaction after the decision is written, `before` before it is made. */
  apply(event: EngineEvent, extra?: () => void, before?: () => void): Decision;
  /** Inside a transaction: keeps children's reports and adopts their metric events. */
  takeReports(reports: ChildReportFact[], now: number): void;
  armAlarm(at?: number): void;
  rollOver(): Promise<number>;
  purgeRun(): Promise<void>;
}

/** Items read per pass; more wait for the next alarm. */
const MAX_ITEMS_PER_PASS = 400;

function retryDelay(attempts: number): number {
  return Math.min(OUTBOX_RETRY_INITIAL_MS * 2 ** attempts, OUTBOX_RETRY_MAX_MS);
}

/**
 * What one pass of work settles, committed together at its end: the items done, and the reports
 * of children that ended as they were started. A crash before that commit redoes the items, which
 * are idempotent.
 */
class Pass {
  /** The children this pass starts, read in one query. */
  toStart = new Map<string, { row: ChildRow; input: unknown }>();
  readonly done: WorkItem[] = [];
  readonly reports: ChildReportFact[] = [];
  readonly started: { event: string; fields: Record<string, unknown> }[] = [];

  settle(host: WorkHost): void {
    const reports = this.reports;
    // A child start that is done needs its input no more: the child holds it, or never will.
    const started = this.done.flatMap((i) => (i.kind === "startChild" ? [(i.payload as { jobId: string }).jobId] : []));
    const also = reports.length > 0 || started.length > 0;
    host.store.queue.settleWork(
      this.done,
      also
        ? () => {
            if (reports.length > 0) host.takeReports(reports, Date.now());
            host.store.childRows.forgetInputs(started);
          }
        : undefined,
    );
    if (this.reports.length > 0) host.armAlarm(Date.now());
    logEvents(this.started);
  }
}

/** Performs the work that is due (or only the item `onlyId`). */
export async function performWork(host: WorkHost, now: number, onlyId?: string): Promise<void> {
  let items = host.store.queue.dueWork(now, MAX_ITEMS_PER_PASS).filter((i) => !host.inflight.has(i.id));
  if (onlyId) items = items.filter((i) => i.id === onlyId);
  // A large fan-out starts its children a batch per alarm, never in one long invocation.
  let starts = 0;
  items = items.filter((i) => i.kind !== "startChild" || ++starts <= CHILD_START_BATCH);
  const cache: ResolutionCache = new Map();
  const pass = new Pass();
  // The children's inputs are read up to a byte budget; the starts left out wait for the next pass.
  const toStart = host.store.childRows.toStart(
    items.flatMap((i) => (i.kind === "startChild" ? [(i.payload as { jobId: string }).jobId] : [])),
    CHILD_START_INPUT_BYTES,
  );
  pass.toStart = toStart.rows;
  if (toStart.deferred.size > 0) items = items.filter((i) => i.kind !== "startChild" || !toStart.deferred.has((i.payload as { jobId: string }).jobId));
  // The index is written before anything else goes out: once a parent hears that a child ended,
  // the child's row already says so.
  const index = items.find((i) => i.kind === "index");
  if (index) await performOne(host, index, cache, pass);
  // A top-level job's pass that runs anyway takes the pending metrics along (a child's travel on its reports).
  const piggyback = !onlyId && items.length > 0 && !host.state?.identity.parentJobId && !items.some((i) => i.kind === "metrics") && host.store.metrics.hasPending();
  const metrics = piggyback ? [piggybackFlush(host)] : [];
  await Promise.all([...items.filter((i) => i !== index).map((item) => performOne(host, item, cache, pass)), ...metrics]);
  pass.settle(host);
}

/** A flush beside other work; if it fails, the owed flush item (or the next pass) tries again. */
async function piggybackFlush(host: WorkHost): Promise<void> {
  try {
    await flushMetrics(host);
  } catch (e) {
    logEvent("metrics.flushFailed", { jobId: host.state?.identity.jobId, error: String(e) });
  }
}

async function performOne(host: WorkHost, item: WorkItem, cache: ResolutionCache, pass: Pass): Promise<void> {
  // Another pass of this object may have taken the item since this one read it (a pass writes the
  // index before anything else, and awaits it): it is that pass's, and must not go out twice.
  if (host.inflight.has(item.id)) return;
  host.inflight.add(item.id);
  try {
    const finished = await run(host, item, cache, pass);
    if (finished) pass.done.push(item);
  } catch (e) {
    logEvent("work.failed", { jobId: host.state?.identity.jobId, work: item.id, attempts: item.attempts, error: String(e) });
    host.store.queue.retryLater(item, Date.now() + retryDelay(item.attempts));
  } finally {
    host.inflight.delete(item.id);
  }
}

/** Performs one item; returns false when the item was already settled another way. */
async function run(host: WorkHost, item: WorkItem, cache: ResolutionCache, pass: Pass): Promise<boolean> {
  const state = host.state;
  if (!state) return true;
  switch (item.kind) {
    case "index":
      await writeIndex(host.bindings, indexRefOf(state.identity), [indexEntry(state)]);
      return true;
    case "indexChildren":
      return indexChildren(host);
    case "notifyParent":
      return notifyParent(host, state);
    case "startChild":
      return startChild(host, state, (item.payload as { jobId: string }).jobId, cache, pass);
    case "cancelChild": {
      const { jobId } = item.payload as { jobId: string };
      await jobRunStub(host.bindings, jobId).cancelFromParent({ code: "PARENT_CANCELLED", message: "The parent job was cancelled." });
      return true;
    }
    case "call":
      return callExecutor(host, state, item);
    case "continueAsNew":
      await host.rollOver();
      // The old run stays readable for the retention period, then drops its storage.
      host.store.queue.enqueue({ id: "purge", kind: "purge", payload: null, dueAt: Date.now() + RUN_RETENTION_MS });
      return true;
    case "purge":
      await host.purgeRun();
      return true;
    case "acquireLease":
      return acquireLease(host, state, item);
    case "releaseLeases": {
      const { epoch } = item.payload as { epoch: number };
      const jobId = state.identity.jobId;
      await Promise.all((state.identity.resourcePoolIds ?? []).map((poolId) => resourcePoolStub(host.bindings, poolId).release(jobId, epoch)));
      return true;
    }
    case "metrics":
      return flushMetrics(host);
    case "alert":
      await raiseNotification(host.bindings, item.payload as NotificationInput);
      return true;
    case "audit":
      await deliverOwedAudit(host.bindings, item.payload as OwedAuditEntry);
      return true;
    case "rerunMade": {
      const { source, made } = item.payload as { source: { jobId: string; runNumber: number }; made: RerunMade };
      await jobRunStub(host.bindings, source.jobId, source.runNumber).rerunMade(state.identity.organizationId, made);
      return true;
    }
    case "pauseChild": {
      const { jobId, paused, seq } = item.payload as { jobId: string; paused: boolean; seq: number };
      await jobRunStub(host.bindings, jobId).pauseFromParent(paused, seq);
      return true;
    }
    case "inherit":
      await receiveInheritance(host.bindings, host.store, state.identity.jobId, (event, before) => host.apply(event, undefined, before));
      return true;
    case "retain": {
      const { finishedAt, status } = item.payload as { finishedAt: number; status: JobStatus };
      await scheduleRetention(host.retireHost, finishedAt, status);
      return true;
    }
    case "retire":
      await retireIfDue(host.retireHost, (item.payload as { finishedAt: number }).finishedAt, Date.now());
      return true;
  }
}

/** Asks a resource pool for the lease the job waits for; its answer and the item's removal commit together. */
async function acquireLease(host: WorkHost, state: JobState, item: WorkItem): Promise<boolean> {
  const { poolId, epoch } = item.payload as { poolId: string; epoch: number };
  // A round that is over (the job was cancelled while it waited) asks nothing: its release frees what it got.
  if (state.status !== "PENDING" || state.admission?.epoch !== epoch) return true;
  const answer = await resourcePoolStub(host.bindings, poolId).acquire(state.identity.jobId, epoch);
  const at = Date.now();
  host.apply(answer.granted ? { type: "leaseGranted", poolId, epoch, at } : { type: "leaseQueued", poolId, epoch, since: answer.queuedAt, at }, () => host.store.queue.done(item));
  return false;
}

/**
 * Sends the run's metrics on their way: sealed into flushes, then to the index shard of its root
 * (a top-level job), or on a report to its parent (a child: see metrics-outbox.ts). A flush the
 * receiver took and that is sent again (the isolate died before this settled) counts nothing twice.
 */
async function flushMetrics(host: WorkHost): Promise<boolean> {
  const state = host.state!;
  host.store.transaction(() => host.store.metrics.seal(Date.now()));
  if (state.identity.parentJobId) {
    await notifyParent(host, state);
  } else {
    const flushes = host.store.metrics.outgoing(METRIC_FLUSHES_PER_CALL);
    await addMetricFlushes(host.bindings, indexRefOf(state.identity), state.identity.rootJobId, flushes, Date.now());
    host.store.transaction(() => host.store.metrics.delivered(flushes.map((f) => f.key)));
  }
  // More than one call carries: the next pass sends the rest. Events recorded while this one was in
  // flight owe their own flush (recorded with them), which this item's removal leaves in place.
  if (host.store.metrics.backlog()) host.store.queue.enqueue({ id: "metrics", kind: "metrics", payload: null, dueAt: Date.now(), coalesce: true });
  return true;
}

/**
 * Writes a batch of the children's index rows to the job index (one call). The parent applied
 * their reports without waiting for this; the index catches up here, a batch per alarm.
 */
async function indexChildren(host: WorkHost): Promise<boolean> {
  const rows = host.store.queue.pendingChildIndex(CHILD_INDEX_BATCH);
  // A row took back the error its report carried once (work-queue.ts): the index keeps it cut, as every row.
  await writeIndex(host.bindings, indexRefOf(host.state!.identity), rows.map((r) => ({ job: indexedSummary(r.job), seq: r.seq, ...(r.order !== undefined ? { order: r.order } : {}) })));
  host.store.queue.indexWritten(rows);
  if (!host.store.queue.hasPendingChildIndex()) return true;
  // More wait: queue the item again (its version grows, so this pass does not remove it).
  host.store.queue.enqueue({ id: "index-children", kind: "indexChildren", payload: null, dueAt: Date.now(), coalesce: true });
  return true;
}

/**
 * What a child tells its parent now: its units, its outcome once it has ended, its index row and
 * its sealed metric flushes (seal them first, inside a transaction, to send everything pending).
 * Each thing once: the index summary leaves out the error the report carries (the parent puts it
 * back), and the output is at most MAX_PAYLOAD_BYTES (a child's output over it failed the child),
 * so a report is one payload, a few KiB of envelope and at most METRIC_FLUSHES_PER_REPORT flushes
 * (which the parent adopts on receipt and never keeps in its inbox).
 */
export function childReport(store: JobStore, state: JobState): ChildReportFact {
  const id = state.identity;
  // At most MAX_PAYLOAD_BYTES: a child whose output (its children's results) is larger failed instead.
  const read = state.status === "SUCCEEDED" && state.outputKey ? new StateReader(store).valueWithin(state.outputKey, MAX_PAYLOAD_BYTES) : undefined;
  const output = read && "value" in read ? read.value : undefined;
  const { job, seq, order } = indexEntry(state);
  const { error: _carriedOnce, ...summary } = job;
  const metricFlushes = store.metrics.outgoing(METRIC_FLUSHES_PER_REPORT);
  return {
    childJobId: id.jobId,
    workflowName: id.workflowName,
    status: state.status,
    units: totalUnits(state),
    ...(output !== undefined ? { output } : {}),
    ...(state.error ? { error: state.error } : {}),
    index: { organizationId: id.organizationId, job: summary, seq, ...(order !== undefined ? { order } : {}) },
    ...(metricFlushes.length > 0 ? { metricFlushes } : {}),
  };
}

/**
 * Reports to the parent. The parent adopts the flushes the report carried in the same commit that
 * keeps the report (each key once), so once it has answered they are the parent's, and forgotten
 * here; sent again after a crash, they count nothing twice.
 */
async function notifyParent(host: WorkHost, state: JobState): Promise<boolean> {
  const id = state.identity;
  if (!id.parentJobId) return true;
  host.store.transaction(() => host.store.metrics.seal(Date.now()));
  const report = childReport(host.store, state);
  await jobRunStub(host.bindings, id.parentJobId, id.parentRunNumber ?? 1).receiveChildReport(report);
  const carried = (report.metricFlushes ?? []).map((f) => f.key);
  if (carried.length > 0) {
    host.store.transaction(() => host.store.metrics.delivered(carried));
    host.store.metrics.settle();
  }
  return true;
}

/** Creates one child from its row, if the step attempt still wants it. */
async function startChild(host: WorkHost, state: JobState, jobId: string, cache: ResolutionCache, pass: Pass): Promise<boolean> {
  const child = pass.toStart.get(jobId);
  const cur = state.current;
  const wanted =
    child !== undefined &&
    state.status === "RUNNING" &&
    cur?.wait?.type === "children" &&
    child.row.stepName === cur.name &&
    child.row.stepAttempt === cur.attempt &&
    child.row.status === "STARTING" &&
    !child.row.superseded;
  if (!wanted) return true; // cancelled or superseded before it started
  // A paused job starts no child: the item stays, held until unpause (work-queue.ts).
  if (isPaused(state)) return false;
  const init = await buildChildStart(host.bindings.DB, state, child.row, child.input, cache, Date.now());
  // The job may have been paused while the start was built (the item is held by then).
  const latest = host.state ?? state;
  if (isPaused(latest)) return false;
  // The child learns the pause word it starts under: a later word from this job outranks it.
  const parentPause = pauseForChild(latest);
  // RPC wraps the result's type; it is the plain value `start` returned.
  const result = (await jobRunStub(host.bindings, jobId).start({ ...init, reportToCaller: true, parentPause })) as RpcResult<{ report?: ChildReportFact }>;
  if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`);
  // A child that ended as it started sends its report back here, recorded as this item settles.
  if (result.value.report) pass.reports.push(result.value.report);
  pass.started.push({ event: "child.started", fields: { parentJobId: state.identity.jobId, childJobId: jobId, workflowName: init.identity.workflowName, stepName: child.row.stepName } });
  return true;
}

/**
 * A call's time limit: its own `timeoutMs`, what is left of the step's deadline, or the default,
 * and never more than MAX_CALL_TIMEOUT_MS (a version stored before that bound runs capped): the
 * call must end within the alarm invocation that sends it.
 */
function callBudgetMs(configTimeoutMs: number | undefined, deadline: number | undefined, defaultMs: number, now: number): number {
  const budgets = [configTimeoutMs, deadline !== undefined ? deadline - now : undefined].filter((t): t is number => t !== undefined);
  return Math.max(1, Math.min(MAX_CALL_TIMEOUT_MS, ...(budgets.length > 0 ? budgets : [defaultMs])));
}

async function callExecutor(host: WorkHost, state: JobState, item: WorkItem): Promise<boolean> {
  const { stepName, attempt } = item.payload as { stepName: string; attempt: number };
  const cur = state.current;
  if (state.status !== "RUNNING" || cur?.name !== stepName || cur.attempt !== attempt || cur.wait?.type !== "call") return true;
  const done = () => host.store.queue.done(item);
  if (item.attempts >= MAX_CALL_SENDS) {
    // Each earlier send died with its invocation before its answer was recorded.
    const error = { code: "CALL_ABANDONED", message: `The call was sent ${item.attempts} times and its answer never recorded: each time, the invocation that sent it ended first.` };
    host.apply({ type: "stepFailed", stepName, attempt, error, retryable: true, at: Date.now() }, done);
    return false;
  }
  // The input may be a fan-out's results passed on by reference: read only up to the payload limit.
  const read = new StateReader(host.store).valueWithin(`${stepName}Input`, MAX_PAYLOAD_BYTES);
  if (read && "tooLarge" in read) {
    const error = { code: "PAYLOAD_TOO_LARGE", message: `The input of step "${stepName}" is ${read.tooLarge} bytes of JSON; a call takes at most ${MAX_PAYLOAD_BYTES} bytes.` };
    host.apply({ type: "stepFailed", stepName, attempt, error, retryable: false, at: Date.now() }, done);
    return false;
  }
  const input = read?.value;
  const stepDef = host.definition!.steps.find((s) => s.name === stepName)!;
  const executor = executorFor(stepDef.integrationDetails.type);
  const config = (stepDef.integrationDetails.config ?? {}) as { timeoutMs?: number };
  // Every call has a time limit. A hung call must not hold the alarm, and the work queued behind it, forever.
  const budget = callBudgetMs(config.timeoutMs, cur.deadline, Number(host.bindings.DEFAULT_CALL_TIMEOUT_MS) || DEFAULT_CALL_TIMEOUT_MS, Date.now());
  // Leased until past its deadline, with the alarm armed for then, before it goes out: if this
  // invocation dies mid-call, the call is sent again after its deadline, never sooner and never not.
  const leasedUntil = Date.now() + budget + CALL_LEASE_MARGIN_MS;
  host.store.queue.retryLater(item, leasedUntil);
  host.armAlarm(leasedUntil);
  const signal = AbortSignal.timeout(budget);
  const org = state.identity.organizationId;
  // Every secret value the call reads is kept here, to be replaced in what its history shows.
  const secretsRead: string[] = [];
  const reader = bindSecrets(secretReader(host.bindings, { organizationId: org, jobId: state.identity.jobId, stepName }), stepDef.integrationDetails.secretBindings);
  const result: CallResult = executor?.call
    ? await executor
        .call({
          stepName,
          config,
          input,
          jobId: state.identity.jobId,
          organizationId: org,
          attempt,
          env: host.bindings,
          secrets: recordingSecrets(reader, secretsRead),
          egress: organizationEgress(host.bindings, org),
          signal,
        })
        .catch((e: unknown) => ({
          ok: false as const,
          // A timed-out call may still have happened at the far end: it is recorded as a timeout.
          error: signal.aborted
            ? { code: "TIMEOUT", message: `The call did not answer within its time limit (${budget} ms).` }
            : { code: "ExecutorError", message: String((e as Error)?.message ?? e) },
          retryable: true,
        }))
    : { ok: false, error: { code: "UnknownExecutor", message: `No executor "${stepDef.integrationDetails.type}".` }, retryable: false };
  const at = Date.now();
  const facts = callFacts(result, secretsRead);
  const call = facts ? { call: facts } : {};
  // The result and the removal of the work item commit together: a crash before this redoes the call.
  if (result.ok) host.apply({ type: result.incomplete ? "stepIncomplete" : "stepCompleted", stepName, attempt, output: result.output, at, ...call }, done);
  else {
    const error = redactedError(result.error, secretsRead);
    host.apply({ type: "stepFailed", stepName, attempt, error, retryable: result.retryable, at, ...(result.retryAfterMs !== undefined ? { retryAfterMs: result.retryAfterMs } : {}), ...call }, done);
  }
  return false;
}
