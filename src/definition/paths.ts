/**
 * Dotted paths over a job's execution data: `{workflowInput, <step>Input, <step>Output, ...}`.
 *
 * Besides the canonical keys, a path may use the aliases `<step>.output.x` / `<step>.input.x`
 * and `previousStep.output.x` / `previousStep.input.x` (DEFINITIONS.md "Execution data").
 * Lookups walk only the segments of the path, never the whole execution data: a job can carry
 * thousands of step outputs and every transition evaluates paths.
 */

/** The execution data of one job. */
export type ExecutionData = Record<string, unknown>;

/** What a path needs to know besides the data: which step ran before, and (statically) which steps exist. */
export interface PathContext {
  /** The step that ran just before the one being evaluated; `previousStep.*` resolves to it. */
  previousStepName?: string;
  /**
   * The definition's step names. When given, `<x>.output` is an alias exactly when `x` is a step;
   * without it, the data decides (a key present in the data is read literally).
   */
  stepNames?: ReadonlySet<string>;
}

/** Splits a dotted path into segments; the empty path has none. */
export function splitPath(path: string): string[] {
  return path === "" ? [] : path.split(".");
}

function isStepAlias(head: string, ctx: PathContext, data?: ExecutionData): boolean {
  if (ctx.stepNames) return ctx.stepNames.has(head);
  if (data) return !Object.hasOwn(data, head);
  // Without names or data, a canonical key (`workflowInput`, `xOutput`, `xInput`) is read literally.
  return head !== "workflowInput" && !head.endsWith("Output") && !head.endsWith("Input");
}

/**
 * Rewrites alias segments to the canonical `<step>Output.x` / `<step>Input.x` form.
 * Returns undefined when the path names `previousStep` but no step ran before.
 */
export function normalizeSegments(segments: readonly string[], ctx: PathContext, data?: ExecutionData): string[] | undefined {
  const [head, kind] = segments;
  const suffix = kind === "output" ? "Output" : kind === "input" ? "Input" : undefined;
  if (head === undefined || suffix === undefined) return [...segments];
  if (head === "previousStep") {
    return ctx.previousStepName === undefined ? undefined : [ctx.previousStepName + suffix, ...segments.slice(2)];
  }
  if (!isStepAlias(head, ctx, data)) return [...segments];
  return [head + suffix, ...segments.slice(2)];
}

/** Rewrites a path's aliases to the canonical form (`fetch.output.x` → `fetchOutput.x`); undefined if unresolvable. */
export function normalizePath(path: string, ctx: PathContext): string | undefined {
  return normalizeSegments(splitPath(path), ctx)?.join(".");
}

/**
 * Reads one segment of a value: own properties of objects, numeric indexes and `length` of arrays.
 * Inherited properties are never read, so a path cannot reach `constructor` or `__proto__`.
 */
export function readSegment(value: unknown, segment: string): unknown {
  if (Array.isArray(value)) {
    if (segment === "length") return value.length;
    return /^(0|[1-9][0-9]*)$/.test(segment) ? value[Number(segment)] : undefined;
  }
  if (value !== null && typeof value === "object" && Object.hasOwn(value, segment)) {
    return (value as Record<string, unknown>)[segment];
  }
  return undefined;
}

/** Walks segments from a value; undefined as soon as one is missing. */
export function getSegments(value: unknown, segments: readonly string[]): unknown {
  let current = value;
  for (const segment of segments) {
    if (current === undefined || current === null) return undefined;
    current = readSegment(current, segment);
  }
  return current;
}

/** Reads a dotted path (aliases included) from execution data; undefined when any part is missing. */
export function getPath(executionData: ExecutionData, path: string, ctx: PathContext): unknown {
  const segments = normalizeSegments(splitPath(path), ctx, executionData);
  return segments === undefined ? undefined : getSegments(executionData, segments);
}

/** The `{output, input}` view of one step that the aliases expose, read lazily. */
function stepView(data: ExecutionData, step: string): { readonly output: unknown; readonly input: unknown } {
  return {
    get output() {
      return data[`${step}Output`];
    },
    get input() {
      return data[`${step}Input`];
    },
  };
}

/**
 * A read-only view of the execution data that also answers the aliases, for JSON Logic `var`.
 * It is a Proxy: nothing is copied, each property access costs O(1), so evaluating a rule costs
 * the length of its paths whatever the size of the job.
 */
export function createAliasData(executionData: ExecutionData, ctx: PathContext): ExecutionData {
  return new Proxy(executionData, {
    get(target, key) {
      if (typeof key !== "string") return undefined;
      if (Object.hasOwn(target, key)) return target[key];
      if (key === "previousStep") {
        return ctx.previousStepName === undefined ? undefined : stepView(target, ctx.previousStepName);
      }
      const isStep = ctx.stepNames
        ? ctx.stepNames.has(key)
        : Object.hasOwn(target, `${key}Output`) || Object.hasOwn(target, `${key}Input`);
      return isStep ? stepView(target, key) : undefined;
    },
    has(target, key) {
      return typeof key === "string" && (Object.hasOwn(target, key) || key === "previousStep");
    },
    set() {
      return false;
    },
    defineProperty() {
      return false;
    },
    deleteProperty() {
      return false;
    },
  });
}
