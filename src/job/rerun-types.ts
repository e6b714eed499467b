/**
 * What crosses object boundaries when a job is rerun (src/job/rerun.ts): the request to the source
 * job, the plan it answers, the copy RPCs, and the start of the new job. Type-only, like
 * messages.ts, so the object, the Worker and the bulk rerunner can all name them.
 */
import type { ValueSource } from "../engine/rerun-point";
import type { ChildrenRef, JobIdentity } from "../engine/types";

export type { ValueSource } from "../engine/rerun-point";

/** What the source job is asked: where to begin, and the version the rerun runs (its schemas check the copy). */
export interface RerunRequest {
  fromStep?: string;
  target: { versionId: string; versionNumber: number; definition: string };
  /** The rerun brings its own workflowInput (`inputJson`): the source's is neither copied nor checked. */
  replacesInput: boolean;
  /**
   * RerunJobs: a source already rerun onto another version or from another step is not rerun
   * again (its rerun carries it on, and is the job to rerun). Absent: RerunJob, which may.
   */
  onlyLatest?: boolean;
}

/**
 * The source's answer: the plan of a new rerun, or (RerunJobs) the rerun it already has onto the
 * same version from the same step, made by either operation, which is the answer.
 */
export type RerunAnswer = { plan: RerunPlan } | { existing: RerunMade };

/** A rerun made of a job, as the job keeps it (the latest). */
export interface RerunMade {
  jobId: string;
  versionId: string;
  versionNumber: number;
  fromStep: string;
}

/** One RPC of the copy: some values, or a range of one step attempt's child rows. */
export type CopyPage =
  | { values: { key: string; from: ValueSource }[] }
  | { children: { stepName: string; attempt: number; fromIndex: number; toIndex: number } };

/** How to build the rerun's start from its source, answered by the source once its checks passed. */
export interface RerunPlan {
  source: { jobId: string; runNumber: number };
  fromStep: string;
  /** The step that had completed last when `fromStep` began. */
  previousStepName?: string;
  /** The source's attempt counters: the rerun's attempts (and its children's ids) never reuse a copied one's. */
  attemptCounters: Record<string, number>;
  /** Execution data that is a reference to child rows, written as it is (the rows come in `pages`). */
  refs: { key: string; ref: ChildrenRef }[];
  /** The RPCs that copy the values and child rows, each at most RERUN_COPY_PAGE_BYTES. */
  pages: CopyPage[];
}

/** A child row as stored (src/job/store.ts), copied from the source to the rerun. */
export type ChildRowCopy = {
  job_id: string;
  step: string;
  step_attempt: number;
  idx: number;
  key: string;
  spec: string;
  status: string;
  workflow_name: string | null;
  output: string | null;
  error: string | null;
};

/** What creates the rerun's object: its identity, its version, the plan to copy, and a new input. */
export interface RerunStart {
  identity: JobIdentity;
  definition: string;
  plan: RerunPlan;
  input?: { value: unknown };
}
