/**
 * `/justworkflowit/runChildJob`: starts one child per listed child, or per array element with
 * `forEach`, and suspends until all have ended. Starting is pure: the slots and their deterministic
 * job ids are computed here; the Durable Object creates the children from its alarm.
 */
import { createHash } from "node:crypto";
import { getPath } from "../definition/paths";
import type { RunChildJobConfig } from "../definition/executor-configs";
import type { NewChild } from "../engine/types";
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

/** Maximum failures the step tolerates out of `total` children. */
export function toleratedFailures(config: RunChildJobConfig, total: number): number {
  const byCount = config.toleratedFailureCount ?? 0;
  // Multiplied before dividing: (29 / 100) * 100 is 28.999…, which would tolerate one failure too few.
  const byPercent = config.toleratedFailurePercentage !== undefined ? Math.floor((config.toleratedFailurePercentage * total) / 100) : 0;
  return Math.max(byCount, byPercent);
}

export const runChildJobExecutor: Executor<RunChildJobConfig> = {
  type: "/justworkflowit/runChildJob",
  start: (ctx) => {
    // `ctx.input` is read only for a listed child: a forEach never assembles the step's input.
    const { stepName, config, state, data, attempt } = ctx;
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
    const { jobId, runNumber } = state.identity;
    const children: NewChild[] = [];
    const several = config.children.length > 1;
    const add = (child: RunChildJobConfig["children"][number], key: string, childInput: unknown) => {
      children.push({
        row: {
          jobId: childJobId(jobId, runNumber, stepName, key, attempt),
          stepName,
          stepAttempt: attempt,
          childIndex: children.length,
          key,
          workflowRef: child.workflowId !== undefined ? { workflowId: child.workflowId } : { workflowName: child.workflowName! },
          workflowVersion: child.workflowVersion,
          status: "WAITING",
          superseded: false,
          units: 0,
        },
        input: childInput,
      });
    };
    for (const [entryIndex, child] of config.children.entries()) {
      if (child.forEach) {
        const items = getPath(data, child.forEach.arrayPath, { previousStepName: state.previousStepName });
        if (!Array.isArray(items)) {
          return {
            kind: "fail",
            retryable: false,
            error: { code: "ValidationError", message: `forEach.arrayPath "${child.forEach.arrayPath}" is not an array.` },
          };
        }
        const prefix = child.id ?? (several ? String(entryIndex) : undefined);
        items.forEach((item, i) => add(child, prefix !== undefined ? `${prefix}[${i}]` : String(i), item));
      } else {
        add(child, child.id ?? String(entryIndex), ctx.input);
      }
    }
    return {
      kind: "children",
      children,
      maxConcurrency: config.maxConcurrency ?? children.length,
      toleratedFailures: toleratedFailures(config, children.length),
    };
  },
};
