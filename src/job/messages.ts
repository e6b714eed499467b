/**
 * What crosses the boundary of a job's Durable Object: the record that creates a run, and the RPC
 * surface that the Worker, other jobs, schedules and pools call (`JobRpc`, which typed stubs use).
 * Type-only, with no runtime imports, so any module may name these without importing the object
 * itself (that import would tie the object and its callers into one cycle).
 */
import type { ChildReportFact, Continuation, HistoryItem, JobError, JobIdentity, JobSummary } from "../engine/types";
import type { AuditActor } from "../audit/types";
import type { RpcResult } from "../errors";
import type { ChildRowCopy, RerunAnswer, RerunMade, RerunRequest, RerunStart, ValueSource } from "./rerun-types";

/** What creates a job run. */
export interface StartJob {
  identity: JobIdentity;
  /** The definition text of the pinned version. */
  definition: string;
  /** The first execution data (`workflowInput`); a continued run receives its own in batches instead. */
  executionData: Record<string, unknown>;
  /** Create the job already FAILED with this error (a child whose input is invalid). */
  rejectWith?: JobError;
  /** This run continues an earlier run of the same job. */
  continuation?: Continuation;
  /** The caller is the parent: return the child's report if it ends within `start`. */
  reportToCaller?: boolean;
  /** The parent's pause word as the child starts (a later word, by `seq`, outranks it). */
  parentPause?: { paused: boolean; seq: number };
}

/** What stands in an answer for a value left out of it. */
export interface OmittedMarker {
  canopyOmitted: { bytes: number; read: string };
}

/** GetWorkflowState's `state`, and (extensions) what it left out and where its history goes on. */
export interface WorkflowStatePage {
  state: { nextStepName?: string; executionData: Record<string, unknown>; executionHistory: HistoryItem[] };
  /** Where each marker stands: `executionData.<key>` or `executionHistory.<index>.input` / `.output.payload`. */
  omittedValues?: string[];
  /** More history: pass it as `pageToken`. */
  nextPageToken?: string;
}

/** One value as GetExecutionDataValue answers it: whole, or a page of a step's children's results. */
export interface ValuePage {
  value: unknown;
  nextPageToken?: string;
}

/**
 * Where a run that continues another has got to in receiving what it inherits: the execution data
 * (by key), then the child rows its references need (by job id), then the unused events (by id).
 */
export type InheritanceCursor = { phase: "data" | "child" | "event"; after: string };

/** One inherited row, as stored (text as the store keeps it, so nothing is parsed on the way). */
export type InheritedEntry =
  | { kind: "data"; key: string; text: string }
  | { kind: "child"; row: Record<string, string | number | null> }
  | { kind: "event"; eventId: string; payload: string; receivedAt: number };

/** A batch of what a run passes on, within INHERIT_BATCH_BYTES (at least one entry); `next` is null at the end. */
export interface InheritanceBatch {
  entries: InheritedEntry[];
  next: InheritanceCursor | null;
}

/** A value GetExecutionDataValue reads: an execution-data key, or a history item's input or output payload. */
export type ValueAddress = { key: string } | { historyItemId: string; part: "input" | "output" };

/** GetWorkflowStateMetadata, plus (extensions) the run's number, history size and storage bytes. */
export interface StateMetadata {
  contentLengthBytes: number;
  runNumber: number;
  historyItems: number;
  storageBytes: number;
}

/**
 * What one run object answers the deletion of its tree (src/job/retire.ts): nothing here (`gone`),
 * not ended yet, a page of its children, its later runs (a job's head), or that it has deleted itself.
 */
export type PurgeAnswer =
  | { kind: "gone" }
  | { kind: "notEnded" }
  | { kind: "children"; ids: string[]; next: string }
  | { kind: "runs"; runs: number }
  | { kind: "deleted" };

/** Where a tree's deletion stands (diagnostics and tests). */
export interface RetirementStatus {
  reason: string;
  phase: string;
  done: number;
  todo: number;
  failures: number;
}

/** The methods of a job run's Durable Object that other code may call (src/job/job-object.ts). */
export interface JobRpc extends Rpc.DurableObjectBranded {
  start(init: StartJob): Promise<RpcResult<{ jobId: string; created: boolean; report?: ChildReportFact }>>;
  /** The job's summary; `withOutput: false` leaves its output out (a child's GetJob naming its parent). */
  describe(organizationId: string, withOutput?: boolean): Promise<RpcResult<JobSummary>>;
  waitForEnd(organizationId: string, seconds: number): Promise<RpcResult<JobSummary>>;
  /** `actor`: who asked, recorded in the audit log in the cancel's own commit; none for an internal cancel (a deleted organization's sweep). */
  cancel(organizationId: string, actor?: AuditActor): Promise<RpcResult<{ jobId: string }>>;
  /** `actor`: who asked, recorded in the audit log in the resume's own commit. */
  resume(organizationId: string, actor?: AuditActor): Promise<RpcResult<{ jobId: string }>>;
  /** `actor`: who asked, recorded in the audit log in the pause's own commit. */
  pause(organizationId: string, actor?: AuditActor): Promise<RpcResult<{ jobId: string; paused: boolean }>>;
  /** `actor`: who asked, recorded in the audit log in the unpause's own commit. */
  unpause(organizationId: string, actor?: AuditActor): Promise<RpcResult<{ jobId: string; paused: boolean }>>;
  /** The parent's pause changed: `seq` orders its words. */
  pauseFromParent(paused: boolean, seq: number): Promise<{ ok: true }>;
  /** RerunJob, on the source: the checks, and the plan of the copy. */
  planRerun(organizationId: string, request: RerunRequest): Promise<RpcResult<RerunAnswer>>;
  /** RerunJob, on the source run: one page of the copy. */
  rerunValues(organizationId: string, sources: ValueSource[]): Promise<RpcResult<string[]>>;
  rerunChildRows(organizationId: string, range: { stepName: string; attempt: number; fromIndex: number; toIndex: number }): Promise<RpcResult<ChildRowCopy[]>>;
  /** RerunJob, on the new job: copies from the source, then creates and starts the run. */
  startRerun(init: RerunStart): Promise<RpcResult<{ jobId: string; created: boolean }>>;
  /** RerunJob, on the source run, from the new job: the rerun exists. */
  rerunMade(organizationId: string, made: RerunMade): Promise<{ ok: true }>;
  sendEvent(organizationId: string, eventId: string, payload: unknown): Promise<RpcResult<{ jobId: string; eventId: string; duplicate: boolean }>>;
  /** GetWorkflowState: a page of the run's state, within MAX_ANSWER_BYTES (`pageToken` goes on through the history). */
  getState(organizationId: string, runNumber?: number, pageToken?: string): Promise<RpcResult<WorkflowStatePage>>;
  /** GetExecutionDataValue: one execution-data value, or one history payload, whole or a page of it. */
  readValue(organizationId: string, runNumber: number | undefined, what: ValueAddress, pageToken?: string): Promise<RpcResult<ValuePage>>;
  getStateMetadata(organizationId: string, runNumber?: number): Promise<RpcResult<StateMetadata>>;
  receiveChildReport(report: ChildReportFact): Promise<{ ok: true }>;
  cancelFromParent(reason: JobError): Promise<{ ok: true }>;
  offerLease(poolId: string, epoch: number, granted: boolean): Promise<{ keep: boolean }>;
  /** On a run that handed over: creates the next run (if need be) and returns its number. */
  rollOver(): Promise<number>;
  /** On the head (run 1): remember the job's latest run. */
  followRun(runNumber: number): Promise<void>;
  /** On a run that handed over: the next batch of what it passes on to its successor. */
  inheritanceBatch(cursor: InheritanceCursor): Promise<RpcResult<InheritanceBatch>>;
  /** On an old run, after its retention: drop what it kept for reading. */
  purgeRun(): Promise<void>;
  /** DeleteJob: a top-level job that has ended goes with its tree; 409 otherwise. */
  deleteJob(organizationId: string): Promise<RpcResult<{ jobId: string }>>;
  /** A deleted organization's purge: the tree goes once the root has ended (false: no such top-level job here). */
  retireForOrganization(organizationId: string): Promise<{ retiring: boolean }>;
  /** On a job's head: the job ended at `finishedAt` and its tree goes at `deleteAt` (a later run tells its head). */
  scheduleRetirement(organizationId: string, finishedAt: number, deleteAt: number): Promise<void>;
  /** On a root's head: whether the tree is visible (the root exists and is not being deleted). */
  rootLive(organizationId: string): Promise<boolean>;
  /** One step of the deletion of the tree of `rootJobId`, on one of its run objects. */
  purgeStep(organizationId: string, rootJobId: string, after: string, runsKnown: number): Promise<PurgeAnswer>;
  /** Where the deletion of this root's tree stands, or null. */
  retirement(): Promise<RetirementStatus | null>;
}
