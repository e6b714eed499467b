/**
 * The static checks a definition passes before a version is registered (DEFINITIONS.md
 * "Registering a version: static checks"). Every problem is reported at once, each message naming
 * the step, path or field at fault, so one round trip fixes a definition.
 */
import type { z } from "zod";
import { jsonNestsDeeperThan } from "../json-depth";
import { MAX_CALL_TIMEOUT_MS, MAX_JSON_DEPTH } from "../limits";
import { checkDataFlow } from "./check-data-flow";
import { CALL_EXECUTOR_TYPES, EXECUTOR_CONFIG_SCHEMAS, EXECUTOR_TYPES, POLLING_ADVICE, isExecutorType } from "./executor-configs";
import { analyzeTransition, collectVars, unknownOperations } from "./json-logic";
import { compileDefinitions, schemaForRef } from "./json-schema";
import { StepDefinitionSchema, WorkflowDefinitionSchema, type StepDefinition, type WorkflowDefinition } from "./schema";
import { checkSecretBindings } from "./secret-bindings";
import { checkTransformerSyntax } from "./transformer-syntax";

/** How the checks learn whether a child workflow exists (in the registering organization). */
export interface WorkflowLookup {
  workflowExists(ref: { workflowName?: string; workflowId?: string }): Promise<boolean>;
}

export type CheckResult =
  | { valid: true; definition: WorkflowDefinition; errors: [] }
  | { valid: false; errors: string[] };

type Issue = z.core.$ZodIssue;

function formatPath(path: readonly PropertyKey[], root = ""): string {
  return path.reduce<string>((acc, p) => (typeof p === "number" ? `${acc}[${p}]` : acc === "" ? String(p) : `${acc}.${String(p)}`), root);
}

function issueMessage(issue: Issue): string {
  return issue.code === "invalid_type" && issue.message.endsWith("received undefined") ? "is required" : issue.message;
}

/** Formats zod issues of the whole definition; paths inside `steps[i]` name the step when it has a name. */
function formatIssues(issues: readonly Issue[], raw: unknown): string[] {
  const steps = (raw as { steps?: unknown }).steps;
  return issues.map((issue) => {
    const path = issue.path;
    if (path[0] === "steps" && typeof path[1] === "number") {
      const name = Array.isArray(steps) ? (steps[path[1]] as { name?: unknown } | undefined)?.name : undefined;
      const step = typeof name === "string" && name !== "" ? `step "${name}"` : `steps[${path[1]}]`;
      const rest = formatPath(path.slice(2));
      return `${step}: ${rest === "" ? "" : `${rest}: `}${issueMessage(issue)}`;
    }
    const where = formatPath(path);
    return where === "" ? issueMessage(issue) : `${where}: ${issueMessage(issue)}`;
  });
}

function checkTransition(step: StepDefinition, names: ReadonlySet<string>): string[] {
  const errors: string[] = [];
  const at = `step "${step.name}"`;
  const t = step.transitionToStep;
  if (typeof t === "string") {
    if (!names.has(t)) errors.push(`${at}: transition names unknown step "${t}"`);
    return errors;
  }
  if (t === null) return errors;
  for (const op of unknownOperations(t)) errors.push(`${at}: transitionToStep uses unknown JSON Logic operation "${op}"`);
  const analysis = analyzeTransition(t);
  for (const target of analysis.targets) if (!names.has(target)) errors.push(`${at}: transition names unknown step "${target}"`);
  for (const value of analysis.invalid) errors.push(`${at}: transition may yield ${JSON.stringify(value)}, which is not a step name or null`);
  return errors;
}

/** What a step's executor type accepts as `config`; undefined for a type nobody runs. */
function configSchemaFor(type: string, options: CheckOptions): z.ZodType | undefined {
  if (options.executors && Object.hasOwn(options.executors, type)) return options.executors[type];
  return isExecutorType(type) ? EXECUTOR_CONFIG_SCHEMAS[type] : undefined;
}

function checkStep(step: StepDefinition, definition: WorkflowDefinition, names: ReadonlySet<string>, options: CheckOptions): string[] {
  const at = `step "${step.name}"`;
  const details = step.integrationDetails;
  const errors = checkTransition(step, names);
  for (const key of ["inputDefinition", "outputDefinition"] as const) {
    const ref = details[key].$ref;
    if (schemaForRef(definition.definitions, ref) === undefined) errors.push(`${at}: ${key} $ref "${ref}" has no definition`);
  }
  if (details.inputTransformer !== undefined) errors.push(...checkTransformerSyntax(details.inputTransformer).map((e) => `${at}: ${e}`));
  const configSchema = configSchemaFor(details.type, options);
  if (!configSchema) {
    const extra = options.executors ? Object.keys(options.executors) : [];
    errors.push(`${at}: unknown executor type "${details.type}" (Canopy runs ${[...EXECUTOR_TYPES, ...extra].join(", ")})`);
    return errors;
  }
  const config = configSchema.safeParse(details.config);
  if (!config.success) {
    errors.push(...config.error.issues.map((issue) => `${at}: ${formatPath(issue.path, "config")}: ${issueMessage(issue)}`));
    return errors;
  }
  errors.push(...checkSecretBindings(step));
  errors.push(...checkCallTimeout(step));
  if (details.type === "/canopy/continueAsNew") {
    const next = details.config?.nextStep;
    if (typeof next === "string" && !names.has(next)) errors.push(`${at}: config.nextStep names unknown step "${next}"`);
  }
  if (details.type === "/canopy/transform") {
    const output = (details.config?.output ?? {}) as Record<string, unknown>;
    for (const [key, rule] of Object.entries(output)) {
      for (const op of unknownOperations(rule)) errors.push(`${at}: config.output.${key} uses unknown JSON Logic operation "${op}"`);
    }
  }
  return errors;
}

/**
 * A step that calls out without polling makes one call per attempt, and its `timeoutSeconds` is
 * that call's time limit, so it is bounded like `timeoutMs`. A step that polls (it names a
 * `pollIntervalSeconds`) keeps its meaning: the whole polling, of calls each bounded on their own.
 */
function checkCallTimeout(step: StepDefinition): string[] {
  if (!CALL_EXECUTOR_TYPES.includes(step.integrationDetails.type) || step.timeoutSeconds === undefined) return [];
  const polls = step.pollIntervalSeconds !== undefined || step.integrationDetails.config?.pollIntervalSeconds !== undefined;
  const max = MAX_CALL_TIMEOUT_MS / 1000;
  if (polls || step.timeoutSeconds <= max) return [];
  return [
    `step "${step.name}": timeoutSeconds: is at most ${max} for a step that calls out without polling: its one call must end within the alarm invocation that sends it. ${POLLING_ADVICE}`,
  ];
}

function duplicateNames(definition: WorkflowDefinition): string[] {
  const positions = new Map<string, number[]>();
  definition.steps.forEach((s, i) => positions.set(s.name, [...(positions.get(s.name) ?? []), i]));
  return [...positions]
    .filter(([, at]) => at.length > 1)
    .map(([name, at]) => `step name "${name}" is used by more than one step (${at.map((i) => `steps[${i}]`).join(", ")})`);
}

/** Asks the lookup about every child workflow of every runChildJob step, each distinct one once. */
async function checkChildren(definition: WorkflowDefinition, lookup: WorkflowLookup): Promise<string[]> {
  const pending: Array<{ message: string; exists: Promise<boolean> }> = [];
  const asked = new Map<string, Promise<boolean>>();
  for (const step of definition.steps) {
    if (step.integrationDetails.type !== "/justworkflowit/runChildJob") continue;
    const config = EXECUTOR_CONFIG_SCHEMAS["/justworkflowit/runChildJob"].safeParse(step.integrationDetails.config);
    if (!config.success) continue;
    const children = (config.data as { children: Array<{ workflowName?: string; workflowId?: string }> }).children;
    children.forEach((child, i) => {
      const ref = child.workflowName !== undefined ? { workflowName: child.workflowName } : { workflowId: child.workflowId as string };
      const key = JSON.stringify(ref);
      const exists = asked.get(key) ?? lookup.workflowExists(ref);
      asked.set(key, exists);
      const what = "workflowName" in ref ? `workflow "${ref.workflowName}"` : `workflow id "${ref.workflowId}"`;
      pending.push({ message: `step "${step.name}": config.children[${i}] names ${what}, which does not exist`, exists });
    });
  }
  const results = await Promise.all(pending.map(async (p) => ((await p.exists) ? undefined : p.message)));
  return results.filter((m): m is string => m !== undefined);
}

/** Options of the checks. */
export interface CheckOptions {
  /**
   * Executor types beyond Canopy's own, each with the schema its `config` must match: what
   * JustWorkflowIt's engine takes as `stepExecutors` (with their `configDefinition`). Used to check
   * definitions written for executors that only exist elsewhere, such as the peer's test fixtures.
   */
  executors?: Record<string, z.ZodType>;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/**
 * The parts of a definition that parse, and the problems of those that do not. A malformed step
 * (say, a transition that is not a step name, null or an `if`) is reported and left out; the other
 * steps are still checked, so one round trip lists every problem.
 */
function parseParts(value: Record<string, unknown>): { definition: WorkflowDefinition; errors: string[]; allNames: Set<string>; complete: boolean } {
  const whole = WorkflowDefinitionSchema.safeParse(value);
  const rawSteps = Array.isArray(value.steps) ? value.steps : [];
  const allNames = new Set(rawSteps.flatMap((s) => (isPlainObject(s) && typeof s.name === "string" ? [s.name] : [])));
  if (whole.success) return { definition: whole.data, errors: [], allNames, complete: true };
  const steps = rawSteps.flatMap((raw) => {
    const parsed = StepDefinitionSchema.safeParse(raw);
    if (parsed.success) return [parsed.data];
    // A step whose faults are in optional fields (a transition, retries, a poll interval) is
    // checked for everything else, as if those fields were absent; their problems are reported.
    const faulty = new Set(parsed.error.issues.map((i) => i.path[0]));
    if (!isPlainObject(raw) || faulty.has("name") || faulty.has("integrationDetails")) return [];
    const rest = Object.fromEntries(Object.entries(raw).filter(([k]) => !faulty.has(k)));
    const repaired = StepDefinitionSchema.safeParse(rest);
    return repaired.success ? [repaired.data] : [];
  });
  const definitions = isPlainObject(value.definitions) ? value.definitions : {};
  const workflowName = typeof value.workflowName === "string" ? value.workflowName : "";
  return { definition: { ...value, workflowName, steps, definitions }, errors: formatIssues(whole.error.issues, value), allNames, complete: false };
}

/** Paths of JSON Logic (transitions, transform outputs) that read the job's input. */
function logicReadsOfWorkflowInput(definition: WorkflowDefinition): string[] {
  const out: string[] = [];
  for (const step of definition.steps) {
    const rules: Array<[string, unknown]> = [];
    if (step.transitionToStep !== null && typeof step.transitionToStep === "object") rules.push(["transitionToStep", step.transitionToStep]);
    if (step.integrationDetails.type === "/canopy/transform") {
      for (const [key, rule] of Object.entries((step.integrationDetails.config?.output ?? {}) as Record<string, unknown>)) rules.push([`config.output.${key}`, rule]);
    }
    for (const [where, rule] of rules) {
      for (const path of collectVars(rule)) {
        if (path === "workflowInput" || path.startsWith("workflowInput.")) out.push(`step "${step.name}": ${where} reads "${path}", but definitions.workflowInput is missing`);
      }
    }
  }
  return out;
}

/** Runs every static check on a definition (a JSON string or an object); lists all problems found. */
export async function checkDefinition(raw: unknown, lookup: WorkflowLookup, options: CheckOptions = {}): Promise<CheckResult> {
  let value = raw;
  if (typeof raw === "string") {
    // The checks below walk the definition recursively: a deeper one would exhaust the stack.
    if (jsonNestsDeeperThan(raw, MAX_JSON_DEPTH)) return { valid: false, errors: [`the definition nests deeper than ${MAX_JSON_DEPTH} levels`] };
    try {
      value = JSON.parse(raw);
    } catch (e) {
      return { valid: false, errors: [`the definition is not valid JSON: ${e instanceof Error ? e.message : String(e)}`] };
    }
  }
  if (!isPlainObject(value)) {
    return { valid: false, errors: ["the definition must be a JSON object {workflowName, steps, definitions}"] };
  }
  const { definition, errors, allNames, complete } = parseParts(value);
  errors.push(...duplicateNames(definition));
  for (const step of definition.steps) errors.push(...checkStep(step, definition, allNames, options));
  // workflowInput declares the job's input; it is needed only when something reads it (a `$ref`
  // to it is reported as a $ref without a definition).
  if (!Object.hasOwn(definition.definitions, "workflowInput")) errors.push(...logicReadsOfWorkflowInput(definition));
  errors.push(...compileDefinitions(definition.definitions).errors);
  const badTransformers = new Set(
    definition.steps.filter((s) => s.integrationDetails.inputTransformer && checkTransformerSyntax(s.integrationDetails.inputTransformer).length > 0).map((s) => s.name),
  );
  // With a step left out, the order steps run in is not known: the data-flow checks then assume
  // any order, so they report only what holds whatever the missing transitions say.
  errors.push(...checkDataFlow(definition, badTransformers, complete ? {} : { stepNames: allNames, unknownOrder: true }));
  errors.push(...(await checkChildren(definition, lookup)));
  const unique = [...new Set(errors)];
  if (unique.length === 0 && complete) return { valid: true, definition, errors: [] };
  return { valid: false, errors: unique };
}
