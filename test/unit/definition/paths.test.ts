import { describe, expect, it } from "vitest";
import { createAliasData, getPath, normalizePath } from "../../../src/definition/paths";

const data = {
  workflowInput: { a: { b: 1 }, items: [{ sku: "x" }, { sku: "y" }] },
  fetchInput: { q: "z" },
  fetchOutput: { count: 2, rows: [10, 20, 30] },
  tickOutput: { n: 3 },
};

describe("getPath", () => {
  it.each([
    ["workflowInput.a.b", {}, 1],
    ["fetchOutput.count", {}, 2],
    ["fetch.output.count", {}, 2],
    ["fetch.input.q", {}, "z"],
    ["previousStep.output.count", { previousStepName: "fetch" }, 2],
    ["previousStep.input.q", { previousStepName: "fetch" }, "z"],
    ["previousStep.output.count", {}, undefined],
    ["fetchOutput.rows.1", {}, 20],
    ["fetchOutput.rows.length", {}, 3],
    ["workflowInput.items.1.sku", {}, "y"],
    ["workflowInput.items.length", {}, 2],
    ["workflowInput.items.9.sku", {}, undefined],
    ["fetchOutput.rows.01", {}, undefined],
    ["fetchOutput.nope.deeper", {}, undefined],
    ["nope.output.x", {}, undefined],
    ["workflowInput.constructor", {}, undefined],
    ["workflowInput.a.__proto__", {}, undefined],
    ["", {}, data],
  ])("%s (%j) → %j", (path, ctx, expected) => {
    expect(getPath(data, path, ctx)).toEqual(expected);
  });

  it("reads a key present in the data literally rather than as an alias", () => {
    expect(getPath({ odd: { output: { x: 1 } }, oddOutput: { x: 2 } }, "odd.output.x", {})).toBe(1);
  });

  it("with step names, an alias is taken exactly when the head is a step", () => {
    const d = { workflowInput: { output: 5 }, loadOutput: { items: [1] } };
    expect(getPath(d, "workflowInput.output", { stepNames: new Set(["load"]) })).toBe(5);
    expect(getPath(d, "load.output.items.0", { stepNames: new Set(["load"]) })).toBe(1);
  });
});

describe("normalizePath", () => {
  it.each([
    ["fetch.output.x", {}, "fetchOutput.x"],
    ["fetch.input", {}, "fetchInput"],
    ["previousStep.output.n", { previousStepName: "tick" }, "tickOutput.n"],
    ["previousStep.output.n", {}, undefined],
    ["fetchOutput.x", {}, "fetchOutput.x"],
    ["fetchOutput.output.x", {}, "fetchOutput.output.x"],
    ["workflowInput.output.x", {}, "workflowInput.output.x"],
    ["getInput.output.x", { stepNames: new Set(["getInput"]) }, "getInputOutput.x"],
    ["load.outputs.x", {}, "load.outputs.x"],
  ])("%s (%j) → %s", (path, ctx, expected) => {
    expect(normalizePath(path, ctx)).toBe(expected);
  });
});

describe("createAliasData", () => {
  it("answers canonical keys and aliases without copying the data", () => {
    const view = createAliasData(data, { previousStepName: "tick" }) as Record<string, any>;
    expect(view.fetchOutput).toBe(data.fetchOutput);
    expect(view.fetch.output.count).toBe(2);
    expect(view.previousStep.output.n).toBe(3);
    expect(view.unknownStep).toBeUndefined();
    expect(view.constructor).toBeUndefined();
  });

  it("is read-only", () => {
    const view = createAliasData({ a: 1 }, {}) as Record<string, unknown>;
    expect(() => {
      view.a = 2;
    }).toThrow();
  });

  it("costs O(path) whatever the size of the job", () => {
    const big: Record<string, unknown> = {};
    for (let i = 0; i < 5000; i++) big[`s${i}Output`] = { v: i };
    let reads = 0;
    const counted = new Proxy(big, { get: (t, k) => ((reads += 1), Reflect.get(t, k)), has: (t, k) => Reflect.has(t, k), getOwnPropertyDescriptor: (t, k) => ((reads += 1), Reflect.getOwnPropertyDescriptor(t, k)) });
    const view = createAliasData(counted, {}) as Record<string, any>;
    reads = 0;
    expect(view.s4999.output.v).toBe(4999);
    expect(reads).toBeLessThan(10);
  });
});
