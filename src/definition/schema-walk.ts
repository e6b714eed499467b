/** Small, dependency-free walks over JSON Schema documents shared by compilation and data-flow analysis. */
import type { SchemaDraft } from "@cfworker/json-schema";

type Obj = Record<string, unknown>;

function isObject(value: unknown): value is Obj {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** Resolves a JSON Pointer (`/definitions/x/properties/y`, URI-encoded or not) inside a document. */
export function resolvePointer(document: unknown, pointer: string): unknown {
  if (pointer === "") return document;
  if (!pointer.startsWith("/")) return undefined;
  let current = document;
  for (const raw of pointer.slice(1).split("/")) {
    let token: string;
    try {
      token = decodeURIComponent(raw).replace(/~1/g, "/").replace(/~0/g, "~");
    } catch {
      return undefined;
    }
    if (Array.isArray(current) && /^(0|[1-9][0-9]*)$/.test(token)) current = current[Number(token)];
    else if (isObject(current) && Object.hasOwn(current, token)) current = current[token];
    else return undefined;
  }
  return current;
}

const SINGLE = ["additionalProperties", "items", "additionalItems", "contains", "not", "if", "then", "else",
  "propertyNames", "unevaluatedItems", "unevaluatedProperties"] as const;
const LISTS = ["allOf", "anyOf", "oneOf", "prefixItems", "items"] as const;
const MAPS = ["properties", "patternProperties", "definitions", "$defs", "dependentSchemas", "dependencies"] as const;

/** Calls `visit` for each direct subschema of a schema, with its pointer suffix. */
export function forEachSubschema(schema: unknown, visit: (sub: unknown, key: string) => void): void {
  if (!isObject(schema)) return;
  for (const key of SINGLE) {
    const sub = schema[key];
    if (sub !== undefined && !Array.isArray(sub)) visit(sub, key);
  }
  for (const key of LISTS) {
    const list = schema[key];
    if (Array.isArray(list)) list.forEach((sub, i) => visit(sub, `${key}/${i}`));
  }
  for (const key of MAPS) {
    const map = schema[key];
    if (!isObject(map)) continue;
    for (const [name, sub] of Object.entries(map)) {
      // draft-07 `dependencies` mixes schemas and arrays of property names.
      if (key === "dependencies" && Array.isArray(sub)) continue;
      visit(sub, `${key}/${name}`);
    }
  }
}

/** Calls `visit` for every `$ref` string inside a schema, with where it sits. */
export function walkRefs(schema: unknown, visit: (ref: string, at: string) => void, at = ""): void {
  if (!isObject(schema)) return;
  if (typeof schema.$ref === "string") visit(schema.$ref, at);
  forEachSubschema(schema, (sub, key) => walkRefs(sub, visit, `${at}/${key}`));
}

/** The draft a schema declares with `$schema`, or undefined when absent or unsupported. */
export function schemaDraftOf(schema: unknown): SchemaDraft | undefined {
  if (!isObject(schema) || typeof schema.$schema !== "string") return undefined;
  const uri = schema.$schema;
  if (uri.includes("2020-12")) return "2020-12";
  if (uri.includes("2019-09")) return "2019-09";
  if (/draft-0[67]/.test(uri)) return "7";
  if (uri.includes("draft-04")) return "4";
  return undefined;
}
