/**
 * `/justworkflowit/runChildJob`: starts one child per listed child, or per array element with
 * `forEach`, and suspends until all have ended. Starting is pure: the slots and their deterministic
 * job ids are computed here; the Durable Object creates the children from its alarm.
 */
import { createHash } from "node:crypto";
import { getPath } from "../definition/paths";
import type { RunChildJobConfig } from "../definition/executor-configs";
import type { NewChild } from "../engine/types";
import { jsonByteLength } from "../json-size";
import { MAX_CHILD_INPUT_BYTES_PER_STEP, MAX_CHILDREN_PER_STEP, MAX_NESTING_DEPTH } from "../limits";
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

function tooMany(count: number): string {
  return `The step would start ${count} child jobs; a step starts at most ${MAX_CHILDREN_PER_STEP}.`;
}

/**
 * Why these children are more than one step may start, if they are: too many, or too many bytes of
 * input in all (listed children share one input object, measured once).
 */
function overChildLimits(children: NewChild[]): string | undefined {
  if (children.length > MAX_CHILDREN_PER_STEP) return tooMany(children.length);
  const sizes = new Map<unknown, number>();
  let bytes = 0;
  for (const { input } of children) {
    let size = sizes.get(input);
    if (size === undefined) {
      size = jsonByteLength(input);
      if (input !== null && typeof input === "object") sizes.set(input, size);
    }
    bytes += size;
    if (bytes > MAX_CHILD_INPUT_BYTES_PER_STEP) {
      return `The step's children would take more than ${MAX_CHILD_INPUT_BYTES_PER_STEP} bytes of input in all (each listed child gets the whole step input); give them a smaller input, or fewer children.`;
    }
  }
  return undefined;
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
        // Counted before any is built: a 1 MiB array of zeros is half a million elements.
        if (children.length + items.length > MAX_CHILDREN_PER_STEP) {
          return { kind: "fail", retryable: false, error: { code: "CHILD_LIMIT", message: tooMany(children.length + items.length) } };
        }
        const prefix = child.id ?? (several ? String(entryIndex) : undefined);
        items.forEach((item, i) => add(child, prefix !== undefined ? `${prefix}[${i}]` : String(i), item));
      } else {
        add(child, child.id ?? String(entryIndex), ctx.input);
      }
    }
    const over = overChildLimits(children);
    if (over) return { kind: "fail", retryable: false, error: { code: "CHILD_LIMIT", message: over } };
    return {
      kind: "children",
      children,
      maxConcurrency: config.maxConcurrency ?? children.length,
      toleratedFailures: toleratedFailures(config, children.length),
    };
  },
};
