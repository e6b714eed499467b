/**
 * What crosses the boundary of a job's Durable Object: the record that creates a run, and the RPC
 * surface that the Worker, other jobs, schedules and pools call (`JobRpc`, which typed stubs use).
 * Type-only, with no runtime imports, so any module may name these without importing the object
 * itself (that import would tie the object and its callers into one cycle).
 */
import type { ChildReportFact, Continuation, HistoryItem, JobError, JobIdentity, JobSummary, ReceivedEvent } from "../engine/types";
import type { RpcResult } from "../errors";
import type { WorkflowStateView } from "./views";

/** What creates a job run. */
export interface StartJob {
  identity: JobIdentity;
  /** The definition text of the pinned version. */
  definition: string;
  executionData: Record<string, unknown>;
  /** Events a continued run inherits, not yet used. */
  events?: [string, ReceivedEvent][];
  /** Create the job already FAILED with this error (a child whose input is invalid). */
  rejectWith?: JobError;
  /** This run continues an earlier run of the same job. */
  continuation?: Continuation;
  /** The caller is the parent: return the child's report if it ends within `start`. */
  reportToCaller?: boolean;
}

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
  describe(organizationId: string): Promise<RpcResult<JobSummary>>;
  waitForEnd(organizationId: string, seconds: number): Promise<RpcResult<JobSummary>>;
  cancel(organizationId: string): Promise<RpcResult<{ jobId: string }>>;
  resume(organizationId: string): Promise<RpcResult<{ jobId: string }>>;
  sendEvent(organizationId: string, eventId: string, payload: unknown): Promise<RpcResult<{ jobId: string; eventId: string; duplicate: boolean }>>;
  getState(organizationId: string, runNumber?: number): Promise<RpcResult<{ state: WorkflowStateView }>>;
  getStateMetadata(organizationId: string, runNumber?: number): Promise<RpcResult<StateMetadata>>;
  receiveChildReport(report: ChildReportFact): Promise<{ ok: true }>;
  cancelFromParent(reason: JobError): Promise<{ ok: true }>;
  offerLease(poolId: string, epoch: number, granted: boolean): Promise<{ keep: boolean }>;
  /** On a run that handed over: creates the next run (if need be) and returns its number. */
  rollOver(): Promise<number>;
  /** On the head (run 1): remember the job's latest run. */
  followRun(runNumber: number): Promise<void>;
  /** On an old run, after its retention: drop what it kept for reading. */
  purgeRun(): Promise<void>;
  history(): HistoryItem[];
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
