/**
 * The user's JSON Schemas (`definitions`), compiled with @cfworker/json-schema: Workers forbid code
 * generation, so Ajv's compiled validators cannot run. `$ref`s resolve against the whole
 * definitions document, as JustWorkflowIt resolves `#/definitions/<name>`.
 */
import { dereference, validate, type Schema, type SchemaDraft } from "@cfworker/json-schema";
import { forEachSubschema, resolvePointer, schemaDraftOf, walkRefs } from "./schema-walk";

export { lookupSchemaPath, resolveSchema, type SchemaPathInfo } from "./schema-path";

/** The `definitions` object of a workflow definition: name → JSON Schema. */
export type Definitions = Record<string, unknown>;

/** The document `$ref`s resolve against: `#/definitions/x` names `definitions.x`. */
export function definitionsRoot(definitions: Definitions): { definitions: Definitions } {
  return { definitions };
}

/** The schema a `$ref` (`#/definitions/x`, or a deeper pointer) names, or undefined. */
export function schemaForRef(definitions: Definitions, ref: string): unknown {
  if (!ref.startsWith("#")) return undefined;
  return resolvePointer(definitionsRoot(definitions), ref.slice(1));
}

const JSON_TYPES = new Set(["array", "boolean", "integer", "null", "number", "object", "string"]);

/** Structural problems that would make @cfworker/json-schema throw or silently misjudge. */
function schemaProblems(schema: unknown, pointer: string, report: (pointer: string, problem: string) => void): void {
  if (typeof schema === "boolean") return;
  if (schema === null || typeof schema !== "object" || Array.isArray(schema)) {
    return report(pointer, "must be a JSON Schema (an object or a boolean)");
  }
  const s = schema as Record<string, unknown>;
  const types = Array.isArray(s.type) ? s.type : s.type === undefined ? [] : [s.type];
  for (const t of types) if (typeof t !== "string" || !JSON_TYPES.has(t)) report(pointer, `unknown type ${JSON.stringify(t)}`);
  if (s.required !== undefined && (!Array.isArray(s.required) || s.required.some((r) => typeof r !== "string"))) {
    report(pointer, `"required" must be an array of property names`);
  }
  const patterns = [
    ...(typeof s.pattern === "string" ? [s.pattern] : []),
    ...(s.patternProperties && typeof s.patternProperties === "object" ? Object.keys(s.patternProperties) : []),
  ];
  for (const p of patterns) {
    try {
      new RegExp(p, "u");
    } catch {
      report(pointer, `pattern ${JSON.stringify(p)} is not a valid regular expression`);
    }
  }
  forEachSubschema(s, (sub, key) => schemaProblems(sub, `${pointer}/${key}`, report));
}

/** Checks every schema in `definitions` can be used; each error names the definition at fault. */
export function compileDefinitions(definitions: Definitions): { errors: string[] } {
  const errors: string[] = [];
  const root = definitionsRoot(definitions);
  for (const [name, schema] of Object.entries(definitions)) {
    const report = (pointer: string, problem: string) =>
      errors.push(`definition "${name}"${pointer === "" ? "" : ` at ${pointer}`}: ${problem}`);
    const before = errors.length;
    schemaProblems(schema, "", report);
    if (schema !== null && typeof schema === "object" && "$schema" in schema && schemaDraftOf(schema) === undefined) {
      report("", `unsupported $schema ${JSON.stringify((schema as { $schema: unknown }).$schema)} (use draft-07 or 2020-12)`);
    }
    walkRefs(schema, (ref, at) => {
      if (!ref.startsWith("#")) report(at, `$ref "${ref}" is not local (only "#/definitions/..." refs resolve)`);
      else if (resolvePointer(root, ref.slice(1)) === undefined) report(at, `$ref "${ref}" has no definition`);
    });
    if (errors.length > before) continue;
    try {
      compiled(definitions).validate(null, `#/definitions/${encodeToken(name)}`);
    } catch (e) {
      report("", `cannot be used: ${firstLine(e)}`);
    }
  }
  return { errors };
}

/** The top-level definition a ref points into: its `$schema` sets the draft of deeper pointers too. */
function definitionOf(root: { definitions: Definitions }, ref: string): unknown {
  const [, container, name] = ref.slice(1).split("/");
  return container === "definitions" && name !== undefined ? resolvePointer(root, `/definitions/${name}`) : undefined;
}

function encodeToken(token: string): string {
  return token.replace(/~/g, "~0").replace(/\//g, "~1");
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0] ?? "";
}

interface Compiled {
  validate(value: unknown, ref: string): string[];
}

/**
 * Per-isolate cache of compiled definitions, keyed by the definitions object itself: a job's steps
 * all validate against the same parsed definition, and the entry goes when the definition does.
 */
const cache = new WeakMap<object, Compiled>();

function compiled(definitions: Definitions): Compiled {
  const hit = cache.get(definitions);
  if (hit) return hit;
  // dereference() annotates the schema objects it sees, so it works on a private copy.
  const root = JSON.parse(JSON.stringify(definitionsRoot(definitions))) as { definitions: Definitions };
  const lookup = dereference(root as Schema);
  const entry: Compiled = {
    validate(value, ref) {
      const schema = ref.startsWith("#") ? resolvePointer(root, ref.slice(1)) : undefined;
      if (schema === undefined) return [`no definition for $ref "${ref}"`];
      const draft: SchemaDraft = schemaDraftOf(schema) ?? schemaDraftOf(definitionOf(root, ref)) ?? "7";
      const result = validate(value, schema as Schema | boolean, draft, lookup, false);
      return result.valid ? [] : formatErrors(result.errors);
    },
  };
  cache.set(definitions, entry);
  return entry;
}

/** Keeps the errors that say what is wrong, not the "a subschema had errors" wrappers around them. */
function formatErrors(errors: ReadonlyArray<{ keyword: string; instanceLocation: string; error: string }>): string[] {
  const specific = errors.filter((e) => !/subschema|does not match schema|Items did not match|False boolean schema/i.test(e.error));
  const chosen = specific.length > 0 ? specific : errors;
  return [...new Set(chosen.map((e) => `${e.instanceLocation.replace(/^#/, "") || "/"}: ${e.error}`))];
}

/** Keywords that describe a schema without constraining the value. */
const ANNOTATIONS = new Set(["title", "description", "$comment", "default", "examples", "deprecated", "readOnly", "writeOnly", "$schema", "$id", "$anchor", "definitions", "$defs"]);

/**
 * Whether the schema a `$ref` names accepts every value (`true`, `{}`, only annotations, or a `$ref`
 * to such a schema): then a value need not be read to be checked, which is what lets a fan-out's
 * results pass from step to step by reference, however large.
 */
export function acceptsEveryValue(definitions: Definitions, ref: string): boolean {
  let schema = schemaForRef(definitions, ref);
  for (let hops = 0; hops < 10; hops++) {
    if (schema === true) return true;
    if (schema === null || typeof schema !== "object" || Array.isArray(schema)) return false;
    const keys = Object.keys(schema).filter((k) => !ANNOTATIONS.has(k));
    if (keys.length === 0) return true;
    const next = (schema as { $ref?: unknown }).$ref;
    if (keys.length !== 1 || typeof next !== "string") return false;
    schema = schemaForRef(definitions, next);
  }
  return false;
}

/** Validates a value against the schema a `$ref` names; returns the errors, empty when valid. */
export function validateValue(definitions: Definitions, ref: string, value: unknown): string[] {
  if (value === undefined) return ["/: no value (undefined)"];
  try {
    return compiled(definitions).validate(value, ref);
  } catch (e) {
    return [`schema ${ref} cannot be used: ${firstLine(e)}`];
  }
}

/**
 * Checks a job's input against `definitions.workflowInput`. A definition without one declares no
 * shape for the job's input (JustWorkflowIt's definitions may leave it out when nothing reads it):
 * any input is accepted, and each step's input is still checked against its own schema.
 */
export function validateWorkflowInput(definitions: Definitions, input: unknown): string[] {
  if (!Object.hasOwn(definitions, "workflowInput")) return [];
  return validateValue(definitions, "#/definitions/workflowInput", input);
}
