import { describe, expect, it } from "vitest";
import { compileDefinitions, lookupSchemaPath, schemaForRef, validateValue } from "../../../src/definition/json-schema";

const draft7 = {
  workflowInput: {
    $schema: "http://json-schema.org/draft-07/schema#",
    type: "object",
    properties: { order: { $ref: "#/definitions/order" }, note: { type: "string" } },
    required: ["order"],
    additionalProperties: false,
  },
  order: {
    type: "object",
    properties: { sku: { type: "string" }, qty: { type: "integer", minimum: 1 }, lines: { type: "array", items: { $ref: "#/definitions/line" }, minItems: 1 } },
    required: ["sku", "qty"],
  },
  line: { type: "object", properties: { price: { type: "number" } }, required: ["price"] },
  tuple: { type: "array", items: [{ type: "string" }, { type: "integer" }], additionalItems: false },
};

const draft2020 = {
  event: {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $ref: "#/definitions/base",
    properties: { kind: { const: "click" }, at: { type: "string" } },
    required: ["kind"],
    unevaluatedProperties: false,
  },
  base: { type: "object", properties: { id: { type: "string" } }, required: ["id"] },
  pair: { $schema: "https://json-schema.org/draft/2020-12/schema", type: "array", prefixItems: [{ type: "string" }, { type: "number" }], items: false },
};

describe("validateValue", () => {
  it.each([
    ["draft 7 valid", draft7, "#/definitions/workflowInput", { order: { sku: "a", qty: 2, lines: [{ price: 1.5 }] } }, []],
    ["draft 7 $ref into another definition", draft7, "#/definitions/workflowInput", { order: { sku: "a", qty: 0 } }, ["/order/qty"]],
    ["draft 7 nested $ref in items", draft7, "#/definitions/workflowInput", { order: { sku: "a", qty: 1, lines: [{}] } }, ["/order/lines/0"]],
    ["draft 7 additionalProperties", draft7, "#/definitions/workflowInput", { order: { sku: "a", qty: 1 }, extra: 1 }, ["extra"]],
    ["draft 7 tuple items", draft7, "#/definitions/tuple", ["a", 1, 2], ["/2"]],
    ["2020-12 $ref with siblings", draft2020, "#/definitions/event", { id: "1", kind: "click" }, []],
    ["2020-12 sibling keywords apply", draft2020, "#/definitions/event", { kind: "click" }, ["id"]],
    ["2020-12 unevaluatedProperties", draft2020, "#/definitions/event", { id: "1", kind: "click", extra: true }, ["extra"]],
    ["2020-12 prefixItems", draft2020, "#/definitions/pair", ["a", "b"], ["/1"]],
    ["a deeper pointer", draft7, "#/definitions/order/properties/qty", 0, ["/"]],
    ["an unknown ref", draft7, "#/definitions/nope", {}, ['no definition for $ref "#/definitions/nope"']],
  ])("%s", (_name, defs, ref, value, fragments) => {
    const errors = validateValue(defs, ref, value);
    if (fragments.length === 0) expect(errors).toEqual([]);
    else for (const f of fragments) expect(errors.join("\n")).toContain(f);
  });

  it("caches per definitions object and stays correct", () => {
    const defs = { workflowInput: { type: "object", required: ["a"] } };
    expect(validateValue(defs, "#/definitions/workflowInput", {})).not.toEqual([]);
    expect(validateValue(defs, "#/definitions/workflowInput", { a: 1 })).toEqual([]);
    const other = { workflowInput: { type: "object" } };
    expect(validateValue(other, "#/definitions/workflowInput", {})).toEqual([]);
  });

  it("does not annotate the caller's schema objects", () => {
    const defs = { workflowInput: { type: "object", properties: { a: { $ref: "#/definitions/a" } } }, a: { type: "string" } };
    const before = JSON.stringify(defs);
    validateValue(defs, "#/definitions/workflowInput", { a: "x" });
    expect(JSON.stringify(defs)).toBe(before);
    expect(Object.getOwnPropertyNames(defs.workflowInput)).toEqual(["type", "properties"]);
  });
});

describe("compileDefinitions", () => {
  it("accepts draft 7 and 2020-12 documents", () => {
    expect(compileDefinitions(draft7).errors).toEqual([]);
    expect(compileDefinitions(draft2020).errors).toEqual([]);
  });

  it.each([
    ["an unresolved $ref", { a: { properties: { b: { $ref: "#/definitions/zz" } } } }, 'definition "a" at /properties/b: $ref "#/definitions/zz" has no definition'],
    ["a remote $ref", { a: { $ref: "https://example.com/s.json" } }, 'definition "a": $ref "https://example.com/s.json" is not local'],
    ["an unknown type", { a: { type: "objet" } }, 'definition "a": unknown type "objet"'],
    ["a bad pattern", { a: { type: "string", pattern: "(" } }, 'definition "a": pattern "(" is not a valid regular expression'],
    ["a draft-3 required", { a: { properties: { b: { required: true } } } }, 'definition "a" at /properties/b: "required" must be an array'],
    ["not a schema", { a: 42 }, 'definition "a": must be a JSON Schema'],
    ["an unknown $schema", { a: { $schema: "http://example.com/mine" } }, 'definition "a": unsupported $schema'],
  ])("reports %s", (_name, defs, fragment) => {
    expect(compileDefinitions(defs).errors.join("\n")).toContain(fragment);
  });
});

describe("schemaForRef", () => {
  it("resolves #/definitions/<name> and deeper pointers", () => {
    expect(schemaForRef(draft7, "#/definitions/line")).toBe(draft7.line);
    expect(schemaForRef(draft7, "#/definitions/order/properties/sku")).toEqual({ type: "string" });
    expect(schemaForRef(draft7, "#/definitions/none")).toBeUndefined();
    expect(schemaForRef(draft7, "other.json#/x")).toBeUndefined();
  });
});

describe("lookupSchemaPath", () => {
  const s = (name: keyof typeof draft7) => draft7[name];
  it.each([
    ["a required property through $ref", s("workflowInput"), ["order", "sku"], { declared: true, required: true, type: "string" }],
    ["an optional property", s("workflowInput"), ["note"], { declared: true, required: false, type: "string" }],
    ["required below optional is not required", s("order"), ["lines", "0", "price"], { declared: true, required: false, type: "number" }],
    ["an undeclared property of a closed object", s("workflowInput"), ["nope"], { declared: false, required: false, open: false }],
    ["an undeclared property with properties listed", s("order"), ["nope"], { declared: false, required: false, open: false }],
    ["array length", s("order"), ["lines", "length"], { declared: true, required: false, type: "integer" }],
    ["a tuple position", s("tuple"), ["1"], { declared: true, required: false, type: "integer" }],
    ["past a closed tuple", s("tuple"), ["2"], { declared: false, required: false, open: false }],
    ["into a string", s("order"), ["sku", "x"], { declared: false, required: false, open: false }],
  ])("%s", (_name, schema, path, expected) => {
    expect(lookupSchemaPath(draft7, schema, path)).toMatchObject(expected);
  });

  it("says nothing about an open object", () => {
    expect(lookupSchemaPath({}, { type: "object" }, ["x"])).toMatchObject({ declared: false, open: true });
    expect(lookupSchemaPath({}, {}, ["x", "y"])).toMatchObject({ declared: false, open: true });
  });

  it("treats a map's additionalProperties as declared but not required", () => {
    expect(lookupSchemaPath({}, { type: "object", additionalProperties: { type: "integer" } }, ["k"])).toMatchObject({ declared: true, required: false, type: "integer" });
  });

  it("combines allOf (any branch) and anyOf (all branches must require)", () => {
    const defs = { a: { properties: { x: { type: "string" } }, required: ["x"] } };
    expect(lookupSchemaPath(defs, { allOf: [{ $ref: "#/definitions/a" }, { properties: { y: { type: "number" } } }] }, ["x"])).toMatchObject({ declared: true, required: true, type: "string" });
    const anyOf = { anyOf: [{ properties: { x: { type: "string" } }, required: ["x"] }, { properties: { x: { type: "integer" } } }] };
    expect(lookupSchemaPath({}, anyOf, ["x"])).toMatchObject({ declared: true, required: false });
  });

  it("follows 2020-12 $ref siblings", () => {
    expect(lookupSchemaPath(draft2020, draft2020.event, ["id"])).toMatchObject({ declared: true, required: true, type: "string" });
    expect(lookupSchemaPath(draft2020, draft2020.event, ["kind"])).toMatchObject({ declared: true, required: true, type: "string" });
    expect(lookupSchemaPath(draft2020, draft2020.pair, ["1"])).toMatchObject({ declared: true, type: "number" });
  });
});
