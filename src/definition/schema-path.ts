/**
 * What a JSON Schema says about one path inside the values it accepts: is the path declared, is it
 * always present, what type does it hold. Registration uses it to judge transformer reads and
 * writes; it only claims what the schema makes certain.
 */
import { resolvePointer } from "./schema-walk";

/** What a schema says about a path. */
export interface SchemaPathInfo {
  /** The schema declares the path (`properties`, `items`, a map's `additionalProperties`, …). */
  declared: boolean;
  /** Every segment of the path is required, so a valid value always has it. */
  required: boolean;
  /** The schema does not describe this level at all (`{"type": "object"}`): no claim either way. */
  open: boolean;
  /** The JSON types the schema allows at the path, when it says. */
  type?: string | string[];
  /** The schema at the path, for looking further (e.g. an array's items). */
  schema?: unknown;
}

type Obj = Record<string, unknown>;
const MAX_REF_HOPS = 32;
// Combinators can nest and recurse through $ref; deeper than this, a schema is treated as saying nothing.
const MAX_DEPTH = 8;

function isObject(value: unknown): value is Obj {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Follows `$ref`s (local pointers into `{definitions}`) until a schema without one; undefined if unresolvable. */
export function resolveSchema(definitions: Obj, schema: unknown): unknown {
  let current = schema;
  for (let hop = 0; hop < MAX_REF_HOPS; hop++) {
    if (!isObject(current) || typeof current.$ref !== "string") return current;
    const ref = current.$ref;
    if (!ref.startsWith("#")) return undefined;
    const target = resolvePointer({ definitions }, ref.slice(1));
    if (target === undefined) return undefined;
    // A $ref with siblings (2020-12) means both apply.
    const { $ref: _ignored, ...siblings } = current;
    current = Object.keys(siblings).length > 0 ? { allOf: [target, siblings] } : target;
  }
  return undefined;
}

interface Step {
  declared: boolean;
  required: boolean;
  open: boolean;
  next: unknown[];
}

const OPEN: Step = { declared: false, required: false, open: true, next: [] };
const CLOSED: Step = { declared: false, required: false, open: false, next: [] };

function and(parts: Step[]): Step {
  const declared = parts.some((p) => p.declared);
  return {
    declared,
    required: parts.some((p) => p.required),
    open: !declared && parts.every((p) => p.open),
    next: parts.flatMap((p) => p.next),
  };
}

function or(alternatives: Step[]): Step {
  const declared = alternatives.some((a) => a.declared);
  return {
    declared,
    required: declared && alternatives.every((a) => a.required),
    open: !declared && alternatives.some((a) => a.open),
    next: alternatives.length > 1 ? [{ anyOf: alternatives.map((a) => ({ allOf: a.next })) }] : alternatives.flatMap((a) => a.next),
  };
}

function typesOf(s: Obj): string[] | undefined {
  if (typeof s.type === "string") return [s.type];
  if (Array.isArray(s.type)) return s.type.filter((t): t is string => typeof t === "string");
  return undefined;
}

function describesArray(s: Obj): boolean {
  const types = typesOf(s);
  if (types) return types.includes("array") && !types.includes("object");
  return (s.items !== undefined || s.prefixItems !== undefined) && s.properties === undefined;
}

/** One segment of a path below schema `s`. */
function segment(definitions: Obj, schema: unknown, key: string, depth: number): Step {
  const s = resolveSchema(definitions, schema);
  if (s === false) return CLOSED;
  if (!isObject(s) || depth > MAX_DEPTH) return OPEN;
  const parts: Step[] = [];
  const types = typesOf(s);
  if (types && !types.includes("object") && !types.includes("array")) return CLOSED;
  if (describesArray(s)) {
    parts.push(arraySegment(s, key));
  } else {
    const props = isObject(s.properties) ? s.properties : undefined;
    const required = Array.isArray(s.required) && s.required.includes(key);
    if (props && Object.hasOwn(props, key)) {
      parts.push({ declared: true, required, open: false, next: [props[key]] });
    } else {
      const patterns = isObject(s.patternProperties) ? Object.entries(s.patternProperties) : [];
      const matching = patterns.filter(([p]) => safeTest(p, key)).map(([, sub]) => sub);
      const extra = isObject(s.additionalProperties) ? [s.additionalProperties] : [];
      const next = [...matching, ...extra];
      const closed = props !== undefined || s.additionalProperties === false || patterns.length > 0;
      if (next.length > 0 || required) parts.push({ declared: true, required, open: false, next });
      else parts.push(closed ? CLOSED : OPEN);
    }
  }
  if (Array.isArray(s.allOf)) parts.push(...s.allOf.map((sub) => segment(definitions, sub, key, depth + 1)));
  for (const key2 of ["anyOf", "oneOf"] as const) {
    const alts = s[key2];
    if (Array.isArray(alts) && alts.length > 0) parts.push(or(alts.map((sub) => segment(definitions, sub, key, depth + 1))));
  }
  for (const branch of [s.then, s.else]) {
    // A conditional branch may add the property, never make it certain.
    if (branch === undefined) continue;
    const b = segment(definitions, branch, key, depth + 1);
    if (b.declared) parts.push({ ...b, required: false });
  }
  return and(parts);
}

function arraySegment(s: Obj, key: string): Step {
  if (key === "length") return { declared: true, required: true, open: false, next: [{ type: "integer", minimum: 0 }] };
  if (!/^(0|[1-9][0-9]*)$/.test(key)) return CLOSED;
  const index = Number(key);
  const tuple = Array.isArray(s.prefixItems) ? s.prefixItems : Array.isArray(s.items) ? s.items : undefined;
  const rest = Array.isArray(s.prefixItems) ? s.items : Array.isArray(s.items) ? s.additionalItems : s.items;
  const element = tuple && index < tuple.length ? tuple[index] : rest;
  if (element === false) return CLOSED;
  const required = typeof s.minItems === "number" && s.minItems > index;
  if (element === undefined || element === true) return { ...OPEN, required };
  return { declared: true, required, open: false, next: [element] };
}

function safeTest(pattern: string, key: string): boolean {
  try {
    return new RegExp(pattern, "u").test(key);
  } catch {
    return false;
  }
}

/** The JSON types a schema allows, when it says (through `$ref`, `allOf`, `anyOf`/`oneOf`, `const`, `enum`). */
export function schemaTypes(definitions: Obj, schema: unknown, depth = 0): string[] | undefined {
  const s = resolveSchema(definitions, schema);
  if (!isObject(s) || depth > MAX_DEPTH) return undefined;
  const own = typesOf(s);
  if (own) return own;
  if (Object.hasOwn(s, "const")) return [jsonType(s.const)];
  if (Array.isArray(s.enum)) return [...new Set(s.enum.map(jsonType))];
  if (Array.isArray(s.allOf)) {
    for (const sub of s.allOf) {
      const t = schemaTypes(definitions, sub, depth + 1);
      if (t) return t;
    }
  }
  const alts = Array.isArray(s.anyOf) ? s.anyOf : Array.isArray(s.oneOf) ? s.oneOf : undefined;
  if (alts && alts.length > 0) {
    const each = alts.map((sub) => schemaTypes(definitions, sub, depth + 1));
    if (each.every((t) => t !== undefined)) return [...new Set(each.flat() as string[])];
  }
  return undefined;
}

/** The JSON Schema type name of a JSON value. */
export function jsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

/** Looks a path (segments, `length` and indexes included) up in a schema, following `$ref`, `properties`, `required`, `items`. */
export function lookupSchemaPath(definitions: Obj, schema: unknown, segments: readonly string[]): SchemaPathInfo {
  let current: unknown = schema;
  let required = true;
  for (const key of segments) {
    const step = segment(definitions, current, key, 0);
    if (!step.declared) return { declared: false, required: false, open: step.open };
    required &&= step.required;
    current = step.next.length === 1 ? step.next[0] : { allOf: step.next };
  }
  const types = schemaTypes(definitions, current);
  const type = types === undefined ? undefined : types.length === 1 ? types[0] : types;
  return { declared: true, required, open: false, ...(type === undefined ? {} : { type }), schema: current };
}
