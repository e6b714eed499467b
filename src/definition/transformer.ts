/**
 * Applies an inputTransformer (the json-xform `fieldset` DSL) to execution data, reproducing what
 * JustWorkflowIt's engine gets from `@nkorai/json-xform`'s `mapToNewObject`, quirks included:
 * falsy values are not copied, a plain key keeps its first non-empty value, templates replace the
 * first occurrence of each placeholder, `flatten` merges element objects, `via` formats a value
 * only where json-xform does (see `formatter`). Only the alias paths (`<step>.output.x`,
 * `previousStep.output.x`) are Canopy's addition.
 */
import { getPath, getSegments, normalizeSegments, splitPath, type ExecutionData, type PathContext } from "./paths";
import { reformatDate } from "./date-format";
import { runTransformCommands } from "./transform-commands";
import { templatePaths, type FieldsetEntry, type FromEachSpec, type InputTransformer } from "./transformer-syntax";

export {
  checkTransformerSyntax,
  describeTransformer,
  InputTransformerSchema,
  templatePaths,
  type FieldsetEntry,
  type FromEachSpec,
  type InputTransformer,
  type TransformerRead,
  type TransformerWrite,
} from "./transformer-syntax";

/** A transformer met data it cannot transform (json-xform throws in the same places). */
export class TransformError extends Error {
  override readonly name = "TransformError";
}

type Obj = Record<string, unknown>;
// Null-prototype targets: a key taken from the data (valueToKey) can never reach Object.prototype.
const newObject = (): Obj => Object.create(null) as Obj;
const isObjectLike = (v: unknown): v is Obj => v !== null && typeof v === "object";
// Values enter the target as copies: a later dotted write into them must never reach the
// execution data (json-xform shares them, and so mutates its source).
const copy = <T>(v: T): T => (isObjectLike(v) ? structuredClone(v) : v);

/** Reads paths relative to one source: the execution data (aliases allowed) or a fromEach element. */
interface Scope {
  /** The decision's time: the reference date of `via` date parsing (fields a pattern omits). */
  now: number;
  read(path: string): unknown;
  /** json-xform's fromEach lookup, `$..field`: the first match anywhere below the source. */
  readDescendant(path: string): unknown;
}

function rootScope(data: ExecutionData, ctx: PathContext, now: number): Scope {
  return {
    now,
    read: (path) => getPath(data, path, ctx),
    // Canonical keys sit at the top of execution data, so the direct read answers without walking
    // the whole job; only a miss falls back to json-xform's full search.
    readDescendant: (path) => {
      const direct = getPath(data, path, ctx);
      if (direct !== undefined) return direct;
      return findDescendant(data, normalizeSegments(splitPath(path), ctx, data) ?? splitPath(path));
    },
  };
}

function elementScope(source: unknown, now: number): Scope {
  return { now, read: (path) => getSegments(source, splitPath(path)), readDescendant: (path) => findDescendant(source, splitPath(path)) };
}

/** jsonpath's `$..head.rest`: candidates for `head` in document pre-order, first one where `rest` resolves. */
function findDescendant(source: unknown, segments: readonly string[]): unknown {
  const [head, ...rest] = segments;
  if (head === undefined) return source;
  let found: unknown;
  const visit = (node: unknown): boolean => {
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) if (match(String(i), node[i]) || visit(node[i])) return true;
    } else if (isObjectLike(node)) {
      for (const [key, value] of Object.entries(node)) if (match(key, value) || visit(value)) return true;
    }
    return false;
  };
  const match = (key: string, value: unknown): boolean => {
    if (key !== head) return false;
    found = getSegments(value, rest);
    return found !== undefined;
  };
  return visit(source) ? found : undefined;
}

type Format = (value: unknown) => unknown;
const asIs: Format = (v) => v;

/**
 * The entry's `via` formatting, or the value as is; a value that is not a date in `sourceFormat`,
 * or that a command does not apply to, throws.
 */
function formatter(scope: Scope, entry: FieldsetEntry): Format {
  const via = entry.via;
  if (!via) return asIs;
  return (value) => {
    try {
      return via.type === "commands" ? runTransformCommands(value, via.transform) : reformatDate(value, via, scope.now);
    } catch (e) {
      throw new TransformError(`via: ${(e as Error).message}`);
    }
  };
}

/**
 * json-xform's addPropToTarget: dotted paths create objects and overwrite; a plain key keeps its
 * first non-empty value. `format` (an entry's `via`) applies only to a value that is written.
 */
function addProp(target: Obj, property: string, raw: unknown, toArray = false, format: Format = asIs): void {
  const formatted = () => format(raw);
  // json-xform's targets inherit from Object.prototype, so a `__proto__` key is never written as data.
  if (property.split(".").includes("__proto__")) return;
  if (!property.includes(".")) {
    if (!target[property]) target[property] = toArray ? [formatted()] : formatted();
    return;
  }
  const parts = property.split(".");
  // json-xform discards the write of a path that starts with a dot.
  if (parts[0] === "") return;
  let node: unknown = target;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string;
    // json-xform stops at an empty segment and writes there.
    const last = i === parts.length - 1 || parts[i + 1] === "";
    if (!isObjectLike(node)) throw new TransformError(`cannot write "${property}": "${parts.slice(0, i).join(".")}" is not an object`);
    if (last) {
      const value = formatted();
      node[part] = toArray ? [value] : value;
      return;
    }
    if (!node[part]) node[part] = newObject();
    node = node[part];
  }
}

function templateText(value: unknown): string {
  try {
    return String(value);
  } catch {
    return "[object Object]";
  }
}

function applyEntry(scope: Scope, entry: FieldsetEntry, target: Obj): void {
  const format = formatter(scope, entry);
  if (entry.fromEach) applyFromEach(scope, entry.fromEach, target);
  if (entry.fromArray && entry.to) {
    // Each element is formatted first, then flattened, filtered and deduplicated (json-xform's order).
    let values = entry.fromArray.map((p) => format(scope.read(p)));
    if (entry.flatten) values = values.flatMap((v) => (Array.isArray(v) ? v : [v]));
    if (entry.skipEmpty) values = values.filter((v) => v !== undefined && v !== null && v !== "");
    // Deduplicated by identity, as json-xform does, before the copies are made.
    if (entry.unique) values = [...new Set(values)];
    addProp(target, entry.to, values.map(copy));
  }
  if (entry.from) {
    let to: unknown = entry.to || entry.from;
    let value = scope.read(entry.from);
    if (entry.valueToKey) {
      to = value;
      value = entry.withValueFrom === undefined ? undefined : scope.read(entry.withValueFrom);
    }
    // json-xform skips falsy values (0, false, "" included) and the rest of this entry with them.
    if (!value) return;
    if (typeof to !== "string") throw new TransformError(`"${entry.from}" gives a key that is not a string`);
    addProp(target, to, copy(value), entry.toArray === true, format);
  }
  if (entry.withTemplate) {
    const to = entry.to || entry.withValueFrom;
    if (to === undefined) return;
    const values: Obj = newObject();
    for (const path of templatePaths(entry.withTemplate)) values[path] = scope.read(path);
    let text = entry.withTemplate;
    // String.replace with a string pattern: the first occurrence of each placeholder only.
    for (const [path, value] of Object.entries(values)) text = text.replace(`\${${path}}`, templateText(format(value)));
    addProp(target, to, text);
  }
}

function applyFieldset(scope: Scope, fieldset: readonly FieldsetEntry[], target: Obj): Obj {
  for (const entry of fieldset) applyEntry(scope, entry, target);
  return target;
}

function applyFromEach(scope: Scope, spec: FromEachSpec, target: Obj): Obj {
  const to = spec.to || spec.field;
  const flatten = spec.flatten === true;
  const sources = scope.readDescendant(spec.field);
  if (!Object.keys(target).includes(to)) target[to] = [];
  let block: unknown;
  if (spec.fieldset) block = applyFieldsets(sources, spec.fieldset, flatten, spec.field, scope.now);
  else if (spec.fromEach) block = applyFromEach(elementScope(sources, scope.now), spec.fromEach, newObject());
  else block = copy(sources);
  target[to] = addBlock(block, target[to], flatten, spec.field, to);
  return target;
}

function applyFieldsets(sources: unknown, fieldset: readonly FieldsetEntry[], flatten: boolean, field: string, now: number): unknown {
  if (sources === undefined || sources === null) throw new TransformError(`fromEach: "${field}" was not found`);
  const list = Array.isArray(sources) ? sources : [sources];
  if (flatten) {
    // One object for all elements: later elements only fill keys the earlier ones left empty.
    const merged = newObject();
    for (const item of list) applyFieldset(elementScope(item, now), fieldset, merged);
    return merged;
  }
  return list.map((item) => applyFieldset(elementScope(item, now), fieldset, newObject())).filter((o) => Object.keys(o).length > 0);
}

function addBlock(block: unknown, current: unknown, flatten: boolean, field: string, to: string): unknown[] {
  let next: unknown[];
  if (Array.isArray(current)) next = [...current];
  else if (typeof current === "string") next = [...current];
  else throw new TransformError(`fromEach: "${to}" already holds a value that is not a list`);
  if (block === undefined || block === null) throw new TransformError(`fromEach: "${field}" was not found`);
  const value = flatten ? flattenEverything(block) : block;
  if (Array.isArray(value)) next.push(...value);
  else next.push(value);
  return next;
}

/**
 * json-xform's flattenEverything, kept as is: an array of one element is merged into its parent,
 * an array of objects with a single key becomes the list of those values, any other array replaces
 * the whole block.
 */
function flattenEverything(everything: unknown): unknown {
  let copy: Obj = Object.assign({}, everything);
  for (const [key, value] of Object.entries(everything as Obj)) {
    if (value === null || value === undefined) throw new TransformError(`flatten: "${key}" is ${String(value)}`);
    if (!Array.isArray(value) || value.length === 0) continue;
    if (value.length === 1) {
      copy = { ...copy, ...Object.assign({}, ...value) };
    } else {
      const first: unknown = value[0];
      if (first === null || first === undefined) throw new TransformError(`flatten: "${key}" holds ${String(first)}`);
      const keys = Object.keys(first as object);
      if (keys.length === 1) {
        const only = keys[0] as string;
        const values: unknown[] = [];
        for (const element of value) {
          if (element === null || element === undefined) throw new TransformError(`flatten: "${key}" holds ${String(element)}`);
          const picked = (element as Obj)[only];
          if (picked) values.push(picked);
        }
        copy[only] = values;
      } else {
        copy = value.slice() as unknown as Obj;
      }
    }
    delete copy[key];
  }
  return copy;
}

/**
 * Computes a step's input from the execution data (pure); throws TransformError where json-xform
 * would throw. `now` is the decision's time, the reference date of `via` date parsing.
 */
export function applyTransformer(transformer: InputTransformer, executionData: ExecutionData, ctx: PathContext, now = 0): unknown {
  const result = applyFieldset(rootScope(executionData, ctx, now), transformer.fieldset, newObject());
  // The input is stored and validated as JSON: this is exactly what JustWorkflowIt persists.
  return JSON.parse(JSON.stringify(result)) as unknown;
}
