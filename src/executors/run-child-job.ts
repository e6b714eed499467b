/**
 * `/justworkflowit/runChildJob`: starts one child per listed child, or per array element with
 * `forEach`, and suspends until all have ended. Starting is pure: the slots and their deterministic
 * job ids are computed here; the Durable Object creates the children from its alarm.
 */
import { createHash } from "node:crypto";
import { getPath } from "../definition/paths";
import type { RunChildJobConfig } from "../definition/executor-configs";
import type { ChildSlot, JobState } from "../engine/types";
import { MAX_NESTING_DEPTH } from "../limits";
import type { Executor } from "./types";

/**
 * A child's job id, derived from (parent job, run, step, child key, attempt): a replayed alarm or a
 * resumed step asking for the same child gets the same id, so a child is never started twice.
 */
export function childJobId(parentJobId: string, runNumber: number, stepName: string, key: string, attempt: number): string {
  const digest = createHash("sha256").update([parentJobId, runNumber, stepName, key, attempt].join("\u0000")).digest();
  const b = Uint8Array.from(digest.subarray(0, 16));
  b[6] = (b[6]! & 0x0f) | 0x80; // version 8: custom, name-based
  b[8] = (b[8]! & 0x3f) | 0x80; // RFC 4122 variant
  const hex = Buffer.from(b).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Assigns the id of a slot's current attempt. */
export function withJobId(state: JobState, stepName: string, slot: ChildSlot): ChildSlot {
  const { jobId, runNumber } = state.identity;
  return { ...slot, jobId: childJobId(jobId, runNumber, stepName, slot.key, slot.attempt) };
}

/** Maximum failures the step tolerates out of `total` children. */
export function toleratedFailures(config: RunChildJobConfig, total: number): number {
  const byCount = config.toleratedFailureCount ?? 0;
  const byPercent = config.toleratedFailurePercentage !== undefined ? Math.floor((config.toleratedFailurePercentage / 100) * total) : 0;
  return Math.max(byCount, byPercent);
}

export const runChildJobExecutor: Executor<RunChildJobConfig> = {
  type: "/justworkflowit/runChildJob",
  start: ({ stepName, config, input, state, attempt }) => {
    if (state.identity.depth >= MAX_NESTING_DEPTH) {
      return {
        kind: "fail",
        retryable: false,
        error: {
          code: "MaxNestingDepthExceeded",
          message: `This job is at nesting depth ${state.identity.depth}; jobs at depth ${MAX_NESTING_DEPTH} cannot start children.`,
        },
      };
    }
    const slots: ChildSlot[] = [];
    const several = config.children.length > 1;
    for (const [entryIndex, child] of config.children.entries()) {
      const base = {
        workflowRef: child.workflowId !== undefined ? { workflowId: child.workflowId } : { workflowName: child.workflowName! },
        workflowVersion: child.workflowVersion,
        attempt,
        status: "WAITING" as const,
      };
      if (child.forEach) {
        const items = getPath(state.executionData, child.forEach.arrayPath, { previousStepName: state.previousStepName });
        if (!Array.isArray(items)) {
          return {
            kind: "fail",
            retryable: false,
            error: { code: "ValidationError", message: `forEach.arrayPath "${child.forEach.arrayPath}" is not an array.` },
          };
        }
        const prefix = child.id ?? (several ? String(entryIndex) : undefined);
        items.forEach((item, i) => {
          slots.push({ ...base, key: prefix !== undefined ? `${prefix}[${i}]` : String(i), childIndex: slots.length, input: item });
        });
      } else {
        slots.push({ ...base, key: child.id ?? String(entryIndex), childIndex: slots.length, input });
      }
    }
    const resumed = state.resumeChildren;
    const reuse = resumed && resumed.length === slots.length ? resumed : undefined;
    const children = slots.map((slot, i) => {
      const previous = reuse?.[i];
      // ResumeJob keeps the children that succeeded and re-runs the rest as new attempts.
      if (previous && previous.key === slot.key && previous.status === "SUCCEEDED") return previous;
      return withJobId(state, stepName, slot);
    });
    return {
      kind: "suspend",
      wait: {
        type: "children",
        children,
        maxConcurrency: config.maxConcurrency ?? children.length,
        toleratedFailures: toleratedFailures(config, children.length),
      },
    };
  },
};
