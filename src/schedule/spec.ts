/** A schedule's spec as stored and as the API shows it. */
import { isoTime } from "../ids";
import type { VersionSelector } from "../registry/versions";

export const OVERLAP_POLICIES = ["SKIP", "BUFFER_ONE", "ALLOW_ALL", "CANCEL_OTHER", "TERMINATE_OTHER"] as const;
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];

/** The spec with defaults applied, times in ms; the workflow is pinned by id at creation. */
export interface ScheduleSpec {
  workflowId: string;
  workflowName: string;
  /** A tag is resolved again at each firing. */
  workflowVersion: VersionSelector;
  /** Every firing's job input, as given (`inputJson`): the nominal fire time is the job's `scheduledAt`, not part of it. */
  input: Record<string, unknown>;
  cron: string;
  timezone: string;
  startAt?: number;
  endAt?: number;
  jitterSeconds: number;
  overlapPolicy: OverlapPolicy;
  catchupWindowSeconds: number;
  pauseOnFailure: boolean;
}

/** The spec as the API shows it: times in RFC 3339, the input under `inputJson`. */
export function specView(spec: ScheduleSpec) {
  return {
    workflowId: spec.workflowId,
    workflowName: spec.workflowName,
    workflowVersion: spec.workflowVersion,
    inputJson: spec.input,
    cron: spec.cron,
    timezone: spec.timezone,
    ...(spec.startAt !== undefined ? { startAt: isoTime(spec.startAt) } : {}),
    ...(spec.endAt !== undefined ? { endAt: isoTime(spec.endAt) } : {}),
    jitterSeconds: spec.jitterSeconds,
    overlapPolicy: spec.overlapPolicy,
    catchupWindowSeconds: spec.catchupWindowSeconds,
    pauseOnFailure: spec.pauseOnFailure,
  };
}

