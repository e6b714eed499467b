/**
 * A workflow's `workflowInput` schema in the browser: an example input to start from, and the same
 * check the engine makes when a job is submitted (@cfworker/json-schema, the validator the engine
 * uses, so the console and the API agree on what is valid).
 */
import { dereference, validate, type Schema, type SchemaDraft } from "@cfworker/json-schema";

type Definitions = Record<string, unknown>;
type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

function draftOf(schema: unknown): SchemaDraft {
  const uri = isObj(schema) && typeof schema.$schema === "string" ? schema.$schema : "";
  if (uri.includes("2020-12")) return "2020-12";
  if (uri.includes("2019-09")) return "2019-09";
  if (uri.includes("draft-04")) return "4";
  return "7";
}

/** The definitions of a definition's JSON text (empty when it has none or cannot be read). */
export function definitionsOf(definitionText: string): Definitions {
  try {
    const def = JSON.parse(definitionText) as { definitions?: unknown };
    return isObj(def.definitions) ? def.definitions : {};
  } catch {
    return {};
  }
}

/** Checks a job input against `definitions.workflowInput`: the problems, empty when valid (or when there is no such schema). */
export function inputProblems(definitions: Definitions, input: unknown): string[] {
  if (!Object.hasOwn(definitions, "workflowInput")) return [];
  try {
    // dereference() annotates what it sees: it gets a copy.
    const root = JSON.parse(JSON.stringify({ definitions })) as { definitions: Definitions };
    const schema = root.definitions.workflowInput as Schema | boolean;
    const result = validate(input, schema, draftOf(schema), dereference(root as Schema), false);
    if (result.valid) return [];
    const specific = result.errors.filter((e) => !/subschema|does not match schema|Items did not match|False boolean schema/i.test(e.error));
    const chosen = specific.length > 0 ? specific : result.errors;
    return [...new Set(chosen.map((e) => `${e.instanceLocation.replace(/^#/, "") || "/"}: ${e.error}`))];
  } catch (e) {
    return [`The workflowInput schema cannot be used: ${(e as Error).message}`];
  }
}

/** The schema a local `$ref` names. */
function resolve(definitions: Definitions, schema: unknown): unknown {
  let s = schema;
  for (let hops = 0; hops < 20 && isObj(s) && typeof s.$ref === "string"; hops++) {
    const m = /^#\/definitions\/(.+)$/.exec(s.$ref);
    s = m ? definitions[decodeURIComponent(m[1]!).replace(/~1/g, "/").replace(/~0/g, "~")] : undefined;
  }
  return s;
}

/** An example value of a schema: its default or example if it has one, else the simplest value of its type. */
export function exampleOf(definitions: Definitions, schema: unknown, depth = 0): unknown {
  const s = resolve(definitions, schema);
  if (!isObj(s) || depth > 8) return null;
  if (s.default !== undefined) return s.default;
  if (Array.isArray(s.examples) && s.examples.length > 0) return s.examples[0];
  if (s.const !== undefined) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  for (const k of ["oneOf", "anyOf", "allOf"]) {
    const list = s[k];
    if (Array.isArray(list) && list.length > 0) return exampleOf(definitions, list[0], depth + 1);
  }
  const type = Array.isArray(s.type) ? s.type[0] : s.type ?? (isObj(s.properties) ? "object" : undefined);
  switch (type) {
    case "object": {
      const out: Obj = {};
      const props = isObj(s.properties) ? s.properties : {};
      for (const [name, sub] of Object.entries(props)) out[name] = exampleOf(definitions, sub, depth + 1);
      return out;
    }
    case "array": {
      const min = typeof s.minItems === "number" ? s.minItems : 0;
      return Array.from({ length: Math.min(min, 3) }, () => exampleOf(definitions, s.items, depth + 1));
    }
    case "string":
      if (s.format === "date-time") return new Date().toISOString();
      return typeof s.minLength === "number" && s.minLength > 0 ? "x".repeat(s.minLength) : "";
    case "integer":
    case "number":
      return typeof s.minimum === "number" ? s.minimum : typeof s.exclusiveMinimum === "number" ? s.exclusiveMinimum + 1 : 0;
    case "boolean":
      return false;
    default:
      return null;
  }
}

/** The input a new job of this definition starts from: an example of its workflowInput, `{}` without one. */
export function exampleInput(definitionText: string): unknown {
  const definitions = definitionsOf(definitionText);
  return Object.hasOwn(definitions, "workflowInput") ? exampleOf(definitions, definitions.workflowInput) : {};
}
