/**
 * The pure heart of Canopy: `decide(context, state, view, event) -> {state, changes, commands, history}`.
 * No I/O, no clock: time arrives inside each event. The run's rows beyond its control row
 * (execution data, children, events) are read through a narrow `JobView` and written as
 * `changes`. The Durable Object commits the control row, the changes and the history rows in one
 * transaction, then carries out the commands.
 */
import { evaluateLogic } from "../definition/json-logic";
import type { StepDefinition } from "../definition/schema";
import { executorFor } from "../executors/registry";
import { isTerminal, totalUnits } from "./status";
import { backoffMs, pollIntervalMs, retriesAllowed } from "./backoff";
import { cancelStepChildren, completeChildrenIfDone, createChildren, recordChildReport, startWaitingChildren } from "./children";
import { getOwn, setOwn } from "./own-keys";
import { Decider } from "./decider";
import { recordAttempt, recordCancelled, type Produced, type Shared } from "./attempt-history";
import { boundedPayload, measurePayload, TooLargeToRead } from "./payload";
import { boundedError, boundedText, problemsMessage } from "./error-message";
import { computeStepInput, validateStepValue } from "./step-data";
import { leaseGranted, leaseQueued, needsLeases, openAdmission, releaseLeases } from "./admission";
import { endPause, isPaused, parentPauseChanged, pauseJob, unpauseJob } from "./pause";
import type { CallFacts, Continuation, Decision, EngineContext, EngineEvent, JobError, JobState, JobView } from "./types";
import { MAX_ERROR_MESSAGE_CHARS, MAX_POLLS_PER_STEP, MAX_RUN_HISTORY_BYTES } from "../limits";

/** Applies one event to a job run. The control row is small, so copying it is cheap. */
export function decide(ctx: EngineContext, state: JobState, view: JobView, event: EngineEvent): Decision {
  const d = new Decider(ctx, structuredClone(state), view);
  d.state.inlineSteps = 0;
  handle(d, event);
  indexNewStep(d, state, event.at);
  return { state: d.state, changes: d.view.changes, commands: d.commands, history: d.history };
}

/**
 * The job list shows the step a running top-level job is at: a decision that leaves it at another
 * step than before has the index learn it (one coalesced write per alarm, not one per step). A
 * child's row is its parent's to write, at its status changes only: a fan-out stays a few batches.
 */
function indexNewStep(d: Decider, before: JobState, at: number): void {
  const s = d.state;
  if (s.identity.parentJobId || s.status !== "RUNNING" || !s.current || s.continuedAs) return;
  if (s.current.name === before.current?.name || d.commands.some((c) => c.type === "indexStatus")) return;
  d.statusChanged(at);
}

function handle(d: Decider, event: EngineEvent): void {
  const s = d.state;
  if (s.continuedAs) return; // the job lives on in a later run
  switch (event.type) {
    case "start": {
      if (s.status !== "PENDING") return;
      // A job governed by resource pools waits for its leases; a continued run holds them already.
      if (needsLeases(s)) {
        if (s.admission) return;
        // Indexed as it waits, PENDING: ListJobs and the parent's childJobs show it.
        d.statusChanged(event.at);
        return openAdmission(d);
      }
      return run(d, event.at, event.stepName);
    }
    case "leaseGranted":
      if (leaseGranted(d, event)) run(d, event.at);
      return;
    case "leaseQueued":
      return leaseQueued(d, event);
    case "reject":
      if (s.status !== "PENDING") return;
      return finishJob(d, "FAILED", event.at, { error: event.error });
    case "stepCompleted":
    case "stepIncomplete":
    case "stepFailed": {
      const cur = s.current;
      if (s.status !== "RUNNING" || !cur || cur.name !== event.stepName || cur.attempt !== event.attempt || cur.wait?.type !== "call") {
        return; // a late or duplicate result of an attempt that is over
      }
      if (event.type === "stepCompleted") completeAttempt(d, event.output, event.at, undefined, event.call);
      else if (event.type === "stepIncomplete") pollLater(d, event.output, event.at, event.call);
      else failAttempt(d, event.error, event.retryable, event.at, event.retryAfterMs, event.call);
      return;
    }
    case "timerFired":
      return timerFired(d, event.at);
    case "eventReceived": {
      if (d.view.event(event.eventId)) return;
      d.view.setEvent(event.eventId, { payload: event.payload, receivedAt: event.at, consumed: false });
      d.addHistory({
        stepName: s.current?.name ?? "",
        stepExecutorType: "external",
        historySource: "external",
        input: null,
        output: { status: "success", payload: event.payload },
        startTimestamp: new Date(event.at).toISOString(),
        endTimestamp: new Date(event.at).toISOString(),
        errors: [],
        warnings: [],
        eventId: event.eventId,
      });
      // A paused job keeps the event; its wait completes at unpause.
      if (s.status === "RUNNING" && !isPaused(s)) tryCompleteEventWait(d, event.at);
      return;
    }
    case "childReports": {
      d.view.prefetchChildren(event.reports.map((r) => r.childJobId));
      let ended = false;
      for (const report of event.reports) ended = recordChildReport(d, report) || ended;
      // A paused job records its children's ends; it starts more, or completes the step, at unpause.
      if (ended && s.status === "RUNNING" && !isPaused(s)) {
        startWaitingChildren(d);
        completeChildrenIfDone(d, event.at, completeAttempt, failAttempt);
      }
      return;
    }
    case "cancel":
      return cancel(d, event.at, event.reason);
    case "resume":
      return resume(d, event.at);
    case "abort":
      if (s.status === "RUNNING" && s.current) return failAttempt(d, event.error, false, event.at);
      if (!isTerminal(s.status)) return failJob(d, event.error, event.at);
      return;
    case "pause":
      return pauseJob(d, event.at, wake);
    case "unpause":
      return unpauseJob(d, event.at, wake);
    case "parentPause":
      return parentPauseChanged(d, event, wake);
    default:
      event satisfies never;
  }
}

/**
 * At unpause: acts on what fell due while the job was paused. An event wait whose events all
 * arrived, or a fan-out whose children all ended, completes first (they came before any deadline
 * that passed meanwhile); then the step's timers (a retry, a poll, a delay, a deadline).
 */
function wake(d: Decider, at: number): void {
  const s = d.state;
  const before = s.current;
  if (s.status !== "RUNNING" || !before) return;
  if (before.wait?.type === "unpause") return beginAttempt(d, at);
  if (before.wait?.type === "events") tryCompleteEventWait(d, at);
  else if (before.wait?.type === "children") {
    startWaitingChildren(d);
    completeChildrenIfDone(d, at, completeAttempt, failAttempt);
  }
  // Only the same step's timers: a step that began just now has none due.
  if (s.current === before) timerFired(d, at);
}

/** A PENDING job starts running: at `stepName`, the step it resumes at, or the first. */
function run(d: Decider, at: number, stepName?: string): void {
  const s = d.state;
  s.status = "RUNNING";
  s.startedAt ??= at;
  d.statusChanged(at);
  d.log("job.started", { workflowName: s.identity.workflowName, runNumber: s.identity.runNumber });
  const resuming = stepName === undefined && s.resumeStepName !== undefined;
  const first = stepName ?? s.resumeStepName ?? d.ctx.definition.steps[0]!.name;
  s.resumeStepName = undefined;
  beginStep(d, first, at, resuming);
}

/** Starts a step: the first attempt, after a transition, or again after a resume (the same iteration). */
export function beginStep(d: Decider, name: string, at: number, resumed = false): void {
  const s = d.state;
  const stepDef = d.step(name);
  if (!stepDef) return failJob(d, { code: "TransitionError", message: `No step named "${name}".` }, at, name);
  const attempt = nextAttemptNumber(s, name);
  s.current = { name, attempt, triesUsed: 0, attemptStartedAt: at, iteration: nextIteration(s, name, resumed) };
  // A run whose history (with the child rows it no longer needs) is full, by items or by bytes, continues as new here.
  if (s.historyCount + s.retiredChildRows >= d.ctx.rolloverThreshold || (s.historyBytes ?? 0) >= MAX_RUN_HISTORY_BYTES) {
    return continueAsNew(d, at, { nextStep: name, carry: "all", reason: "historyLimit", version: "same" });
  }
  // A paused job begins the step at unpause.
  if (isPaused(s)) {
    s.current.wait = { type: "unpause" };
    return;
  }
  // A long chain of pure steps yields to commit: it goes on from the alarm.
  if (s.inlineSteps >= d.ctx.maxInlineSteps) {
    s.current.wait = { type: "retry", at };
    return;
  }
  beginAttempt(d, at);
}

/** The iteration a step begins: the next one, or the one a resumed step stopped in. */
function nextIteration(s: JobState, name: string, resumed: boolean): number {
  s.iterations ??= {};
  const last = getOwn(s.iterations, name) ?? 0;
  const n = resumed ? Math.max(last, 1) : last + 1;
  setOwn(s.iterations, name, n);
  return n;
}

/** Each execution of a step name gets a fresh attempt number, so derived ids never repeat. */
function nextAttemptNumber(s: JobState, name: string): number {
  const n = (getOwn(s.attemptCounters, name) ?? 0) + 1;
  setOwn(s.attemptCounters, name, n);
  return n;
}

/**
 * Stores an execution-data entry. A reference it replaces leaves its child rows unreferenced:
 * they count toward the rollover (a key copied from another may still share them, so this can
 * only make a rollover come early, never late).
 */
function retireReplaced(d: Decider, key: string): void {
  const old = d.view.data(key);
  if (old && "ref" in old) d.state.retiredChildRows += old.ref.children.count;
}

function storeValue(d: Decider, key: string, value: unknown, json?: string): void {
  retireReplaced(d, key);
  d.view.setValue(key, value, json);
}

function storeProduced(d: Decider, key: string, produced: Produced): void {
  retireReplaced(d, key);
  if ("ref" in produced) d.view.setRef(key, produced.ref);
  else if ("copyOf" in produced) d.view.copy(key, produced.copyOf);
  else d.view.setValue(key, produced.value, produced.json);
}

/**
 * Runs attempt `s.current` of its step. A poll (the last attempt answered
 * `successful_but_incomplete`) is an attempt too, and a unit, but uses no try of `retries` and
 * keeps the deadline of the step's first poll.
 */
function beginAttempt(d: Decider, at: number, poll = false): void {
  const s = d.state;
  const cur = s.current!;
  const stepDef = d.step(cur.name)!;
  s.inlineSteps += 1;
  s.ownUnits += 1;
  cur.attemptStartedAt = at;
  cur.wait = undefined;
  cur.hasInput = false;
  if (!poll) {
    cur.triesUsed += 1;
    cur.deadline = stepDef.timeoutSeconds !== undefined ? at + stepDef.timeoutSeconds * 1000 : undefined;
  }

  try {
    startAttempt(d, stepDef, at);
  } catch (e) {
    // A value the attempt had to read (a fan-out's results) is over the payload limit: fail, having read no more of it.
    if (!(e instanceof TooLargeToRead) || d.state.current !== cur) throw e;
    failAttempt(d, e.error, false, at);
  }
}

/** Computes, checks and stores the current attempt's input, then starts the step's executor. */
function startAttempt(d: Decider, stepDef: StepDefinition, at: number): void {
  const s = d.state;
  const cur = s.current!;
  const executor = executorFor(stepDef.integrationDetails.type);
  const input = computeStepInput(d.view, s, stepDef, at);
  if (!input.ok) return failAttempt(d, input.error, false, at);
  const inputKey = `${cur.name}Input`;
  if ("from" in input) {
    // The previous output, unchanged: the input shares its stored entry (a fan-out's results stay a reference).
    storeProduced(d, inputKey, { copyOf: input.from });
  } else {
    const measured = measurePayload(input.value, `The input of step "${cur.name}"`);
    if (!measured.ok) return failAttempt(d, measured.error, false, at);
    storeValue(d, inputKey, input.value, measured.json);
  }
  cur.hasInput = true;
  // Read only if something needs it: a permissive schema and a pass-through executor never assemble a reference.
  const inputValue = () => d.view.value(inputKey);
  const inputErrors = validateStepValue(d.ctx.definition, stepDef.integrationDetails.inputDefinition, inputValue);
  if (inputErrors.length > 0) {
    return failAttempt(d, { code: "InputValidationError", message: problemsMessage("Step input violates its schema: ", inputErrors) }, false, at);
  }
  if (!executor) {
    return failAttempt(d, { code: "UnknownExecutor", message: `No executor "${stepDef.integrationDetails.type}".` }, false, at);
  }
  const started = executor.start({
    stepName: cur.name,
    config: stepDef.integrationDetails.config ?? {},
    get input() {
      return inputValue();
    },
    state: s,
    data: d.view.executionData(),
    attempt: cur.attempt,
    at,
  });
  switch (started.kind) {
    case "complete":
      return completeAttempt(d, started.output, at);
    case "passThrough":
      // The output is the input, stored once (a reference stays a reference).
      return completeAttempt(d, undefined, at, { copyOf: inputKey });
    case "fail":
      return failAttempt(d, started.error, started.retryable, at);
    case "call":
      cur.wait = { type: "call" };
      d.commands.push({ type: "callExecutor", stepName: cur.name, attempt: cur.attempt });
      return;
    case "suspend":
      cur.wait = started.wait;
      if (started.deadline !== undefined) cur.deadline = Math.min(cur.deadline ?? Infinity, started.deadline);
      if (started.wait.type === "events") return tryCompleteEventWait(d, at);
      return;
    case "children":
      cur.wait = createChildren(d, started.children, { total: started.children.length, maxConcurrency: started.maxConcurrency, toleratedFailures: started.toleratedFailures });
      startWaitingChildren(d);
      return completeChildrenIfDone(d, at, completeAttempt, failAttempt);
    case "continueAsNew": {
      recordAttempt(d, "success", { copyOf: inputKey }, at);
      storeProduced(d, `${cur.name}Output`, { copyOf: inputKey });
      s.previousStepName = cur.name;
      return continueAsNew(d, at, {
        nextStep: started.nextStep ?? d.ctx.definition.steps[0]!.name,
        carry: { workflowInputFrom: inputKey },
        reason: "step",
        version: started.version,
      });
    }
  }
}

/**
 * Hands the job to a fresh run at a step boundary. The new run starts from the execution data
 * (all of it when the history reached its bound; only the new workflowInput for an explicit
 * step), with the unused events and the units of every run so far; the Durable Object reads
 * those from this run's rows when it creates the next run.
 */
function continueAsNew(
  d: Decider,
  at: number,
  next: { nextStep: string; carry: Continuation["carry"]; reason: "step" | "historyLimit"; version: "same" | { tag: string } },
): void {
  const s = d.state;
  const continuation: Continuation = {
    toRun: s.identity.runNumber + 1,
    nextStep: next.nextStep,
    carry: next.carry,
    ...(next.reason === "historyLimit" && s.previousStepName ? { previousStepName: s.previousStepName } : {}),
    priorRunUnits: totalUnits(s),
    indexSeq: s.indexSeq + 1,
    ...(s.startedAt !== undefined ? { startedAt: s.startedAt } : {}),
    reason: next.reason,
    version: next.version,
    ...(s.admission ? { admission: s.admission } : {}),
    ...(s.pause ? { pause: s.pause } : {}),
    attemptCounters: { ...s.attemptCounters },
  };
  s.current = undefined;
  s.continuedAs = continuation;
  s.updatedAt = at;
  d.commands.push({ type: "continueAsNew" });
  d.log("job.continuedAsNew", { fromRun: s.identity.runNumber, toRun: continuation.toRun, nextStep: next.nextStep, reason: next.reason });
}

/**
 * The current attempt produced `output`: check it, record it, and take the transition. `shared`
 * says the output is an entry the store already holds: a runChildJob step's children (assembled
 * when read), or the step's input passed through unchanged (noop, delay). It is not copied.
 */
export function completeAttempt(d: Decider, output: unknown, at: number, shared?: Shared, call?: CallFacts): void {
  const s = d.state;
  const cur = s.current!;
  const stepDef = d.step(cur.name)!;
  let produced: Produced;
  if (shared) {
    produced = shared;
  } else {
    const measured = measurePayload(output, `The output of step "${cur.name}"`);
    if (!measured.ok) return failAttempt(d, measured.error, false, at);
    produced = { value: output, ...(measured.json !== undefined ? { json: measured.json } : {}) };
  }
  if (stepDef.integrationDetails.outputDefinition) {
    // Read only if the schema needs it, and once (a failed check shows it in the history too).
    let read: { value: unknown } | undefined;
    const value = () =>
      (read ??= {
        value: !shared ? output : "ref" in shared ? d.view.assembled(shared.ref, `The output of step "${cur.name}" (its children's results)`) : d.view.value(shared.copyOf),
      }).value;
    let outputErrors: string[];
    try {
      outputErrors = validateStepValue(d.ctx.definition, stepDef.integrationDetails.outputDefinition, value);
    } catch (e) {
      // A schema that must read results over the payload limit to check them cannot pass them.
      if (!(e instanceof TooLargeToRead)) throw e;
      return failAttempt(d, e.error, false, at);
    }
    if (outputErrors.length > 0) {
      // The history keeps the value that broke the schema (a call's with its secrets replaced), bounded:
      // it is what a user needs to see. A pass-through step's is its input; a fan-out's, its children's
      // results (read within the payload limit by the check above).
      const shown = boundedPayload(call?.redactedOutput !== undefined ? call.redactedOutput : value());
      const facts: CallFacts = { ...(call?.statusCode !== undefined ? { statusCode: call.statusCode } : {}), response: shown };
      return failAttempt(d, { code: "OutputValidationError", message: problemsMessage("Step output violates its schema: ", outputErrors) }, false, at, undefined, facts);
    }
  }
  const outputKey = `${cur.name}Output`;
  storeProduced(d, outputKey, produced);
  recordAttempt(d, "success", { copyOf: outputKey }, at, call?.statusCode !== undefined ? { statusCode: call.statusCode } : {});
  s.previousStepName = cur.name;
  s.current = undefined;

  const next = transition(d, stepDef);
  if (!next.ok) return failJob(d, next.error, at, stepDef.name);
  if (next.step === null) return succeedJob(d, outputKey, at);
  beginStep(d, next.step, at);
}

/**
 * The job succeeded with the value under `outputKey`. A child's output travels to its parent's
 * row, so a child whose assembled output is over the payload limit fails instead.
 */
function succeedJob(d: Decider, outputKey: string, at: number): void {
  const s = d.state;
  const stored = d.view.data(outputKey);
  if (s.identity.parentJobId && stored && "ref" in stored) {
    try {
      d.view.assembled(stored.ref, "The job's output (its last step's child results)");
    } catch (e) {
      if (!(e instanceof TooLargeToRead)) throw e;
      return failJob(d, e.error, at, s.previousStepName);
    }
  }
  s.outputKey = outputKey;
  finishJob(d, "SUCCEEDED", at, {});
}

function transition(d: Decider, stepDef: StepDefinition): { ok: true; step: string | null } | { ok: false; error: JobError } {
  const t = stepDef.transitionToStep;
  if (t === null || t === undefined) return { ok: true, step: null };
  if (typeof t === "string") return { ok: true, step: t };
  let result: unknown;
  try {
    result = evaluateLogic(t, d.view.executionData(), { previousStepName: d.state.previousStepName });
  } catch (e) {
    if (e instanceof TooLargeToRead) return { ok: false, error: e.error };
    return { ok: false, error: { code: "TransitionError", message: `The transition failed: ${(e as Error).message}` } };
  }
  if (result === null || result === undefined) return { ok: true, step: null };
  if (typeof result === "string" && d.step(result)) return { ok: true, step: result };
  return { ok: false, error: { code: "TransitionError", message: `The transition yielded ${boundedText(String(JSON.stringify(result)), MAX_ERROR_MESSAGE_CHARS - 64)}, not a step name or null.` } };
}

/**
 * The current attempt answered `successful_but_incomplete` (JustWorkflowIt's status for "not done,
 * ask again"): its payload becomes `<step>Output` for now (the next poll's inputTransformer can
 * read it, as in JustWorkflowIt), the history gets an item for the poll, and the same step runs
 * again after its poll interval on a durable timer. The payload is not checked against the output
 * schema: only a final result is. Polls are bounded by the step's `timeoutSeconds` (a TIMEOUT, which
 * `retries` may retry from scratch) and by MAX_POLLS_PER_STEP.
 */
function pollLater(d: Decider, output: unknown, at: number, call?: CallFacts): void {
  const s = d.state;
  const cur = s.current!;
  const stepDef = d.step(cur.name)!;
  const measured = measurePayload(output, `The incomplete result of step "${cur.name}"`);
  if (!measured.ok) return failAttempt(d, measured.error, false, at);
  const outputKey = `${cur.name}Output`;
  storeValue(d, outputKey, output, measured.json);
  recordAttempt(d, "successful_but_incomplete", { copyOf: outputKey }, at, call?.statusCode !== undefined ? { statusCode: call.statusCode } : {});
  const polls = (cur.polls ?? 0) + 1;
  if (polls >= MAX_POLLS_PER_STEP) {
    d.log("step.failed", { stepName: cur.name, attempt: cur.attempt, code: "POLL_LIMIT" });
    return failJob(d, { code: "POLL_LIMIT", message: `The step was still incomplete after ${polls} polls (at most ${MAX_POLLS_PER_STEP}).` }, at, cur.name);
  }
  const next = at + pollIntervalMs(stepDef);
  s.current = {
    name: cur.name,
    attempt: nextAttemptNumber(s, cur.name),
    triesUsed: cur.triesUsed,
    attemptStartedAt: at,
    polls,
    ...(cur.iteration !== undefined ? { iteration: cur.iteration } : {}),
    ...(cur.deadline !== undefined ? { deadline: cur.deadline } : {}),
    wait: { type: "poll", at: next },
  };
  d.log("step.incomplete", { stepName: cur.name, attempt: cur.attempt, polls, nextPollAt: new Date(next).toISOString() });
}

/** The current attempt failed: retry after a durable backoff, or fail the job. */
export function failAttempt(d: Decider, unbounded: JobError, retryable: boolean, at: number, retryAfterMs?: number, call?: CallFacts): void {
  // Cut here, after the caller replaced any secret in it (work.ts): the bound never splits a secret's mask.
  const error = boundedError(unbounded);
  const s = d.state;
  const cur = s.current!;
  const stepDef = d.step(cur.name)!;
  const retries = retriesAllowed(stepDef);
  const retryAt = retryable && cur.triesUsed <= retries ? at + Math.max(backoffMs(stepDef, cur.triesUsed), retryAfterMs ?? 0) : undefined;
  recordAttempt(d, "failure", undefined, at, {
    errors: [`${error.code}: ${error.message}`],
    ...(retryAt !== undefined ? { retryAt } : {}),
    ...(call?.statusCode !== undefined ? { statusCode: call.statusCode } : {}),
    ...(call?.response ? { response: call.response } : {}),
  });
  d.log("step.failed", { stepName: cur.name, attempt: cur.attempt, code: error.code, message: error.message });
  if (cur.wait?.type === "children") cancelStepChildren(d, cur.name, cur.attempt);
  if (retryAt !== undefined) {
    s.current = {
      name: cur.name,
      attempt: nextAttemptNumber(s, cur.name),
      triesUsed: cur.triesUsed,
      attemptStartedAt: at,
      ...(cur.iteration !== undefined ? { iteration: cur.iteration } : {}),
      wait: { type: "retry", at: retryAt },
    };
    return;
  }
  if (cur.wait?.type === "children") s.resumeChildren = { stepName: cur.name, attempt: cur.attempt };
  failJob(d, error, at, cur.name);
}

function failJob(d: Decider, error: JobError, at: number, stepName?: string): void {
  const s = d.state;
  if (stepName) s.resumeStepName = stepName;
  s.current = undefined;
  finishJob(d, "FAILED", at, { error: { ...error, ...(stepName ? { stepName } : {}) } });
}

/** Ends the run with a terminal status (a SUCCEEDED run's output is under `outputKey`). */
export function finishJob(d: Decider, status: "SUCCEEDED" | "FAILED" | "CANCELLED", at: number, result: { error?: JobError }): void {
  const s = d.state;
  s.status = status;
  s.finishedAt = at;
  s.current = undefined;
  if (status === "SUCCEEDED") {
    s.error = undefined;
    s.resumeStepName = undefined;
  } else {
    s.error = result.error && boundedError(result.error);
  }
  releaseLeases(d);
  endPause(d);
  d.statusChanged(at);
  d.log("job.finished", { status, workflowName: s.identity.workflowName, ...(result.error ? { error: result.error } : {}) });
}

function timerFired(d: Decider, at: number): void {
  const s = d.state;
  const cur = s.current;
  // A paused job's timers that fall due are acted on at unpause (`wake`).
  if (s.status !== "RUNNING" || !cur || isPaused(s)) return;
  if (cur.wait?.type === "retry") {
    if (at >= cur.wait.at) beginAttempt(d, at);
    return;
  }
  if (cur.deadline !== undefined && at >= cur.deadline) {
    if (cur.polls) {
      const limit = d.step(cur.name)?.timeoutSeconds;
      return failAttempt(d, { code: "TIMEOUT", message: `The step was still incomplete after ${cur.polls} polls when its timeoutSeconds (${limit} s) ran out.` }, true, at);
    }
    const seconds = Math.round((cur.deadline - cur.attemptStartedAt) / 1000);
    return failAttempt(d, { code: "TIMEOUT", message: `The attempt did not finish within ${seconds} s.` }, true, at);
  }
  if (cur.wait?.type === "poll") {
    if (at >= cur.wait.at) beginAttempt(d, at, true);
    return;
  }
  if (cur.wait?.type === "timer" && at >= cur.wait.at) completeAttempt(d, undefined, at, { copyOf: `${cur.name}Input` });
}

/** Completes an events wait once every listed event has arrived; their payloads merge in list order. */
function tryCompleteEventWait(d: Decider, at: number): void {
  const s = d.state;
  const wait = s.current?.wait;
  if (wait?.type !== "events") return;
  const events = wait.eventIds.map((id) => d.view.event(id));
  if (events.some((e) => !e || e.consumed)) return;
  let output: unknown = {};
  wait.eventIds.forEach((id, i) => {
    const e = events[i]!;
    d.view.setEvent(id, { ...e, consumed: true });
    const p = e.payload;
    output = p !== null && typeof p === "object" && !Array.isArray(p) ? { ...(output as object), ...p } : p;
  });
  completeAttempt(d, output, at);
}

function cancel(d: Decider, at: number, reason?: JobError): void {
  const s = d.state;
  if (isTerminal(s.status)) return;
  const cur = s.current;
  const error = reason ?? { code: "CANCELLED", message: "The job was cancelled.", ...(cur ? { stepName: cur.name } : {}) };
  if (cur) {
    s.resumeStepName = cur.name;
    recordCancelled(d, cur, error, at);
    if (cur.wait?.type === "children") {
      cancelStepChildren(d, cur.name, cur.attempt);
      s.resumeChildren = { stepName: cur.name, attempt: cur.attempt };
    }
  }
  finishJob(d, "CANCELLED", at, { error: { ...error, ...(cur ? { stepName: cur.name } : {}) } });
}


function resume(d: Decider, at: number): void {
  const s = d.state;
  if (s.status !== "FAILED" && s.status !== "CANCELLED") return;
  const step = s.resumeStepName ?? d.ctx.definition.steps[0]!.name;
  s.error = undefined;
  s.finishedAt = undefined;
  d.log("job.resumed", { stepName: step });
  if (needsLeases(s)) {
    // The leases went back when the job ended: it waits for them again, PENDING.
    s.status = "PENDING";
    d.statusChanged(at);
    return openAdmission(d);
  }
  s.status = "RUNNING";
  s.resumeStepName = undefined;
  d.statusChanged(at);
  beginStep(d, step, at, true);
}
