/** A timeline's bars as data: each step attempt or child, from when it started to when it ended. */
import type { JobStatus } from "../api/types";

export interface TimelineItem {
  key: string;
  label: string;
  kind: "step" | "child";
  start: number;
  /** Still running when undefined. */
  end?: number;
  status: string;
}

/** Children as timeline items. */
export function childItems(children: { jobId: string; workflowName: string; status: JobStatus; createdAt: string; startedAt?: string; finishedAt?: string }[]): TimelineItem[] {
  return children.map((c) => ({
    key: `child:${c.jobId}`,
    label: `${c.workflowName} ${c.jobId.slice(0, 8)}`,
    kind: "child" as const,
    start: Date.parse(c.startedAt ?? c.createdAt),
    ...(c.finishedAt ? { end: Date.parse(c.finishedAt) } : {}),
    status: c.status,
  }));
}
