/**
 * JSON Logic over execution data (transitions and `/canopy/transform`), plus the static views of a
 * rule that registration needs: which paths it reads and which step names a transition can yield.
 */
import jsonLogic, { type RulesLogic } from "json-logic-js";
import { createAliasData, type ExecutionData, type PathContext } from "./paths";

/**
 * The operations json-logic-js 2.0.5 implements. Canopy registers none of its own: the library's
 * operation table is global to the isolate, and other modules use the same library.
 */
export const JSON_LOGIC_OPERATIONS: ReadonlySet<string> = new Set([
  "==", "===", "!=", "!==", ">", ">=", "<", "<=", "!!", "!", "%", "log", "in", "cat", "substr",
  "+", "*", "-", "/", "min", "max", "merge", "var", "missing", "missing_some",
  "if", "?:", "and", "or", "filter", "map", "reduce", "all", "none", "some",
]);

/** Operations whose second argument runs with each array element (not the execution data) as data. */
const SCOPED_OPERATIONS: ReadonlySet<string> = new Set(["filter", "map", "reduce", "all", "none", "some"]);

/** Operations that always yield a boolean or number, never a step name. */
const NON_STRING_OPERATIONS: ReadonlySet<string> = new Set([
  "==", "===", "!=", "!==", ">", ">=", "<", "<=", "!!", "!", "%", "in", "+", "*", "-", "/", "min", "max",
  "all", "none", "some", "missing", "missing_some", "merge", "filter", "map",
]);

type LogicNode = { op: string; args: unknown[] };

/** A JSON Logic operation node (an object with exactly one key), or undefined for plain data. */
function asLogic(value: unknown): LogicNode | undefined {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  const keys = Object.keys(value);
  if (keys.length !== 1) return undefined;
  const op = keys[0] as string;
  const raw = (value as Record<string, unknown>)[op];
  return { op, args: Array.isArray(raw) ? raw : [raw] };
}

/** Evaluates a rule over the execution data, with the path aliases available to `var`. */
export function evaluateLogic(rule: unknown, executionData: ExecutionData, ctx: PathContext): unknown {
  return jsonLogic.apply(rule as RulesLogic, createAliasData(executionData, ctx));
}

/** Every operation name a rule uses that json-logic-js does not know (evaluating it would throw). */
export function unknownOperations(rule: unknown): string[] {
  const unknown = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    const logic = asLogic(node);
    if (!logic) return;
    if (!JSON_LOGIC_OPERATIONS.has(logic.op)) unknown.add(logic.op);
    logic.args.forEach(visit);
  };
  visit(rule);
  return [...unknown];
}

/**
 * All literal `var` (and `missing`) paths a rule reads from the execution data. Paths read inside
 * the per-element logic of map/filter/reduce/all/none/some are relative to the element and left out.
 */
export function collectVars(rule: unknown): string[] {
  const vars = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    const logic = asLogic(node);
    if (!logic) return;
    const { op, args } = logic;
    if (op === "var") {
      const [path] = args;
      if (typeof path === "string" || typeof path === "number") vars.add(String(path));
      else visit(path);
      return visit(args[1]);
    }
    if (op === "missing" || op === "missing_some") {
      const keys = op === "missing" ? (Array.isArray(args[0]) ? args[0] : args) : args[1];
      if (Array.isArray(keys)) {
        for (const key of keys) if (typeof key === "string") vars.add(key);
        else visit(key);
      }
      if (op === "missing_some") visit(args[0]);
      return;
    }
    if (SCOPED_OPERATIONS.has(op)) {
      visit(args[0]);
      if (op === "reduce") visit(args[2]);
      return;
    }
    args.forEach(visit);
  };
  visit(rule);
  return [...vars];
}

/** What a transition rule can evaluate to, as far as its literals tell. */
export interface TransitionAnalysis {
  /** Step names the rule may yield. */
  targets: string[];
  /** True when some result is computed (a `var`, `cat`, …), so the possible steps are not all known. */
  dynamic: boolean;
  /** Literal results that are neither a string nor null (a transition must yield a step name or null). */
  invalid: unknown[];
}

/** Lists the step names (and non-names) a transition's result positions can yield, through nested ifs. */
export function analyzeTransition(rule: unknown): TransitionAnalysis {
  const targets = new Set<string>();
  const invalid: unknown[] = [];
  let dynamic = false;
  const result = (node: unknown): void => {
    if (typeof node === "string") return void targets.add(node);
    if (node === null) return;
    const logic = asLogic(node);
    if (!logic) return void invalid.push(node);
    const { op, args } = logic;
    if (op === "if" || op === "?:") {
      // Pairs (condition, result), then an optional else; without an else the rule yields null.
      for (let i = 1; i < args.length; i += 2) result(args[i]);
      if (args.length % 2 === 1) result(args[args.length - 1]);
    } else if (op === "and" || op === "or") {
      // Both return one of their arguments' values.
      args.forEach(result);
    } else if (NON_STRING_OPERATIONS.has(op)) {
      invalid.push(node);
    } else {
      dynamic = true;
    }
  };
  result(rule);
  return { targets: [...targets], dynamic, invalid };
}

/** All step names a transition's `if` may yield, including nested ifs (literals only). */
export function collectStepTargets(rule: unknown): string[] {
  return analyzeTransition(rule).targets;
}
