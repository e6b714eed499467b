/**
 * The engine's vocabulary: a job run's state, the events that drive it, and the commands and
 * history it emits. All plain JSON values, so state round-trips through SQLite unchanged.
 */
import type { WorkflowDefinition } from "../definition/schema";

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
  | { type: "children"; children: ChildSlot[]; maxConcurrency: number; toleratedFailures: number };

/** One child of a runChildJob step. */
export interface ChildSlot {
  /** The child's `id`, or its forEach index, as a string. */
  key: string;
  childIndex: number;
  workflowRef: { workflowName?: string; workflowId?: string };
  workflowVersion: { tag: string } | { versionId: string } | { versionNumber: number };
  input: unknown;
  /** Which attempt of this slot is current; a re-run after resume gets a fresh id. */
  attempt: number;
  jobId?: string;
  workflowName?: string;
  status: "WAITING" | "STARTING" | "RUNNING" | "SUCCEEDED" | "FAILED" | "CANCELLED";
  output?: unknown;
  error?: JobError;
  units?: number;
}

/** The step being executed now. */
export interface CurrentStep {
  name: string;
  /** Attempt number within this job run, 1-based; keeps growing across ResumeJob. */
  attempt: number;
  /** Attempts used since the step (re)started: compared with `retries`. */
  triesUsed: number;
  input: unknown;
  attemptStartedAt: number;
  /** When the attempt times out (step `timeoutSeconds`, or a wait's own timeout). */
  deadline?: number;
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
}

/** A received event kept until a wait uses it. */
export interface ReceivedEvent {
  payload: unknown;
  receivedAt: number;
  consumed: boolean;
}

export interface JobState {
  identity: JobIdentity;
  status: JobStatus;
  updatedAt: number;
  startedAt?: number;
  finishedAt?: number;
  executionData: Record<string, unknown>;
  /** The step that completed most recently: what `previousStep` names. */
  previousStepName?: string;
  current?: CurrentStep;
  /** The step a FAILED or CANCELLED job resumes at. */
  resumeStepName?: string;
  /** Children of the step being resumed, carried so ResumeJob re-runs only the failed ones. */
  resumeChildren?: ChildSlot[];
  events: Record<string, ReceivedEvent>;
  /** Executions per step name in this run: part of child ids, so a loop never reuses one. */
  attemptCounters: Record<string, number>;
  /** Units: this run's own step attempts, plus those of its descendants, plus earlier runs'. */
  ownUnits: number;
  /** Latest units reported by each child job (its own plus its descendants'). */
  childUnits: Record<string, number>;
  priorRunUnits: number;
  error?: JobError;
  output?: unknown;
  /** Grows at every status change; the D1 index ignores older writes. */
  indexSeq: number;
  /** History rows this run holds. */
  historyCount: number;
  /** Set once this run has handed the job to its next run; the run then ignores every event. */
  continuedAs?: Continuation;
  /** Counts steps since the last durable commit, to bound one invocation. */
  inlineSteps: number;
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
  attempt?: number;
}

export type EngineEvent =
  | { type: "start"; at: number; stepName?: string }
  /** A job created already failed (a child whose input is invalid): it never runs. */
  | { type: "reject"; error: JobError; at: number }
  | { type: "stepCompleted"; stepName: string; attempt: number; output: unknown; at: number }
  | {
      type: "stepFailed";
      stepName: string;
      attempt: number;
      error: JobError;
      retryable: boolean;
      retryAfterMs?: number;
      at: number;
    }
  | { type: "timerFired"; at: number }
  | { type: "eventReceived"; eventId: string; payload: unknown; at: number }
  /** Reports from children, applied in one decision per batch (a fan-out of 1,000 is not 1,000 commits). */
  | { type: "childReports"; reports: ChildReportFact[]; at: number }
  | { type: "cancel"; at: number; reason?: JobError }
  | { type: "resume"; at: number };

/** What a child tells its parent: its units so far, and its outcome once it has ended. */
export interface ChildReportFact {
  childJobId: string;
  workflowName: string;
  status: JobStatus;
  units: number;
  output?: unknown;
  error?: JobError;
  /** The child's index row and its sequence: the parent writes children's rows in batches. */
  index?: { organizationId: string; job: import("../job/views").JobSummary; seq: number };
}

export type Command =
  /** Run an external executor's call for this attempt. */
  | { type: "callExecutor"; stepName: string; attempt: number; input: unknown }
  /** Create (or find) these child jobs. */
  | { type: "startChildren"; stepName: string; attempt: number; children: ChildSlot[] }
  /** Cancel these child jobs (cascade). */
  | { type: "cancelChildren"; jobIds: string[] }
  /** Tell the parent that this job ended, or that its units changed. */
  | { type: "notifyParent" }
  /** Roll this run into a fresh run of the same job. */
  | { type: "continueAsNew"; continuation: Continuation }
  /** The D1 index must learn the new status. */
  | { type: "indexStatus" }
  /** A structured log line. */
  | { type: "log"; event: string; fields: Record<string, unknown> };

/** What a fresh run of the same job starts from. */
export interface Continuation {
  toRun: number;
  nextStep: string;
  executionData: Record<string, unknown>;
  previousStepName?: string;
  /** Events received and not yet used: they belong to the job, not to the run. */
  events: Record<string, ReceivedEvent>;
  /** Units of every earlier run, descendants included. */
  priorRunUnits: number;
  indexSeq: number;
  startedAt?: number;
  /** Why the run rolled over: an explicit step, or a history that reached its bound. */
  reason: "step" | "historyLimit";
  /** The version the next run executes: this one, or a tag's version at rollover. */
  version: "same" | { tag: string };
}

export interface Decision {
  state: JobState;
  commands: Command[];
  history: HistoryItem[];
}

/** What the engine reads besides state: the definition and deployment knobs. */
export interface EngineContext {
  definition: WorkflowDefinition;
  /** Pure steps run per invocation before the engine yields to commit (limits.ts). */
  maxInlineSteps: number;
  /** History size after which the run continues as new at the next step boundary. */
  rolloverThreshold: number;
}
