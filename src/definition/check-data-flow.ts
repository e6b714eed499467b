/**
 * Registration's data-flow checks: a transformer (or a forEach arrayPath) must read fields the
 * producing schemas declare and require, from steps that can have run, and must not write values
 * the consuming step's input schema cannot accept. Only what the schemas make certain is reported.
 */
import { buildGraph, runOrder, type RunOrder } from "./graph";
import { lookupSchemaPath, resolveSchema, schemaForRef, type Definitions } from "./json-schema";
import { normalizeSegments, splitPath } from "./paths";
import { schemaTypes } from "./schema-path";
import type { StepDefinition, WorkflowDefinition } from "./schema";
import { describeTransformer, type TransformerRead, type TransformerWrite } from "./transformer-syntax";

/** Where a root path's value comes from, with the schema that describes it. */
interface Origin {
  label: string;
  schema: unknown;
  rest: string[];
  /** The step whose input/output it is (undefined for workflowInput). */
  step?: string;
}

type Resolution =
  | { kind: "origins"; origins: Origin[] }
  | { kind: "unknownRoot" }
  | { kind: "skip"; reason?: string }
  /** The path reads workflowInput, which the definition does not declare. */
  | { kind: "noWorkflowInput" };

/** How to run the checks on a definition some of whose steps did not parse. */
export interface DataFlowOptions {
  /** Every step name, those left out included: a read of one is not "outside the execution data". */
  stepNames?: ReadonlySet<string>;
  /** Some transitions are unknown: assume any step may run before any other. */
  unknownOrder?: boolean;
}

/** Executors whose result may be `successful_but_incomplete`: the step runs again, and may read its last poll's payload. */
const POLLING_EXECUTORS = new Set(["/justworkflowit/aws/lambda", "/justworkflowit/gcp/cloudfunction", "/canopy/http"]);

class Analysis {
  readonly errors: string[] = [];
  private readonly steps: Map<string, StepDefinition>;
  private readonly stepNames: ReadonlySet<string>;
  private readonly order: RunOrder;
  private readonly definitions: Definitions;

  constructor(
    private readonly definition: WorkflowDefinition,
    options: DataFlowOptions = {},
  ) {
    this.steps = new Map(definition.steps.map((s) => [s.name, s]));
    this.stepNames = options.stepNames ?? new Set(this.steps.keys());
    const graph = buildGraph(definition);
    this.order = runOrder(options.unknownOrder ? { ...graph, dynamic: true } : graph);
    this.definitions = definition.definitions;
  }

  private schemaOf(ref: string): unknown {
    return schemaForRef(this.definitions, ref);
  }

  private stepOrigin(step: string, which: "Output" | "Input", rest: string[]): Origin | undefined {
    const details = this.steps.get(step)?.integrationDetails;
    if (!details) return undefined;
    const ref = which === "Output" ? details.outputDefinition.$ref : details.inputDefinition.$ref;
    const schema = this.schemaOf(ref);
    if (schema === undefined) return undefined;
    return { label: `the ${which.toLowerCase()} schema of step "${step}" (${ref})`, schema, rest, step };
  }

  /** Resolves a root-scope path (aliases included) for a read made when `consumer` runs. */
  resolve(path: string, consumer: string): Resolution {
    const segments = splitPath(path);
    const [head, kind] = segments;
    if (head === "previousStep" && (kind === "output" || kind === "input")) {
      const which = kind === "output" ? "Output" : "Input";
      if (consumer === this.definition.steps[0]?.name) return { kind: "skip", reason: `no step runs before "${consumer}" when it runs first` };
      const origins = this.order.previousSteps(consumer).map((p) => this.stepOrigin(p, which, segments.slice(2)));
      return { kind: "origins", origins: origins.filter((o): o is Origin => o !== undefined) };
    }
    const canonical = normalizeSegments(segments, { stepNames: this.stepNames }) ?? segments;
    const [root = "", ...rest] = canonical;
    if (root === "workflowInput") {
      if (!Object.hasOwn(this.definitions, "workflowInput")) return { kind: "noWorkflowInput" };
      const schema = this.schemaOf("#/definitions/workflowInput");
      return schema === undefined ? { kind: "skip" } : { kind: "origins", origins: [{ label: "workflowInput (#/definitions/workflowInput)", schema, rest }] };
    }
    for (const which of ["Output", "Input"] as const) {
      const step = root.endsWith(which) ? root.slice(0, -which.length) : undefined;
      if (step === undefined || !this.stepNames.has(step)) continue;
      const origin = this.stepOrigin(step, which, rest);
      return origin ? { kind: "origins", origins: [origin] } : { kind: "skip" };
    }
    return { kind: "unknownRoot" };
  }

  /** Reports what is certainly wrong with one read at the execution-data level. */
  checkRootRead(consumer: string, path: string, where: string, opts: { descendant: boolean; optional: boolean }): void {
    const subject = `${where} reads "${path}"`;
    const at = `step "${consumer}": ${subject}`;
    const r = this.resolve(path, consumer);
    if (r.kind === "unknownRoot") {
      // A fromEach field is also searched deeper in the data, so an unknown root is not certain to miss.
      if (!opts.descendant) this.errors.push(`${at}, which is not in the execution data (paths start with workflowInput, <step>Output, <step>Input, <step>.output or previousStep.output)`);
      return;
    }
    if (r.kind === "noWorkflowInput") {
      this.errors.push(`${at}, but definitions.workflowInput is missing: declare the job's input there`);
      return;
    }
    if (r.kind === "skip") {
      if (r.reason && this.order.reachable(consumer)) this.errors.push(`${at}, but ${r.reason}`);
      return;
    }
    for (const origin of r.origins) {
      // A polling step's own output is its last poll's payload, absent on the first poll: its
      // shape is the far end's, and json-xform skips what is missing.
      if (origin.step === consumer && POLLING_EXECUTORS.has(this.steps.get(consumer)?.integrationDetails.type ?? "")) continue;
      if (origin.step !== undefined && this.order.reachable(consumer) && !this.order.canRunBefore(origin.step, consumer)) {
        this.errors.push(`${at}, but step "${origin.step}" never runs before "${consumer}"`);
        continue;
      }
      this.judge(consumer, subject, origin.label, origin.schema, origin.rest, opts.optional);
    }
  }

  private judge(consumer: string, subject: string, label: string, schema: unknown, rest: string[], optional: boolean): void {
    if (rest.length === 0) return;
    const info = lookupSchemaPath(this.definitions, schema, rest);
    if (info.open) return;
    if (!info.declared) this.errors.push(`step "${consumer}": ${subject}, but ${label} does not declare "${rest.join(".")}"`);
    else if (!info.required && !optional) {
      this.errors.push(`step "${consumer}": indeterminate property usage: ${subject}, which ${label} declares but does not require`);
    }
  }

  /** The schema of the elements a (possibly nested) fromEach iterates, when the schemas say. */
  private elementSchema(consumer: string, scope: string[]): unknown {
    const [first, ...inner] = scope;
    if (first === undefined) return undefined;
    const r = this.resolve(first, consumer);
    if (r.kind !== "origins" || r.origins.length !== 1) return undefined;
    const origin = r.origins[0] as Origin;
    let schema = lookupSchemaPath(this.definitions, origin.schema, origin.rest).schema;
    for (let i = 0; ; i++) {
      if (schema === undefined) return undefined;
      const types = schemaTypes(this.definitions, schema);
      const resolved = resolveSchema(this.definitions, schema) as Record<string, unknown> | undefined;
      const isArray = types ? types.includes("array") : resolved?.items !== undefined || resolved?.prefixItems !== undefined;
      // json-xform iterates an array; any other value is treated as a one-element list.
      const element = isArray ? lookupSchemaPath(this.definitions, schema, ["0"]).schema : schema;
      const field = inner[i];
      if (field === undefined || element === undefined) return element;
      schema = lookupSchemaPath(this.definitions, element, splitPath(field)).schema;
    }
  }

  checkRead(consumer: string, read: TransformerRead): void {
    const where = `inputTransformer.${read.where}`;
    if (read.scope.length === 0) return this.checkRootRead(consumer, read.path, where, { descendant: read.kind === "descendant", optional: read.optional });
    const element = this.elementSchema(consumer, read.scope);
    if (element === undefined) return;
    this.judge(consumer, `${where} reads "${read.path}"`, `the items schema of "${read.scope.join(" > ")}"`, element, splitPath(read.path), read.optional);
  }

  /** The JSON types a write may put in the input; undefined when unknown. */
  private writtenTypes(consumer: string, write: TransformerWrite): string[] | undefined {
    if (write.type !== "unknown") return [write.type];
    if (write.source === undefined) return undefined;
    const r = this.resolve(write.source, consumer);
    if (r.kind !== "origins" || r.origins.length === 0) return undefined;
    const all: string[] = [];
    for (const o of r.origins) {
      const info = lookupSchemaPath(this.definitions, o.schema, o.rest);
      const t = info.declared && info.type !== undefined ? [info.type].flat() : undefined;
      if (!t) return undefined;
      all.push(...t);
    }
    return [...new Set(all)];
  }

  checkWrites(step: StepDefinition, writes: TransformerWrite[]): void {
    const ref = step.integrationDetails.inputDefinition.$ref;
    const input = this.schemaOf(ref);
    if (input === undefined) return;
    for (const write of writes) {
      if (write.target === null || write.shadowed) continue;
      const written = this.writtenTypes(step.name, write);
      if (!written) continue;
      for (let i = 1; i <= write.target.length; i++) {
        const prefix = write.target.slice(0, i);
        const info = lookupSchemaPath(this.definitions, input, prefix);
        if (!info.declared || info.type === undefined) break;
        const value = i < write.target.length ? ["object"] : written;
        const declared = [info.type].flat();
        if (!compatible(value, declared)) {
          this.errors.push(`step "${step.name}": inputTransformer.${write.where} writes ${value.join(" or ")} to "${prefix.join(".")}", but the input schema (${ref}) declares it as ${declared.join(" or ")}`);
          break;
        }
      }
    }
    if (writes.some((w) => w.target === null)) return;
    const written = new Set(writes.map((w) => w.target?.[0]));
    for (const key of requiredKeys(this.definitions, input)) {
      if (!written.has(key)) this.errors.push(`step "${step.name}": inputTransformer never writes "${key}", which the input schema (${ref}) requires`);
    }
  }

  checkForEach(step: StepDefinition): void {
    const children = step.integrationDetails.config?.children;
    if (step.integrationDetails.type !== "/justworkflowit/runChildJob" || !Array.isArray(children)) return;
    children.forEach((child: unknown, i) => {
      const path = (child as { forEach?: { arrayPath?: unknown } } | null)?.forEach?.arrayPath;
      if (typeof path !== "string") return;
      const where = `config.children[${i}].forEach.arrayPath`;
      this.checkRootRead(step.name, path, where, { descendant: false, optional: false });
      const r = this.resolve(path, step.name);
      if (r.kind !== "origins") return;
      for (const o of r.origins) {
        const info = lookupSchemaPath(this.definitions, o.schema, o.rest);
        const types = info.declared && info.type !== undefined ? [info.type].flat() : undefined;
        if (types && !types.includes("array")) this.errors.push(`step "${step.name}": ${where} "${path}" is not an array (${o.label} declares ${types.join(" or ")})`);
      }
    });
  }
}

function compatible(written: string[], declared: string[]): boolean {
  const numeric = (t: string) => t === "integer" || t === "number";
  return written.some((w) => declared.some((d) => w === d || (numeric(w) && numeric(d))));
}

/** Top-level properties a schema requires (its own `required` and its `allOf` branches'). */
function requiredKeys(definitions: Definitions, schema: unknown, depth = 0): string[] {
  const s = resolveSchema(definitions, schema);
  if (s === null || typeof s !== "object" || Array.isArray(s) || depth > 8) return [];
  const obj = s as Record<string, unknown>;
  const own = Array.isArray(obj.required) ? obj.required.filter((k): k is string => typeof k === "string") : [];
  const nested = Array.isArray(obj.allOf) ? obj.allOf.flatMap((sub) => requiredKeys(definitions, sub, depth + 1)) : [];
  return [...new Set([...own, ...nested])];
}

/** Runs the data-flow checks; `skip` names steps whose transformer already failed its syntax check. */
export function checkDataFlow(definition: WorkflowDefinition, skip: ReadonlySet<string>, options: DataFlowOptions = {}): string[] {
  const analysis = new Analysis(definition, options);
  for (const step of definition.steps) {
    analysis.checkForEach(step);
    const transformer = step.integrationDetails.inputTransformer;
    if (!transformer || skip.has(step.name)) continue;
    const { reads, writes } = describeTransformer(transformer);
    for (const read of reads) analysis.checkRead(step.name, read);
    analysis.checkWrites(step, writes);
  }
  return analysis.errors;
}
