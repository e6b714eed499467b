/**
 * The engine's vocabulary: a job run's state, the events that drive it, and the commands and
 * history it emits. All plain JSON values, so state round-trips through SQLite unchanged.
 */
import type { WorkflowDefinition } from "../definition/schema";
import type { BoundedPayload } from "./payload";

export type JobStatus = "PENDING" | "RUNNING" | "SUCCEEDED" | "FAILED" | "CANCELLED";
export const TERMINAL_STATUSES: readonly JobStatus[] = ["SUCCEEDED", "FAILED", "CANCELLED"];

/** An error as the API and the history show it. */
export interface JobError {
  code: string;
  message: string;
  stepName?: string;
}

/** What a step waits for while it is suspended. */
export type StepWait =
  | { type: "call" } // an external executor call is due or in flight
  | { type: "retry"; at: number } // backoff before the next attempt
  | { type: "events"; eventIds: string[] }
  | { type: "timer"; at: number }
  /** The executor answered `successful_but_incomplete`: the step runs again at `at`. */
  | { type: "poll"; at: number }
  /** The job is paused: the step's attempt begins at unpause (src/engine/pause.ts). */
  | { type: "unpause" }
  | ChildrenWait;

/**
 * A runChildJob step waiting on its children. The children themselves are rows of their own
 * (`ChildRow`); the wait keeps only counters, so a report costs O(1) here, not O(children).
 */
export interface ChildrenWait {
  type: "children";
  total: number;
  /** Children asked to start and not yet ended. */
  active: number;
  ended: number;
  succeeded: number;
  maxConcurrency: number;
  toleratedFailures: number;
}

export type ChildStatus = "WAITING" | "STARTING" | "SUCCEEDED" | "FAILED" | "CANCELLED";

/** One child job of a runChildJob step attempt: one row per child in the job store. */
export interface ChildRow {
  jobId: string;
  stepName: string;
  /** The step attempt this child belongs to now (a resume moves the children it keeps). */
  stepAttempt: number;
  childIndex: number;
  /** The child's `id`, or its forEach index, as a string. */
  key: string;
  workflowRef: { workflowName?: string; workflowId?: string };
  workflowVersion: { tag: string } | { versionId: string } | { versionNumber: number };
  status: ChildStatus;
  /** Replaced by a re-run after a resume: kept only so its late reports still count units. */
  superseded: boolean;
  workflowName?: string;
  output?: unknown;
  error?: JobError;
  /** Latest units the child reported (its own plus its descendants'). */
  units: number;
}

/** A child to create, with the input it starts with (kept apart from the row). */
export interface NewChild {
  row: ChildRow;
  input: unknown;
}

/**
 * Execution data that is assembled rather than stored: a runChildJob step's output is its
 * children's rows, read in order. Stored once, however many children there are.
 */
export interface ChildrenRef {
  children: { stepName: string; attempt: number; count: number };
}

/** An execution-data value as the store keeps it: a JSON value, or a reference to assemble. */
export type StoredValue = { value: unknown; json?: string } | { ref: ChildrenRef };

/** The step being executed now. */
export interface CurrentStep {
  name: string;
  /** Attempt number within this job run, 1-based; keeps growing across ResumeJob. */
  attempt: number;
  /** Attempts used since the step (re)started: compared with `retries`. */
  triesUsed: number;
  attemptStartedAt: number;
  /** The attempt's input is in the execution data (`<name>Input`); false until it is computed. */
  hasInput?: boolean;
  /**
   * When the attempt times out (step `timeoutSeconds`, or a wait's own timeout). Polls of one step
   * execution share the deadline of the first: `timeoutSeconds` bounds the whole polling.
   */
  deadline?: number;
  /** `successful_but_incomplete` results so far in this execution of the step (retries start over). */
  polls?: number;
  /**
   * Which execution of the step this is in the run (1-based): a transition into the step starts the
   * next one (a loop's `tick → tick` too); retries, polls and a resume stay in the same one.
   */
  iteration?: number;
  wait?: StepWait;
}

/** Facts fixed when a job run is created. */
export interface JobIdentity {
  jobId: string;
  organizationId: string;
  workflowId: string;
  workflowName: string;
  versionId: string;
  versionNumber: number;
  submittedByUser: string;
  runNumber: number;
  parentJobId?: string;
  /** The parent's run that started this child: where reports go (a step never straddles runs). */
  parentRunNumber?: number;
  parentStepName?: string;
  rootJobId: string;
  /** 0 for a top-level job, parent depth + 1 for a child. */
  depth: number;
  createdAt: number;
  /** The resource pools the job must hold a lease in before it runs, sorted: the order they are acquired in. */
  resourcePoolIds?: string[];
  /** Pools an ancestor holds a lease in: a child runs under its ancestor's lease there, never waits on it. */
  ancestorPoolIds?: string[];
  /** The schedule whose firing started this job (a top-level job only). */
  scheduleId?: string;
  /** That firing's nominal fire time (ms): kept here, not in the input, which stays the schedule's inputJson. */
  scheduledAt?: number;
  /** The webhook trigger whose delivery started this job (a top-level job only). */
  triggerId?: string;
  /** The API token that submitted this job (a top-level job only). */
  apiAuthTokenId?: string;
  /** A child's key in its parent's step: its `id`, or its forEach index, as a string. */
  childKey?: string;
  /** A child's place in its parent's step's list of children (0-based). */
  childIndex?: number;
  /** When the parent's step attempt that created this child began: with childIndex, the child's order among its siblings. */
  parentAttemptStartedAt?: number;
  /** The shard count of the organization's job index (src/job-index/shards.ts); absent: 1. */
  indexShards?: number;
  /** The job this one reruns (RerunJob), and the step it began at (src/job/rerun.ts). */
  rerunOf?: { jobId: string; fromStep: string };
}

/**
 * Why a job is paused (src/engine/pause.ts): PauseJob on the job itself, or the latest word of its
 * parent, which is paused while any ancestor is. The job is paused while either holds.
 */
export interface PauseState {
  self: boolean;
  parent: boolean;
  /** The sequence number of the parent's latest word: an older one, arriving late, changes nothing. */
  parentSeq: number;
  /** Grows each time this job's own pause changes: the order its children apply its words in. */
  seq: number;
}

/**
 * A job's leases in its resource pools (`identity.resourcePoolIds`), acquired one at a time in
 * that order. Each round of acquisition (the start, each resume) has its own epoch: a grant or a
 * release of an earlier round changes nothing.
 */
export interface Admission {
  epoch: number;
  /** Leases held: the first `held` pools. All of them once the job runs; 0 once it has ended. */
  held: number;
  /** The pool the job is queued in, and since when. */
  queued?: { poolId: string; since: number };
}

/** A received event kept until a wait uses it. */
export interface ReceivedEvent {
  payload: unknown;
  receivedAt: number;
  consumed: boolean;
}

/**
 * The control row of a job run: small, whatever the run holds. Execution data, children and
 * events live in rows of their own and are read through a `JobView`.
 */
export interface JobState {
  identity: JobIdentity;
  status: JobStatus;
  updatedAt: number;
  startedAt?: number;
  finishedAt?: number;
  /** The step that completed most recently: what `previousStep` names. */
  previousStepName?: string;
  current?: CurrentStep;
  /** The step a FAILED or CANCELLED job resumes at. */
  resumeStepName?: string;
  /** The children of the step being resumed, so ResumeJob re-runs only those that did not succeed. */
  resumeChildren?: { stepName: string; attempt: number };
  /** Executions per step name in this run: part of child ids, so a loop never reuses one. */
  attemptCounters: Record<string, number>;
  /** Transitions into each step in this run (CurrentStep.iteration); absent in runs older than it. */
  iterations?: Record<string, number>;
  /** Units: this run's own step attempts, plus those of its descendants, plus earlier runs'. */
  ownUnits: number;
  /** Sum of the latest units each child reported. */
  childUnits: number;
  priorRunUnits: number;
  error?: JobError;
  /** Once SUCCEEDED: the execution-data key holding the job's output. */
  outputKey?: string;
  /** Grows at every status change; the job index ignores older writes. */
  indexSeq: number;
  /** History rows this run holds. */
  historyCount: number;
  /**
   * Characters of JSON this run's history rows and their payloads hold (the store counts them as it
   * writes them; at most their bytes). A run rolls over past MAX_RUN_HISTORY_BYTES, as past its count.
   */
  historyBytes?: number;
  /** Child rows no longer referenced by the execution data; they count toward the rollover like history. */
  retiredChildRows: number;
  /** Set once this run has handed the job to its next run; the run then ignores every event. */
  continuedAs?: Continuation;
  /** Counts steps since the last durable commit, to bound one invocation. */
  inlineSteps: number;
  /** Present once the job has resource pools to wait for (see `Admission`). */
  admission?: Admission;
  /** Present once the job was paused, or started under a paused parent (see `PauseState`). */
  pause?: PauseState;
}

/** An ExecutionHistoryItem of API.md. */
export interface HistoryItem {
  id: string;
  stepName: string;
  stepExecutorType: string;
  historySource: "engine" | "external";
  input: unknown;
  output: { status: "success" | "failure" | "successful_but_incomplete"; payload?: unknown };
  startTimestamp: string;
  endTimestamp: string;
  errors: string[];
  warnings: string[];
  eventId?: string;
  /** Extension: the attempt's number among all attempts of this step in the run (part of derived ids). */
  attempt?: number;
  /** Extension: the try within this execution of the step, 1-based (retries count; polls share their try). */
  executionAttempt?: number;
  /** Extension: the tries this execution of the step may take: 1 + its `retries`. */
  attemptsAllowed?: number;
  /** Extension: which execution of the step in this run (a loop's second pass is 2); see CurrentStep.iteration. */
  iteration?: number;
  /** Extension: a failed attempt that will be tried again: when (RFC 3339). */
  retryAt?: string;
  /** Extension: the HTTP status the far end answered (HTTP, Lambda, Cloud Function steps). */
  statusCode?: number;
  /** Extension: the failure's payload is the start of a longer answer (MAX_FAILED_ATTEMPT_PAYLOAD_BYTES). */
  payloadTruncated?: { originalBytes: number };
  /** Extension: the step was cancelled (with the job) while this item's attempt, wait or retry was pending. */
  cancelled?: true;
}

/**
 * What the call behind an attempt tells its history item, besides its result. Built by the Durable
 * Object (src/executors/call-facts.ts) with the step's secrets already replaced.
 */
export interface CallFacts {
  statusCode?: number;
  /** A failed call's answer (an error's body, a malformed answer), bounded for the history. */
  response?: BoundedPayload;
  /** A completed call's output with the step's secrets replaced, when it held any: what history may show of it. */
  redactedOutput?: unknown;
}

export type EngineEvent =
  | { type: "start"; at: number; stepName?: string }
  /** A job created already failed (a child whose input is invalid): it never runs. */
  | { type: "reject"; error: JobError; at: number }
  | { type: "stepCompleted"; stepName: string; attempt: number; output: unknown; at: number; call?: CallFacts }
  /** The executor answered `successful_but_incomplete` with `output`: poll again later. */
  | { type: "stepIncomplete"; stepName: string; attempt: number; output: unknown; at: number; call?: CallFacts }
  | {
      type: "stepFailed";
      stepName: string;
      attempt: number;
      error: JobError;
      retryable: boolean;
      retryAfterMs?: number;
      at: number;
      call?: CallFacts;
    }
  | { type: "timerFired"; at: number }
  | { type: "eventReceived"; eventId: string; payload: unknown; at: number }
  /** Reports from children, applied in one decision per batch (a fan-out of 1,000 is not 1,000 commits). */
  | { type: "childReports"; reports: ChildReportFact[]; at: number }
  | { type: "cancel"; at: number; reason?: JobError }
  | { type: "resume"; at: number }
  /** The decision for the event before this one could not be committed: fail the step, once. */
  | { type: "abort"; error: JobError; at: number }
  /** A resource pool granted the job its lease (at once, or later from its queue). */
  | { type: "leaseGranted"; poolId: string; epoch: number; at: number }
  /** A resource pool is full: the job waits in its queue. */
  | { type: "leaseQueued"; poolId: string; epoch: number; since: number; at: number }
  /** PauseJob and UnpauseJob on this job. */
  | { type: "pause"; at: number }
  | { type: "unpause"; at: number }
  /** The parent's pause changed (its `seq` orders its words). */
  | { type: "parentPause"; paused: boolean; seq: number; at: number };

/** A job as the API shows it (JobSummary of API.md, with Canopy's additions); built by src/job/views.ts. */
export interface JobSummary {
  jobId: string;
  status: JobStatus;
  workflowId: string;
  workflowName: string;
  workflowVersion: { versionId: string; versionNumber: number };
  submittedByUser: string;
  createdAt: string;
  updatedAt: string;
  startedAt?: string;
  finishedAt?: string;
  parentJobId?: string;
  parentStepName?: string;
  rootJobId?: string;
  scheduleId?: string;
  scheduledAt?: string;
  billableTransactionUnits: number;
  currentStepName?: string;
  error?: JobError;
  output?: unknown;
  /**
   * The output, left out because it is over MAX_PAYLOAD_BYTES (a runChildJob step's results): its
   * size, the execution-data key holding it, and the path that reads it page by page.
   */
  outputTooLarge?: { bytes: number; executionDataKey: string; read: string };
  runNumber: number;
  /** A PENDING job waiting for a lease in this resource pool (queued since `queuedAt`). */
  waitingForResourcePool?: { poolId: string; queuedAt?: string };
  /** The job this one reruns, and the step it began at. */
  rerunOf?: { jobId: string; fromStep: string };
  /** Present (true) while the job is paused: it starts no new step attempt. */
  paused?: true;
  /** The webhook trigger whose delivery started the job. */
  triggerId?: string;
  /** The API token that submitted the job. */
  apiAuthTokenId?: string;
  /** A child's key in its parent's step (its `id`, or its forEach index) and its place in that step's list. */
  childKey?: string;
  childIndex?: number;
  /** GetJob only (read from the job's own object, never from an index): what the job waits for now. */
  waitingFor?: WaitingFor;
}

/**
 * What a job that has not ended waits for now, in data (GetJob's `waitingFor` extension). Times are
 * RFC 3339; `since` is when the wait began, `until` when it is due. Attempts count tries within the
 * step's current execution, out of `attemptsAllowed` (1 + retries).
 */
export type WaitingFor =
  | { kind: "resourcePool"; poolId: string; since?: string }
  | { kind: "call"; stepName: string; since: string; attempt: number; attemptsAllowed: number; timeoutAt?: string }
  | { kind: "retry"; stepName: string; since: string; until: string; attempt: number; attemptsAllowed: number }
  | { kind: "poll"; stepName: string; since: string; until: string; polls: number; timeoutAt?: string }
  | { kind: "events"; stepName: string; since: string; eventIds: string[]; received: string[]; timeoutAt?: string }
  | { kind: "timer"; stepName: string; since: string; until: string }
  /** The job is paused at this step: it begins the step's next attempt at unpause (src/engine/pause.ts). */
  | { kind: "unpause"; stepName: string; since: string }
  | {
      kind: "children";
      stepName: string;
      since: string;
      total: number;
      /** Children not yet ended: `running` started, `notStarted` waiting for room under maxConcurrency. */
      running: number;
      notStarted: number;
      succeeded: number;
      /** Ended without succeeding (failed or cancelled). */
      failed: number;
      toleratedFailures: number;
    };

/** What a child tells its parent: its units so far, and its outcome once it has ended. */
export interface ChildReportFact {
  childJobId: string;
  workflowName: string;
  status: JobStatus;
  units: number;
  output?: unknown;
  error?: JobError;
  /**
   * The child's index row: the parent writes its children's rows in batches. (`organizationId` is
   * the parent's too; `order` the child's place among its siblings.)
   */
  index?: { organizationId: string; job: JobSummary; seq: number; order?: string };
  /**
   * Raw metric events: reports written before metrics were sealed into flushes carried these. A
   * report still waiting in an inbox across the upgrade is read the old way.
   */
  metrics?: import("../metrics/types").MetricEvent[];
  /**
   * The child's sealed metric flushes (rollup increments, each under its own key): the parent adopts
   * each key once and seals them into its own, so a child's metrics reach the index through its
   * root, with no call of the child's own.
   */
  metricFlushes?: import("../metrics/types").MetricFlush[];
}

export type Command =
  /** Run an external executor's call for this attempt. */
  | { type: "callExecutor"; stepName: string; attempt: number }
  /** Create (or find) these child jobs (their rows say what to create). */
  | { type: "startChildren"; jobIds: string[] }
  /** Cancel these child jobs (cascade). */
  | { type: "cancelChildren"; jobIds: string[] }
  /** Tell the parent that this job ended, or that its units changed. */
  | { type: "notifyParent" }
  /** Roll this run into a fresh run of the same job (its `continuedAs` says how). */
  | { type: "continueAsNew" }
  /** The job index must learn the new status. */
  | { type: "indexStatus" }
  /** A structured log line. */
  | { type: "log"; event: string; fields: Record<string, unknown> }
  /** Ask this resource pool for a lease (round `epoch`). */
  | { type: "acquireLease"; poolId: string; epoch: number }
  /** Give back every lease (and queue place) of round `epoch`: the job ended. */
  | { type: "releaseLeases"; epoch: number }
  /**
   * The job's pause changed: hold (or release) the child starts it owes, and tell these children,
   * the ones it started that have not ended, with the job's pause sequence number.
   */
  | { type: "pauseChildren"; paused: boolean; seq: number; jobIds: string[] };

/** What a fresh run of the same job starts from. */
export interface Continuation {
  toRun: number;
  nextStep: string;
  /**
   * The execution data the next run starts with: all of it (the history reached its bound), or
   * only `workflowInput`, taken from this data key (an explicit continueAsNew step's input).
   */
  carry: "all" | { workflowInputFrom: string };
  previousStepName?: string;
  /** Units of every earlier run, descendants included. */
  priorRunUnits: number;
  indexSeq: number;
  startedAt?: number;
  /** Why the run rolled over: an explicit step, or a history that reached its bound. */
  reason: "step" | "historyLimit";
  /** The version the next run executes: this one, or a tag's version at rollover. */
  version: "same" | { tag: string };
  /** The leases the job holds: the next run holds them on. */
  admission?: Admission;
  /** A paused job's next run is paused too. */
  pause?: PauseState;
  /**
   * This run's attempt counters: the next run goes on counting, so an attempt number never repeats
   * within a job (the child rows a reference reads come along, keyed by step and attempt).
   */
  attemptCounters?: Record<string, number>;
}

/** Rows a decision changes besides the control row, history and work. */
export interface Changes {
  data: Map<string, StoredValue>;
  newChildren: NewChild[];
  /** Changed child rows, by job id (whole rows). */
  children: Map<string, ChildRow>;
  /** Step attempts whose WAITING children were all cancelled. */
  cancelWaiting: { stepName: string; attempt: number }[];
  events: Map<string, ReceivedEvent>;
}

/**
 * What the engine reads of a run besides its control row: synchronous, read-only, and narrow, so
 * a decision reads only what it needs (one child row per report, not all of them).
 */
export interface JobView {
  dataKeys(): string[];
  data(key: string): StoredValue | undefined;
  /**
   * The step attempt's current children (superseded ones left out), in order, without their output
   * and error: a decision never needs a child's payloads, only a step's assembled results do.
   */
  childStubs(stepName: string, attempt: number): ChildRow[];
  /**
   * The stored outputs and errors of these children; or `{over}` as soon as they pass `maxBytes`
   * (the rest are never read). `over` is a lower bound of their size.
   */
  childPayloads(jobIds: string[], maxBytes: number): { payloads: Map<string, Pick<ChildRow, "output" | "error">> } | { over: number };
  /** One child's row, without output and error (see `childStubs`). */
  child(jobId: string): ChildRow | undefined;
  /** Many children by job id, in one read (a batch of reports), without payloads; unknown ids are left out. */
  childrenById(jobIds: string[]): ChildRow[];
  /** The first `limit` WAITING children of a step attempt, in order. */
  waitingChildren(stepName: string, attempt: number, limit: number): ChildRow[];
  /** Job ids of the step attempt's children that were asked to start and have not ended. */
  activeChildJobIds(stepName: string, attempt: number): string[];
  event(eventId: string): ReceivedEvent | undefined;
}

export interface Decision {
  state: JobState;
  changes: Changes;
  commands: Command[];
  history: HistoryDraft[];
}

/** A history item before it is stored: a payload may be a reference to assemble on read. */
export type HistoryDraft = Omit<HistoryItem, "input" | "output"> & {
  input: unknown;
  inputRef?: ChildrenRef;
  output: { status: HistoryItem["output"]["status"]; payload?: unknown; payloadRef?: ChildrenRef };
};

/** What the engine reads besides state: the definition and deployment knobs. */
export interface EngineContext {
  definition: WorkflowDefinition;
  /** Pure steps run per invocation before the engine yields to commit (limits.ts). */
  maxInlineSteps: number;
  /** History size after which the run continues as new at the next step boundary. */
  rolloverThreshold: number;
}
