import jsonLogic from "json-logic-js";
import { describe, expect, it } from "vitest";
import { analyzeTransition, collectStepTargets, collectVars, evaluateLogic, unknownOperations } from "../../../src/definition/json-logic";

const data = { workflowInput: { n: 0 }, fetchOutput: { count: 2, items: [1, 2, 3] }, tickOutput: { n: 1 } };

describe("evaluateLogic", () => {
  it.each([
    ["branches on a step output", { if: [{ ">": [{ var: "fetchOutput.count" }, 0] }, "fanOut", null] }, {}, "fanOut"],
    ["takes the else branch", { if: [{ ">": [{ var: "workflowInput.n" }, 0] }, "fanOut", null] }, {}, null],
    ["reads .length of an array", { if: [{ "==": [{ var: "fetchOutput.items.length" }, 3] }, "three", "other"] }, {}, "three"],
    ["reads an array index", { var: "fetchOutput.items.2" }, {}, 3],
    ["resolves the <step>.output alias", { var: "fetch.output.count" }, {}, 2],
    ["resolves previousStep", { "-": [{ var: "previousStep.output.n" }, 1] }, { previousStepName: "tick" }, 0],
    ["previousStep without a previous step is null", { var: "previousStep.output.n" }, {}, null],
    ["else-if chains", { if: [false, "a", { "<": [1, 0] }, "b", "c"] }, {}, "c"],
    ["nested ifs", { if: [true, { if: [{ var: "tickOutput.n" }, "deep", "shallow"] }, "x"] }, {}, "deep"],
    ["map over an array keeps element scope", { map: [{ var: "fetchOutput.items" }, { "*": [{ var: "" }, 2] }] }, {}, [2, 4, 6]],
    ["missing reports absent paths", { missing: ["fetch.output.count", "fetchOutput.nope"] }, {}, ["fetchOutput.nope"]],
  ])("%s", (_name, rule, ctx, expected) => {
    expect(evaluateLogic(rule, data, ctx)).toEqual(expected);
  });

  it("registers no operation on the shared json-logic-js instance", () => {
    evaluateLogic({ var: "fetch.output.count" }, data, {});
    expect(() => jsonLogic.apply({ canopy_anything: [] } as never, {})).toThrow(/Unrecognized operation/);
  });

  it("does not mutate the execution data", () => {
    const copy = structuredClone(data);
    evaluateLogic({ if: [{ var: "fetch.output.count" }, "a", "b"] }, data, {});
    expect(data).toEqual(copy);
  });
});

describe("collectVars", () => {
  it("lists root-scope var and missing paths, not per-element ones", () => {
    const rule = {
      and: [
        { ">": [{ var: "fetchOutput.count" }, 0] },
        { some: [{ var: "workflowInput.items" }, { "==": [{ var: "sku" }, "x"] }] },
        { missing: ["a.b", "c"] },
        { var: ["tickOutput.n", 0] },
        { var: 3 },
      ],
    };
    expect(collectVars(rule).sort()).toEqual(["3", "a.b", "c", "fetchOutput.count", "tickOutput.n", "workflowInput.items"]);
  });
});

describe("collectStepTargets / analyzeTransition", () => {
  it.each([
    ["a plain if", { if: [{ var: "x" }, "a", "b"] }, ["a", "b"], false, []],
    ["if without else yields null too", { if: [{ var: "x" }, "a"] }, ["a"], false, []],
    ["nested ifs in both branches", { if: [true, { if: [false, "b", "c"] }, { if: [1, "d", null] }] }, ["b", "c", "d"], false, []],
    ["else-if chains", { if: [1, "a", 2, "b", "c"] }, ["a", "b", "c"], false, []],
    ["conditions are not targets", { if: [{ "==": [{ var: "x" }, "notAStep"] }, "a", null] }, ["a"], false, []],
    ["or/and yield one of their arguments", { if: [true, { or: [{ var: "next" }, "fallback"] }, null] }, ["fallback"], true, []],
    ["a var result is dynamic", { if: [true, { var: "next" }, "a"] }, ["a"], true, []],
    ["a number is not a step name", { if: [true, "a", 5] }, ["a"], false, [5]],
    ["a comparison is not a step name", { if: [true, { "==": [1, 1] }, "a"] }, ["a"], false, [{ "==": [1, 1] }]],
  ])("%s", (_name, rule, targets, dynamic, invalid) => {
    const analysis = analyzeTransition(rule);
    expect(analysis.targets.sort()).toEqual(targets);
    expect(analysis.dynamic).toBe(dynamic);
    expect(analysis.invalid).toEqual(invalid);
    expect(collectStepTargets(rule).sort()).toEqual(targets);
  });
});

describe("unknownOperations", () => {
  it("names operations json-logic-js would refuse", () => {
    expect(unknownOperations({ if: [{ regex: ["a", "b"] }, { "==": [1, 1] }, { "canopy.x": [] }] })).toEqual(["regex", "canopy.x"]);
    expect(unknownOperations({ if: [{ var: "a" }, "x", null] })).toEqual([]);
  });
});
