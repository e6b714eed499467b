/**
 * The transformer reproduces @nkorai/json-xform (what JustWorkflowIt runs); many cases below are
 * that library's own test cases (test/mapping.*.test.ts), with the same inputs and outputs.
 */
import { describe, expect, it } from "vitest";
import {
  applyTransformer,
  checkTransformerSyntax,
  describeTransformer,
  TransformError,
  type InputTransformer,
} from "../../../src/definition/transformer";

const run = (transformer: InputTransformer, source: Record<string, unknown>, ctx = {}) => applyTransformer(transformer, source, ctx);

describe("applyTransformer: from / to", () => {
  it.each([
    ["copies a value under its own name", [{ from: "random" }], { random: [1, 2] }, { random: [1, 2] }],
    ["renames", [{ from: "a", to: "b" }], { a: { x: 1 } }, { b: { x: 1 } }],
    ["reads and writes nested paths", [{ from: "a.b.c", to: "x.y" }], { a: { b: { c: 1 } } }, { x: { y: 1 } }],
    ["without to, writes the from path", [{ from: "a.b" }], { a: { b: 2 } }, { a: { b: 2 } }],
    ["indexes arrays", [{ from: "a.1", to: "second" }], { a: ["x", "y"] }, { second: "y" }],
    ["skips missing values", [{ from: "nope", to: "x" }], { a: 1 }, {}],
    ["skips falsy values, like json-xform", [{ from: "z", to: "zero" }, { from: "f", to: "no" }, { from: "e", to: "empty" }], { z: 0, f: false, e: "" }, {}],
    ["toArray wraps the value", [{ from: "field.level.one", to: "root.level.one", toArray: true }], { field: { level: { one: "v" } } }, { root: { level: { one: ["v"] } } }],
    ["a plain key keeps its first value", [{ from: "a", to: "k" }, { from: "b", to: "k" }], { a: 1, b: 2 }, { k: 1 }],
    ["a dotted key takes the last value", [{ from: "a", to: "k.v" }, { from: "b", to: "k.v" }], { a: 1, b: 2 }, { k: { v: 2 } }],
    ["special characters in keys", [{ from: "$occupation.name", to: "job" }], { $occupation: { name: "Engineer" } }, { job: "Engineer" }],
  ])("%s", (_name, fieldset, source, expected) => {
    expect(run({ fieldset }, source)).toEqual(expected);
  });

  it("resolves Canopy's aliases at the top level", () => {
    const data = { workflowInput: { id: 7 }, fetchOutput: { rows: [1, 2] }, tickOutput: { n: 3 } };
    const fieldset = [
      { from: "fetch.output.rows.length", to: "count" },
      { from: "previousStep.output.n", to: "n" },
      { from: "workflowInput.id", to: "id" },
    ];
    expect(run({ fieldset }, data, { previousStepName: "tick" })).toEqual({ count: 2, n: 3, id: 7 });
  });

  it("valueToKey uses one value as the key of another", () => {
    expect(run({ fieldset: [{ from: "name", valueToKey: true, withValueFrom: "age" }] }, { name: "Constantine", age: 41 })).toEqual({ Constantine: 41 });
    expect(
      run({ fieldset: [{ fromEach: { field: "content", fieldset: [{ from: "type", valueToKey: true, withValueFrom: "value" }] } }] }, {
        content: [{ type: "text", value: "MyText" }, { type: "number", value: "onehundred" }],
      }),
    ).toEqual({ content: [{ text: "MyText" }, { number: "onehundred" }] });
  });

  it("a key from the data cannot reach the prototype", () => {
    const out = run({ fieldset: [{ from: "k", valueToKey: true, withValueFrom: "v" }] }, { k: "__proto__", v: { polluted: true } });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(out).toEqual({});
  });

  it("refuses to write below a non-object", () => {
    expect(() => run({ fieldset: [{ from: "a", to: "x" }, { from: "b", to: "x.y" }] }, { a: "str", b: 1 })).toThrow(TransformError);
  });
});

describe("applyTransformer: withTemplate", () => {
  it.each([
    ["joins several fields", "${firstname} ${lastname}", { firstname: "F", lastname: "L" }, "F L"],
    ["nested and $-prefixed paths", "${address.town}/${$o.code}", { address: { town: "T" }, $o: { code: "019" } }, "T/019"],
    ["missing values become 'undefined'", "a ${who.me} b", { who: {} }, "a undefined b"],
    ["no placeholder: the text as is", "Hey Jude", { a: 1 }, "Hey Jude"],
    ["only the first occurrence of a placeholder is replaced", "${a}-${a}", { a: "x" }, "x-${a}"],
    ["non-strings are stringified", "${n}|${list}|${obj}|${nil}", { n: 5, list: [1, 2], obj: { a: 1 }, nil: null }, "5|1,2|[object Object]|null"],
    ["{{path}} is not a placeholder in json-xform", "{{a}}", { a: "x" }, "{{a}}"],
  ])("%s", (_name, withTemplate, source, expected) => {
    expect(run({ fieldset: [{ withTemplate, to: "out" }] }, source)).toEqual({ out: expected });
  });

  it("writes to withValueFrom when there is no to, and resolves aliases", () => {
    expect(run({ fieldset: [{ withTemplate: "n=${fetch.output.n}", withValueFrom: "label" }] }, { fetchOutput: { n: 2 } })).toEqual({ label: "n=2" });
  });
});

describe("applyTransformer: fromEach", () => {
  const highLevel = [{ fieldOne: 1, fieldTwo: 2, lowLevel: [{ fieldThree: 3, fieldFour: 4, basement: [{ this: { thing: { there: "here I am" } } }] }] }];

  it("maps each element through a fieldset", () => {
    const fieldset = [{ fromEach: { field: "items", to: "lines", fieldset: [{ from: "sku" }, { from: "qty", to: "count" }] } }];
    expect(run({ fieldset }, { items: [{ sku: "a", qty: 1 }, { sku: "b" }, { other: 1 }] })).toEqual({ lines: [{ sku: "a", count: 1 }, { sku: "b" }] });
  });

  it("copies the array when there is no fieldset, under the field's name", () => {
    expect(run({ fieldset: [{ fromEach: { field: "loadOutput.items" } }] }, { loadOutput: { items: [1, 2] } })).toEqual({ "loadOutput.items": [1, 2] });
  });

  it("finds the field deeper in the data, as jsonpath's $.. does", () => {
    expect(run({ fieldset: [{ fromEach: { field: "items", to: "all" } }] }, { loadOutput: { items: ["x"] } })).toEqual({ all: ["x"] });
  });

  // json-xform's README shows `fieldTwo: [2]` here, but its flattenEverything explodes every
  // one-element array into the parent (its own flatten tests rely on that): we follow the code.
  it("flattens one level when marked (json-xform README example, as its code behaves)", () => {
    const fieldset = [
      {
        fromEach: {
          field: "highLevel", to: "flat", flatten: true,
          fieldset: [
            { from: "fieldOne" },
            { from: "fieldTwo", toArray: true },
            { to: "newProp", withTemplate: "${fieldOne} is not ${fieldTwo}" },
            { fromEach: { field: "lowLevel", flatten: true, fieldset: [{ from: "fieldThree" }, { from: "fieldFour" }, { fromEach: { field: "basement", fieldset: [{ from: "this.thing.there", to: "that.here" }] } }] } },
          ],
        },
      },
    ];
    expect(run({ fieldset }, { highLevel })).toEqual({
      flat: [{ fieldOne: 1, newProp: "1 is not 2", fieldThree: 3, fieldFour: 4, that: { here: "here I am" } }],
    });
  });

  it("flatten keeps a nested fromEach that is not flattened", () => {
    const fieldset = [{ fromEach: { field: "highLevel", to: "flat", flatten: true, fieldset: [{ from: "fieldOne" }, { fromEach: { field: "lowLevel", fieldset: [{ from: "fieldThree" }, { fromEach: { field: "basement", fieldset: [{ from: "this.thing.there", to: "that" }] } }] } }] } }];
    expect(run({ fieldset }, { highLevel })).toEqual({ flat: [{ fieldOne: 1, fieldThree: 3, basement: [{ that: "here I am" }] }] });
  });

  it("flatten gathers single-key repetition groups into lists", () => {
    const fieldset = [{ fromEach: { field: "root", flatten: true, fieldset: [{ fromEach: { field: "collection", fieldset: [{ from: "fieldOne" }] } }] } }];
    const source = { root: [{ collection: [{ fieldOne: 1 }] }, { collection: [{ fieldOne: 2 }, { fieldOne: 3 }] }, { collection: [{ fieldOne: 4 }] }] };
    expect(run({ fieldset }, source)).toEqual({ root: [{ fieldOne: [1, 2, 3, 4] }] });
  });

  it("flatten keeps multi-key repetition groups as a list", () => {
    const fieldset = [{ fromEach: { field: "delfi", flatten: true, fieldset: [{ fromEach: { field: "cacheMorf", fieldset: [{ from: "iron" }, { from: "teflon" }] } }] } }];
    const source = { delfi: [{ cacheMorf: [{ teflon: "T", iron: "I" }, { iron: "n" }, { teflon: "t" }] }] };
    expect(run({ fieldset }, source)).toEqual({ delfi: [{ iron: "I", teflon: "T" }, { iron: "n" }, { teflon: "t" }] });
  });

  it("runs from and fromEach of one entry (json-xform mapping.complex)", () => {
    const fieldset = [{ from: "myProp", to: "yourProp", fromEach: { field: "myField", to: "yourField", fieldset: [{ from: "n", to: "m" }] } }];
    expect(run({ fieldset }, { myProp: "v", myField: [{ n: 1 }] })).toEqual({ yourField: [{ m: 1 }], yourProp: "v" });
  });

  it("nests a fromEach without fieldset (json-xform mapping.complex)", () => {
    const fieldset = [{ fromEach: { field: "first", fromEach: { field: "second", fieldset: [{ from: "a", to: "x" }, { from: "b", to: "y" }] } } }];
    const source = { first: [{ second: [{ a: 1, skip: 0 }, { b: 2 }] }] };
    expect(run({ fieldset }, source)).toEqual({ first: [{ second: [{ x: 1 }, { y: 2 }] }] });
  });

  it("fails like json-xform when the field is missing", () => {
    expect(() => run({ fieldset: [{ fromEach: { field: "nope", fieldset: [{ from: "a" }] } }] }, { a: 1 })).toThrow(/"nope" was not found/);
    expect(() => run({ fieldset: [{ fromEach: { field: "nope" } }] }, { a: 1 })).toThrow(TransformError);
  });
});

describe("applyTransformer: fromArray", () => {
  it.each([
    ["collects paths in order", { fromArray: ["b", "a"], to: "l" }, { a: 1, b: 2 }, { l: [2, 1] }],
    ["writes through a nested target", { fromArray: ["a"], to: "x.y" }, { a: 1 }, { x: { y: [1] } }],
    ["keeps missing values as null (JSON)", { fromArray: ["a", "b"], to: "l" }, { a: 0 }, { l: [0, null] }],
    ["skipEmpty drops missing, null and empty strings only", { fromArray: ["a", "b", "c", "d"], to: "l", skipEmpty: true }, { a: 0, b: "", c: null, d: false }, { l: [0, false] }],
    ["unique dedupes", { fromArray: ["a", "b", "c"], to: "l", unique: true }, { a: "x", b: "y", c: "x" }, { l: ["x", "y"] }],
    ["flatten splices arrays one level", { fromArray: ["a", "b"], to: "l", flatten: true }, { a: [["x"], "y"], b: "z" }, { l: [["x"], "y", "z"] }],
    ["an empty list", { fromArray: [], to: "l" }, {}, { l: [] }],
    ["unique compares objects by identity", { fromArray: ["a", "a", "b"], to: "l", unique: true }, { a: { v: 1 }, b: { v: 1 } }, { l: [{ v: 1 }, { v: 1 }] }],
  ])("%s", (_name, entry, source, expected) => {
    expect(run({ fieldset: [entry] }, source)).toEqual(expected);
  });
});

describe("checkTransformerSyntax", () => {
  it("accepts every supported verb", () => {
    const t = {
      fieldset: [
        { from: "a", to: "b", toArray: true },
        { from: "k", valueToKey: true, withValueFrom: "v" },
        { withTemplate: "${a}", to: "t" },
        { fromEach: { field: "items", to: "out", flatten: false, fieldset: [{ from: "x" }], fromEach: { field: "y" } } },
        { fromArray: ["a", "b"], to: "l", skipEmpty: true, unique: true, flatten: true },
      ],
    };
    expect(checkTransformerSyntax(t)).toEqual([]);
  });

  it.each([
    ["an unknown verb", { fieldset: [{ from: "a", map: "x" }] }, 'inputTransformer.fieldset[0]: unsupported key "map"'],
    ["via without its patterns", { fieldset: [{ from: "a", via: { type: "date" } }] }, 'inputTransformer.fieldset[0].via.sourceFormat is required'],
    ["an unknown key in fromEach", { fieldset: [{ fromEach: { field: "a", fields: ["b"] } }] }, 'inputTransformer.fieldset[0].fromEach: unsupported key "fields"'],
    ["a top-level key besides fieldset", { fieldset: [{ from: "a" }], mode: 1 }, 'inputTransformer: unsupported key "mode"'],
    ["an empty fieldset", { fieldset: [] }, "inputTransformer.fieldset must have at least one entry"],
    ["a missing fieldset", {}, "inputTransformer.fieldset is required"],
    ["from with withTemplate", { fieldset: [{ from: "a", withTemplate: "b", to: "c" }] }, '"from" and "withTemplate" cannot be used together'],
    ["withTemplate without to", { fieldset: [{ withTemplate: "x" }] }, '"withTemplate" needs exactly one of "to" or "withValueFrom"'],
    ["an entry with no verb", { fieldset: [{ to: "x" }] }, 'needs one of "from", "withTemplate", "fromEach" or "fromArray"'],
    ["fromArray without to", { fieldset: [{ fromArray: ["a"] }] }, '"fromArray" needs "to"'],
    ["valueToKey without withValueFrom", { fieldset: [{ from: "a", valueToKey: true }] }, '"valueToKey" needs "from" (the key) and "withValueFrom"'],
    ["fromEach without field", { fieldset: [{ fromEach: { to: "x" } }] }, "inputTransformer.fieldset[0].fromEach.field is required"],
    ["a wrong type", { fieldset: [{ from: 3 }] }, "inputTransformer.fieldset[0].from must be a string"],
    ["a prototype write", { fieldset: [{ from: "a", to: "__proto__.x" }] }, 'may not write "__proto__"'],
    ["an empty path segment", { fieldset: [{ from: "a..b", to: "c" }] }, 'has an empty path segment'],
    ["a nested bad entry", { fieldset: [{ fromEach: { field: "a", fieldset: [{ from: "x", jq: "." }] } }] }, 'inputTransformer.fieldset[0].fromEach.fieldset[0]: unsupported key "jq"'],
    ["not an object", "fieldset", "inputTransformer must be an object"],
  ])("refuses %s", (_name, transformer, fragment) => {
    expect(checkTransformerSyntax(transformer).join("\n")).toContain(fragment);
  });
});

describe("describeTransformer", () => {
  it("lists reads with their scope and writes with their type", () => {
    const { reads, writes } = describeTransformer({
      fieldset: [
        { from: "fetchOutput.count", to: "count" },
        { withTemplate: "${workflowInput.name}: ${fetch.output.n}", to: "label" },
        { fromEach: { field: "loadOutput.items", to: "skus", fieldset: [{ from: "sku" }] } },
        { fromArray: ["a.x", "b.y"], to: "pair.list", skipEmpty: true },
        { from: "fetchOutput.rows", to: "rows", toArray: true },
        { from: "k", valueToKey: true, withValueFrom: "v" },
        { from: "other", to: "count" },
      ],
    });
    expect(reads.map((r) => [r.path, r.scope, r.kind, r.optional])).toEqual([
      ["fetchOutput.count", [], "path", false],
      ["workflowInput.name", [], "path", false],
      ["fetch.output.n", [], "path", false],
      ["loadOutput.items", [], "descendant", false],
      ["sku", ["loadOutput.items"], "path", false],
      ["a.x", [], "path", true],
      ["b.y", [], "path", true],
      ["fetchOutput.rows", [], "path", false],
      ["k", [], "path", false],
      ["v", [], "path", false],
      ["other", [], "path", false],
    ]);
    expect(writes.map((w) => [w.target, w.type, w.source, w.shadowed])).toEqual([
      [["count"], "unknown", "fetchOutput.count", false],
      [["label"], "string", undefined, false],
      [["skus"], "array", undefined, false],
      [["pair", "list"], "array", undefined, false],
      [["rows"], "array", undefined, false],
      [null, "unknown", undefined, false],
      [["count"], "unknown", "other", true],
    ]);
  });
});

describe("applyTransformer purity", () => {
  it("never mutates the execution data and returns plain JSON", () => {
    const data = { workflowInput: { items: [{ a: 1 }], o: { deep: { v: 1 } } } };
    const before = JSON.stringify(data);
    const out = run({ fieldset: [{ from: "workflowInput.o", to: "o" }, { from: "workflowInput.items", to: "o.deep.items" }, { fromEach: { field: "workflowInput.items", to: "x", flatten: true } }] }, data);
    expect(JSON.stringify(data)).toBe(before);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
  });
});
