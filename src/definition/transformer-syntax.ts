/**
 * The json-xform `fieldset` DSL as JustWorkflowIt uses it (`@nkorai/json-xform`, a fork of
 * `@perpk/json-xform`): its shape, the registration-time syntax check, and a static description of
 * what each entry reads and writes for the data-flow checks.
 */
import { z } from "zod";
import { patternProblems } from "./date-format";
import { checkTransformCommands, commandsResult, type TransformCommand } from "./transform-commands";

/** A `fromEach` block: one output element per element of the array found at `field`. */
export interface FromEachSpec {
  field: string;
  to?: string;
  flatten?: boolean;
  fieldset?: FieldsetEntry[];
  fromEach?: FromEachSpec;
  [key: string]: unknown;
}

/** json-xform value formatting: the value is read as a date in `sourceFormat` and written in `format`. */
export interface DateVia {
  type: "date";
  sourceFormat: string;
  format: string;
  [key: string]: unknown;
}

/** json-xform value formatting by a list of commands (src/definition/transform-commands.ts). */
export interface CommandsVia {
  type: "commands";
  transform: TransformCommand[];
  [key: string]: unknown;
}

export type ViaSpec = DateVia | CommandsVia;

/** One entry of a fieldset. */
export interface FieldsetEntry {
  from?: string;
  to?: string;
  toArray?: boolean;
  valueToKey?: boolean;
  withValueFrom?: string;
  withTemplate?: string;
  fromEach?: FromEachSpec;
  fromArray?: string[];
  skipEmpty?: boolean;
  unique?: boolean;
  flatten?: boolean;
  via?: ViaSpec;
  [key: string]: unknown;
}

/** `integrationDetails.inputTransformer`. */
export interface InputTransformer {
  fieldset: FieldsetEntry[];
  [key: string]: unknown;
}

// Types of the known keys only: unknown keys pass here and are refused by checkTransformerSyntax,
// which names them, so one bad key does not hide the definition's other problems.
const FromEachSchema: z.ZodType<FromEachSpec> = z.lazy(() =>
  z.looseObject({
    field: z.string(),
    to: z.string().optional(),
    flatten: z.boolean().optional(),
    fieldset: z.array(FieldsetEntrySchema).optional(),
    fromEach: FromEachSchema.optional(),
  }),
);

const FieldsetEntrySchema: z.ZodType<FieldsetEntry> = z.lazy(() =>
  z.looseObject({
    from: z.string().optional(),
    to: z.string().optional(),
    toArray: z.boolean().optional(),
    valueToKey: z.boolean().optional(),
    withValueFrom: z.string().optional(),
    withTemplate: z.string().optional(),
    fromEach: FromEachSchema.optional(),
    fromArray: z.array(z.string()).optional(),
    skipEmpty: z.boolean().optional(),
    unique: z.boolean().optional(),
    flatten: z.boolean().optional(),
    // Its shape is checked by checkTransformerSyntax, which names each problem.
    via: z.custom<ViaSpec>((v) => v !== null && typeof v === "object" && !Array.isArray(v), { error: "must be an object" }).optional(),
  }),
);

/** zod schema of an inputTransformer (types of known keys; see checkTransformerSyntax for the rest). */
export const InputTransformerSchema: z.ZodType<InputTransformer> = z.looseObject({ fieldset: z.array(FieldsetEntrySchema) });

/** json-xform template placeholders: `${path}` (its stringUtils.pickTemplateVarsFromString). */
export const TEMPLATE_PLACEHOLDER = /\$\{[A-Za-z$._0-9]+\}/g;

/** The paths a `withTemplate` string reads, in order, duplicates included. */
export function templatePaths(template: string): string[] {
  return (template.match(TEMPLATE_PLACEHOLDER) ?? []).map((m) => m.slice(2, -1));
}

const ENTRY_KEYS = new Set(["from", "to", "toArray", "valueToKey", "withValueFrom", "withTemplate", "fromEach",
  "fromArray", "skipEmpty", "unique", "flatten", "via"]);
const VIA_KEYS = { date: new Set(["type", "sourceFormat", "format"]), commands: new Set(["type", "transform"]) };
const FROM_EACH_KEYS = new Set(["field", "to", "flatten", "fieldset", "fromEach"]);
const STRING_KEYS = ["from", "to", "withValueFrom", "withTemplate"] as const;
const BOOLEAN_KEYS = ["toArray", "valueToKey", "skipEmpty", "unique", "flatten"] as const;
// Writing these would reach an object's prototype.
const FORBIDDEN_SEGMENTS = new Set(["__proto__", "prototype", "constructor"]);

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

function checkPath(value: unknown, where: string, out: string[], isTarget: boolean): void {
  if (typeof value !== "string") return void out.push(`${where} must be a string`);
  if (value === "") return void out.push(`${where} must not be empty`);
  const segments = value.split(".");
  if (segments.some((s) => s === "")) out.push(`${where} "${value}" has an empty path segment`);
  if (isTarget && segments.some((s) => FORBIDDEN_SEGMENTS.has(s))) out.push(`${where} "${value}" may not write "__proto__", "prototype" or "constructor"`);
}

function checkFieldset(fieldset: unknown, where: string, out: string[]): void {
  if (!Array.isArray(fieldset)) return void out.push(`${where} must be an array`);
  if (fieldset.length === 0) return void out.push(`${where} must have at least one entry`);
  fieldset.forEach((entry, i) => checkEntry(entry, `${where}[${i}]`, out));
}

function checkEntry(entry: unknown, where: string, out: string[]): void {
  if (!isObject(entry)) return void out.push(`${where} must be an object`);
  for (const key of Object.keys(entry)) if (!ENTRY_KEYS.has(key)) out.push(`${where}: unsupported key "${key}"`);
  if (entry.via !== undefined) checkVia(entry.via, `${where}.via`, out);
  for (const key of STRING_KEYS) if (key in entry && typeof entry[key] !== "string") out.push(`${where}.${key} must be a string`);
  for (const key of BOOLEAN_KEYS) if (key in entry && typeof entry[key] !== "boolean") out.push(`${where}.${key} must be a boolean`);
  const has = (k: string) => entry[k] !== undefined;
  if (has("from")) checkPath(entry.from, `${where}.from`, out, !has("to") && !entry.valueToKey);
  if (has("to")) checkPath(entry.to, `${where}.to`, out, true);
  if (has("withValueFrom")) checkPath(entry.withValueFrom, `${where}.withValueFrom`, out, has("withTemplate"));
  if (has("fromArray")) {
    const list = entry.fromArray;
    if (!Array.isArray(list)) out.push(`${where}.fromArray must be an array of paths`);
    else list.forEach((p, i) => checkPath(p, `${where}.fromArray[${i}]`, out, false));
  }
  if (has("fromEach")) checkFromEach(entry.fromEach, `${where}.fromEach`, out);
  if (has("fromArray") && !has("to")) out.push(`${where}: "fromArray" needs "to"`);
  if (entry.valueToKey === true && (!has("from") || !has("withValueFrom"))) {
    out.push(`${where}: "valueToKey" needs "from" (the key) and "withValueFrom" (the value)`);
  }
  // json-xform's own schema: exactly one of from/withTemplate (withTemplate with exactly one of
  // to/withValueFrom), or a fromEach, or a fromArray with its to.
  const simple = has("from") !== has("withTemplate") && (!has("withTemplate") || has("to") !== has("withValueFrom"));
  if (simple || has("fromEach") || has("fromArray")) return;
  if (has("from") && has("withTemplate")) out.push(`${where}: "from" and "withTemplate" cannot be used together`);
  else if (has("withTemplate")) out.push(`${where}: "withTemplate" needs exactly one of "to" or "withValueFrom"`);
  else out.push(`${where}: needs one of "from", "withTemplate", "fromEach" or "fromArray"`);
}

/**
 * `via` as json-xform runs it: `{type: "date", sourceFormat, format}`, or `{type: "commands",
 * transform: [...]}`. JustWorkflowIt's definition schema lists both types; the `transform` list is
 * json-xform's, accepted here as an extension, its commands from an allow-list.
 */
function checkVia(via: unknown, where: string, out: string[]): void {
  if (!isObject(via)) return void out.push(`${where} must be an object {"type": "date", "sourceFormat": ..., "format": ...} or {"type": "commands", "transform": [...]}`);
  if (via.type !== "date" && via.type !== "commands") return void out.push(`${where}.type must be "date" or "commands"`);
  for (const key of Object.keys(via)) if (!VIA_KEYS[via.type].has(key)) out.push(`${where}: unsupported key "${key}" for type "${via.type}"`);
  if (via.type === "commands") return checkTransformCommands(via.transform, `${where}.transform`, out);
  for (const key of ["sourceFormat", "format"] as const) {
    const pattern = via[key];
    if (typeof pattern !== "string" || pattern === "") {
      out.push(`${where}.${key} is required: a date pattern such as "yyyy-MM-dd"`);
      continue;
    }
    for (const problem of patternProblems(pattern, key === "format" ? "format" : "parse")) out.push(`${where}.${key} "${pattern}": ${problem}`);
  }
}

function checkFromEach(spec: unknown, where: string, out: string[]): void {
  if (!isObject(spec)) return void out.push(`${where} must be an object`);
  for (const key of Object.keys(spec)) if (!FROM_EACH_KEYS.has(key)) out.push(`${where}: unsupported key "${key}"`);
  if (spec.field === undefined) out.push(`${where}.field is required`);
  else checkPath(spec.field, `${where}.field`, out, false);
  if (spec.to !== undefined) {
    if (typeof spec.to !== "string" || spec.to === "") out.push(`${where}.to must be a non-empty string`);
    else if (FORBIDDEN_SEGMENTS.has(spec.to)) out.push(`${where}.to may not be "${spec.to}"`);
  }
  if (spec.flatten !== undefined && typeof spec.flatten !== "boolean") out.push(`${where}.flatten must be a boolean`);
  if (spec.fieldset !== undefined) checkFieldset(spec.fieldset, `${where}.fieldset`, out);
  if (spec.fromEach !== undefined) checkFromEach(spec.fromEach, `${where}.fromEach`, out);
}

/** Refuses every key, verb or combination the transformer does not support; [] when it is usable. */
export function checkTransformerSyntax(transformer: unknown): string[] {
  const out: string[] = [];
  if (!isObject(transformer)) return ["inputTransformer must be an object {\"fieldset\": [...]}"];
  for (const key of Object.keys(transformer)) if (key !== "fieldset") out.push(`inputTransformer: unsupported key "${key}"`);
  if (transformer.fieldset === undefined) out.push(`inputTransformer.fieldset is required`);
  else checkFieldset(transformer.fieldset, "inputTransformer.fieldset", out);
  return out;
}

/** A path one entry reads. */
export interface TransformerRead {
  path: string;
  /** Where in the transformer, e.g. `fieldset[0].from`. */
  where: string;
  /** Enclosing fromEach fields, outermost first: the path is relative to their elements. [] = execution data. */
  scope: string[];
  /** `descendant`: a fromEach field, which json-xform also looks for deeper in the data (`$..field`). */
  kind: "path" | "descendant";
  /** The entry expects the value may be missing (fromArray with skipEmpty). */
  optional: boolean;
}

/** What one top-level entry writes into the step's input. */
export interface TransformerWrite {
  /** Segments of the written path; null when the key comes from the data (valueToKey). */
  target: string[] | null;
  /** `string` for templates, `array` for fromEach/fromArray/toArray, `unknown` for a copied value (see `source`). */
  type: "string" | "array" | "unknown";
  /** For a plain `from`: the path whose value is copied. */
  source?: string;
  /** An earlier entry already wrote this key; json-xform keeps the first non-empty value. */
  shadowed: boolean;
  where: string;
}

/** Enumerates what every entry reads (source paths) and what the top-level entries write (target and type). */
export function describeTransformer(transformer: InputTransformer): { reads: TransformerRead[]; writes: TransformerWrite[] } {
  const reads: TransformerRead[] = [];
  const writes: TransformerWrite[] = [];
  const read = (path: string, where: string, scope: string[], kind: TransformerRead["kind"] = "path", optional = false) =>
    reads.push({ path, where, scope, kind, optional });

  const visitFromEach = (spec: FromEachSpec, where: string, scope: string[]): void => {
    read(spec.field, `${where}.field`, scope, "descendant");
    const inner = [...scope, spec.field];
    spec.fieldset?.forEach((e, i) => visitEntry(e, `${where}.fieldset[${i}]`, inner));
    if (spec.fromEach) visitFromEach(spec.fromEach, `${where}.fromEach`, inner);
  };
  const visitEntry = (entry: FieldsetEntry, where: string, scope: string[]): void => {
    const top = scope.length === 0;
    const write = (target: string[] | null, type: TransformerWrite["type"], at: string, source?: string) => {
      if (top) writes.push({ target, type, where: at, shadowed: false, ...(source === undefined ? {} : { source }) });
    };
    if (entry.fromEach) {
      visitFromEach(entry.fromEach, `${where}.fromEach`, scope);
      // json-xform writes fromEach results under `to` as one literal key, dots included.
      write([entry.fromEach.to || entry.fromEach.field], "array", `${where}.fromEach`);
    }
    if (entry.fromArray) {
      entry.fromArray.forEach((p, i) => read(p, `${where}.fromArray[${i}]`, scope, "path", entry.skipEmpty === true));
      if (entry.to) write(entry.to.split("."), "array", where);
    }
    if (entry.from) {
      read(entry.from, `${where}.from`, scope);
      if (entry.valueToKey) {
        if (entry.withValueFrom) read(entry.withValueFrom, `${where}.withValueFrom`, scope);
        write(null, "unknown", where);
      } else if (entry.toArray) write((entry.to || entry.from).split("."), "array", where);
      // A date is the text `via.format` writes, whatever the source's type; commands write what their last one returns.
      else if (entry.via) write((entry.to || entry.from).split("."), entry.via.type === "commands" ? commandsResult(entry.via.transform) : "string", where);
      else write((entry.to || entry.from).split("."), "unknown", where, entry.from);
    }
    if (entry.withTemplate) {
      for (const p of templatePaths(entry.withTemplate)) read(p, `${where}.withTemplate`, scope);
      const to = entry.to || entry.withValueFrom;
      if (to) write(to.split("."), "string", where);
    }
  };
  transformer.fieldset.forEach((e, i) => visitEntry(e, `fieldset[${i}]`, []));
  const seen = new Set<string>();
  for (const w of writes) {
    if (w.target?.length !== 1) continue;
    const key = w.target[0] as string;
    w.shadowed = seen.has(key);
    seen.add(key);
  }
  return { reads, writes };
}
