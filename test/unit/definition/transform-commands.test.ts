/**
 * json-xform's `via: {type: "commands", transform: [...]}`. The first cases are that library's own
 * (@nkorai/json-xform: test/mapping.transformCommand and the `commands` case of test/schema, then
 * test/transformUtils.invokeRules), with the same inputs and outputs; the rest are Canopy's rules:
 * an allow-list of pure commands, checked at registration, and a clear failure for a value a
 * command does not apply to.
 */
import { describe, expect, it } from "vitest";
import { MAX_TRANSFORM_COMMANDS } from "../../../src/limits";
import { applyTransformer, checkTransformerSyntax, describeTransformer, TransformError, type InputTransformer } from "../../../src/definition/transformer";
import { COMMAND_NAMES, runTransformCommands, type TransformCommand } from "../../../src/definition/transform-commands";

const run = (fieldset: unknown[], source: Record<string, unknown>) => applyTransformer({ fieldset } as InputTransformer, source, {});
const commands = (...transform: unknown[]) => ({ type: "commands", transform });
const problems = (entry: unknown) => checkTransformerSyntax({ fieldset: [entry] });

describe("via commands: json-xform's own cases", () => {
  it("transforms with the given command (mapping.transformCommand)", () => {
    const fieldset = [{ from: "key", to: "newKey", via: commands({ command: "toUpperCase" }) }];
    expect(problems(fieldset[0])).toEqual([]);
    expect(run(fieldset, { key: "the key" })).toEqual({ newKey: "THE KEY" });
  });

  it("transforms by a series of commands, mapped over a list (mapping.transformCommand)", () => {
    const fieldset = [
      {
        from: "key",
        via: commands({ command: "split", params: [";"] }, { map: true, command: "trim" }, { map: true, command: "toUpperCase" }, { map: true, command: "substring", params: ["2"] }),
      },
    ];
    expect(problems(fieldset[0])).toEqual([]);
    expect(run(fieldset, { key: "independent; invaluable; indispensable; inconvenient" })).toEqual({ key: ["DEPENDENT", "VALUABLE", "DISPENSABLE", "CONVENIENT"] });
  });

  it("accepts the commands type with and without params (schema)", () => {
    expect(problems({ from: "test", via: commands({ command: "toString" }) })).toEqual([]);
    expect(problems({ from: "test", via: commands({ command: "splice", params: [0, 1, "test"] }) })).toEqual([]);
  });

  it.each([
    ["a command without params", "test", [{ command: "toUpperCase" }], "TEST"],
    ["a command with params", "test,eins,zwei", [{ command: "split", params: [","] }], ["test", "eins", "zwei"]],
    ["several, top to bottom", "test,un,deux", [{ command: "toUpperCase" }, { command: "split", params: [","] }], ["TEST", "UN", "DEUX"]],
    ["an index given as a string", "test,un,deux", [{ command: "split", params: [","] }, { command: "at", params: ["1"] }], "un"],
  ])("runs %s (transformUtils.invokeRules)", (_name, value, transform, expected) => {
    expect(runTransformCommands(value, transform as TransformCommand[])).toEqual(expected);
  });

  it.each([
    ["no transform list", { type: "commands" }, "via.transform must be a non-empty list"],
    ["a transform that is not a list", { type: "commands", transform: "test" }, "via.transform must be a non-empty list"],
    ["params that are not a list", commands({ command: "toString", params: "test" }), "via.transform[0].params must be a list"],
  ])("refuses %s (schema)", (_name, via, fragment) => {
    expect(problems({ from: "test", via }).join("\n")).toContain(fragment);
  });
});

describe("via commands: the allow-list", () => {
  it.each([
    ["a method json-xform would call by name", "constructor"],
    ["__proto__", "__proto__"],
    ["a lodash path", "[0].constructor"],
    ["a method whose result can grow without bound", "repeat"],
    ["padding", "padStart"],
    ["joining", "join"],
    ["a method of objects", "hasOwnProperty"],
  ])("refuses %s at registration, listing the commands there are", (_name, command) => {
    expect(problems({ from: "f", via: commands({ command }) })).toEqual([
      `inputTransformer.fieldset[0].via.transform[0].command "${command}" is not a supported command; the commands are ${COMMAND_NAMES.join(", ")}`,
    ]);
  });

  it.each([
    ["a number param that is not a number", { command: "substring", params: ["two"] }, "via.transform[0].params[0] must be a number (or a string holding one)"],
    ["a separator that is an object", { command: "split", params: [{ toString: "x" }] }, "via.transform[0].params[0] must be a string"],
    ["too many params", { command: "trim", params: [1] }, "via.transform[0]: trim takes 0 params, not 1"],
    ["too few params", { command: "substring" }, "via.transform[0]: substring takes 1 to 2 params, not 0"],
    ["splice without its start", { command: "splice", params: [] }, "via.transform[0]: splice takes at least 1 param, not 0"],
    ["a map that is not a boolean", { command: "trim", map: "yes" }, "via.transform[0].map must be a boolean"],
    ["a key json-xform does not have", { command: "trim", args: [] }, 'via.transform[0]: unsupported key "args"'],
    ["a command that is not a string", { command: ["trim"] }, "via.transform[0].command must be a string naming a command"],
  ])("refuses %s", (_name, entry, fragment) => {
    expect(problems({ from: "f", via: commands(entry) }).join("\n")).toContain(fragment);
  });

  it(`takes ${MAX_TRANSFORM_COMMANDS} commands in one list and refuses one more (MAX_TRANSFORM_COMMANDS)`, () => {
    const trims = (n: number) => Array.from({ length: n }, () => ({ command: "trim" }));
    expect(problems({ from: "f", via: commands(...trims(MAX_TRANSFORM_COMMANDS)) })).toEqual([]);
    expect(run([{ from: "f", via: commands(...trims(MAX_TRANSFORM_COMMANDS)) }], { f: "  x  " })).toEqual({ f: "x" });
    expect(problems({ from: "f", via: commands(...trims(MAX_TRANSFORM_COMMANDS + 1)) })).toEqual([
      `inputTransformer.fieldset[0].via.transform has ${MAX_TRANSFORM_COMMANDS + 1} commands; at most ${MAX_TRANSFORM_COMMANDS} are allowed`,
    ]);
  });

  it("leaves the definition as it was while checking it", () => {
    const entry = { from: "f", via: commands({ command: "trim" }) };
    const before = JSON.stringify(entry);
    checkTransformerSyntax({ fieldset: [entry] });
    expect(JSON.stringify(entry)).toBe(before);
  });
});

describe("via commands: running them", () => {
  it.each([
    ["toLowerCase", "MiXeD", [{ command: "toLowerCase" }], "mixed"],
    ["trimStart and trimEnd", "  a  ", [{ command: "trimStart" }, { command: "split", params: ["a"] }], ["", "  "]],
    ["a split with a limit", "a-b-c", [{ command: "split", params: ["-", 2] }], ["a", "b"]],
    ["substring with an end", "abcdef", [{ command: "substring", params: [1, "3"] }], "bc"],
    ["slice of a string, from the end", "abcdef", [{ command: "slice", params: [-2] }], "ef"],
    ["slice of a list", [1, 2, 3, 4], [{ command: "slice", params: [1, 3] }], [2, 3]],
    ["at of a list, from the end", ["a", "b", "c"], [{ command: "at", params: [-1] }], "c"],
    ["charAt", "abc", [{ command: "charAt", params: [1] }], "b"],
    ["includes in a string", "order-123", [{ command: "includes", params: ["123"] }], true],
    ["includes in a list", [1, 2], [{ command: "includes", params: [2] }], true],
    ["indexOf in a list", ["x", "y"], [{ command: "indexOf", params: ["y"] }], 1],
    ["lastIndexOf in a list, without a position", ["y", "x", "y"], [{ command: "lastIndexOf", params: ["y"] }], 2],
    ["lastIndexOf in a string", "abcabc", [{ command: "lastIndexOf", params: ["b"] }], 4],
    ["startsWith and endsWith", "report.pdf", [{ command: "endsWith", params: [".pdf"] }], true],
    ["toString of a number", 42, [{ command: "toString" }], "42"],
    ["toString of nested lists, as Array.prototype.toString", [1, [2, null], "x"], [{ command: "toString" }], "1,2,,x"],
    ["toString of an object holding a toString key", { toString: "not a function" }, [{ command: "toString" }], "[object Object]"],
    ["splice: the removed elements", ["a", "b", "c"], [{ command: "splice", params: [0, 1, "test"] }], ["a"]],
    ["splice without a count: the rest", ["a", "b", "c"], [{ command: "splice", params: [1] }], ["b", "c"]],
    ["map over each element", ["a", "bb"], [{ command: "toUpperCase", map: true }], ["A", "BB"]],
    ["an index past the end", "abc", [{ command: "at", params: [9] }], undefined],
  ])("%s", (_name, value, transform, expected) => {
    expect(runTransformCommands(value, transform as TransformCommand[])).toEqual(expected);
  });

  it("leaves the source as it was: splice works on a copy", () => {
    const source = { list: ["a", "b", "c"] };
    expect(run([{ from: "list", to: "removed", via: commands({ command: "splice", params: [0, 2] }) }], source)).toEqual({ removed: ["a", "b"] });
    expect(source.list).toEqual(["a", "b", "c"]);
  });

  it.each([
    ["a string command on a number", { n: 5 }, [{ command: "toUpperCase" }], "via: toUpperCase applies to a string, not to a number"],
    ["splice on a string", { n: "abc" }, [{ command: "splice", params: [0] }], "via: splice applies to a list, not to a string"],
    ["a string command on an object", { n: { a: 1 } }, [{ command: "trim" }], "via: trim applies to a string, not to an object"],
    ["map over a string", { n: "abc" }, [{ command: "trim", map: true }], 'via: trim with "map" applies to a list, not to a string'],
    ["map with an element of the wrong kind", { n: ["a", 1] }, [{ command: "trim", map: true }], "via: trim applies to a string, not to a number"],
  ])("fails the transformer on %s, naming the command", (_name, source, transform, message) => {
    const fieldset = [{ from: "n", to: "out", via: commands(...transform) }];
    expect(problems(fieldset[0])).toEqual([]);
    expect(() => run(fieldset, source)).toThrow(TransformError);
    expect(() => run(fieldset, source)).toThrow(message);
  });

  it("writes nothing for a missing value, and null for a missing element, as json-xform", () => {
    expect(run([{ fromArray: ["a", "b"], to: "l", via: commands({ command: "toUpperCase" }) }], { a: "x" })).toEqual({ l: ["X", null] });
    expect(run([{ fromArray: ["a", "b"], to: "l", skipEmpty: true, via: commands({ command: "toUpperCase" }) }], { a: "x" })).toEqual({ l: ["X"] });
    expect(runTransformCommands(["a", null], [{ command: "toUpperCase", map: true }])).toEqual(["A", undefined]);
  });

  it("formats each value of a template, and the value of valueToKey", () => {
    expect(run([{ withTemplate: "${a}-${b}", to: "t", via: commands({ command: "toUpperCase" }) }], { a: "x", b: "y" })).toEqual({ t: "X-Y" });
    expect(run([{ from: "k", valueToKey: true, withValueFrom: "v", via: commands({ command: "trim" }) }], { k: "name", v: " n " })).toEqual({ name: "n" });
  });

  it("describes what the last command writes, for the data-flow checks", () => {
    const { writes } = describeTransformer({
      fieldset: [
        { from: "a", to: "list", via: { type: "commands", transform: [{ command: "split", params: [","] }] } },
        { from: "a", to: "text", via: { type: "commands", transform: [{ command: "split", params: [","] }, { command: "toString" }] } },
        { from: "a", to: "each", via: { type: "commands", transform: [{ command: "split", params: [","] }, { command: "trim", map: true }] } },
        { from: "a", to: "found", via: { type: "commands", transform: [{ command: "includes", params: ["x"] }] } },
      ],
    });
    expect(writes.map((w) => [w.target, w.type])).toEqual([
      [["list"], "array"],
      [["text"], "string"],
      [["each"], "array"],
      [["found"], "unknown"],
    ]);
  });
});
