import { describe, expect, it } from "vitest";
import { EngineRun, T0, definition, step } from "./harness";

const noop = "/justworkflowit/noop";
const transform = "/canopy/transform";
const waitEvents = "/justworkflowit/waitForEventIds";
const delay = "/canopy/delay";
const http = "/canopy/http";

describe("decide: step lifecycle", () => {
  it("runs a chain of pure steps to SUCCEEDED in one decision, one history item per step", () => {
    const run = new EngineRun(definition([step("a", noop, {}, "b"), step("b", noop, {}, "c"), step("c", noop)]), { x: 1 });
    const cmds = run.start();
    expect(run.state.status).toBe("SUCCEEDED");
    expect(run.output).toEqual({ x: 1 });
    expect(run.history.map((h) => [h.stepName, h.output.status])).toEqual([["a", "success"], ["b", "success"], ["c", "success"]]);
    expect(run.state.ownUnits).toBe(3);
    expect(run.data).toMatchObject({ aInput: { x: 1 }, aOutput: { x: 1 }, cOutput: { x: 1 } });
    expect(EngineRun.kinds(cmds)).toEqual(["indexStatus", "indexStatus"]);
  });

  it.each([
    [{ n: 5 }, "big"],
    [{ n: 0 }, "small"],
  ])("branches with JSON Logic over the execution data (%j -> %s)", (input, expected) => {
    const def = definition([
      step("check", noop, {}, { if: [{ ">": [{ var: "check.output.n" }, 3] }, "big", "small"] }),
      step("big", transform, { config: { output: { which: "big" } } }),
      step("small", transform, { config: { output: { which: "small", prev: { var: "previousStep.output.n" } } } }),
    ]);
    const run = new EngineRun(def, input);
    run.start();
    expect(run.state.status).toBe("SUCCEEDED");
    expect((run.output as any).which).toBe(expected);
    if (expected === "small") expect((run.output as any).prev).toBe(0);
  });

  it("fails the step without retry when the input violates its schema", () => {
    const def = definition([step("a", noop, { retries: 3, input: "needsId" })], {
      needsId: { type: "object", required: ["id"], properties: { id: { type: "string" } } },
    });
    const run = new EngineRun(def, { other: 1 });
    run.start();
    expect(run.state.status).toBe("FAILED");
    expect(run.state.error).toMatchObject({ code: "InputValidationError", stepName: "a" });
    expect(run.history).toHaveLength(1);
    expect(run.history[0]!.errors[0]).toContain("InputValidationError");
  });

  it("fails the step without retry when the output violates its schema", () => {
    const def = definition([step("a", transform, { retries: 2, config: { output: { n: "text" } }, output: "num" })], {
      num: { type: "object", properties: { n: { type: "integer" } }, required: ["n"] },
    });
    const run = new EngineRun(def);
    run.start();
    expect(run.state.status).toBe("FAILED");
    expect(run.state.error?.code).toBe("OutputValidationError");
    expect(run.state.ownUnits).toBe(1);
  });

  it("fails the job when a JSON Logic transition yields something that is not a step", () => {
    const run = new EngineRun(definition([step("a", noop, {}, { if: [true, 42, null] })]));
    run.start();
    expect(run.state.status).toBe("FAILED");
    expect(run.state.error?.code).toBe("TransitionError");
  });

  it("yields to commit after maxInlineSteps pure steps, and goes on when the timer fires", () => {
    const def = definition([
      step("init", noop, {}, "tick"),
      step("tick", transform, { config: { output: { n: { "-": [{ var: "previousStep.output.n" }, 1] } } } }, { if: [{ ">": [{ var: "tickOutput.n" }, 0] }, "tick", null] }),
    ]);
    const run = new EngineRun(def, { n: 25 }, { maxInlineSteps: 10 });
    run.start();
    expect(run.state.status).toBe("RUNNING");
    expect(run.state.current?.wait).toEqual({ type: "retry", at: T0 });
    expect(run.history).toHaveLength(10);
    run.send({ type: "timerFired", at: T0 + 1 });
    run.send({ type: "timerFired", at: T0 + 2 });
    expect(run.state.status).toBe("SUCCEEDED");
    expect(run.output).toEqual({ n: 0 });
    expect(run.history).toHaveLength(26);
  });
});

describe("decide: retries and timeouts", () => {
  const def = definition([
    step("call", http, { retries: 2, retryPolicy: { initialIntervalSeconds: 2, backoffCoefficient: 3, maxIntervalSeconds: 10 }, config: { url: "https://x" } }),
  ]);

  it("retries a retryable failure after exponential backoff, then fails for good", () => {
    const run = new EngineRun(def);
    expect(EngineRun.kinds(run.start())).toEqual(["indexStatus", "callExecutor"]);
    const a1 = run.state.current!.attempt;
    run.send({ type: "stepFailed", stepName: "call", attempt: a1, error: { code: "HTTP_503", message: "busy" }, retryable: true, at: T0 + 100 });
    expect(run.state.current?.wait).toEqual({ type: "retry", at: T0 + 100 + 2000 });
    // An early or repeated alarm changes nothing.
    expect(run.send({ type: "timerFired", at: T0 + 1000 })).toEqual([]);
    expect(EngineRun.kinds(run.send({ type: "timerFired", at: T0 + 2100 }))).toEqual(["callExecutor"]);
    const a2 = run.state.current!.attempt;
    expect(a2).toBe(a1 + 1);
    run.send({ type: "stepFailed", stepName: "call", attempt: a2, error: { code: "HTTP_503", message: "busy" }, retryable: true, at: T0 + 3000 });
    expect(run.state.current?.wait).toEqual({ type: "retry", at: T0 + 3000 + 6000 });
    run.send({ type: "timerFired", at: T0 + 9000 });
    run.send({ type: "stepFailed", stepName: "call", attempt: a2 + 1, error: { code: "HTTP_503", message: "busy" }, retryable: true, at: T0 + 9500 });
    expect(run.state.status).toBe("FAILED");
    expect(run.state.ownUnits).toBe(3);
    expect(run.history.map((h) => h.output.status)).toEqual(["failure", "failure", "failure"]);
  });

  it("honours retryAfterMs when it is longer than the backoff", () => {
    const run = new EngineRun(def);
    run.start();
    run.send({ type: "stepFailed", stepName: "call", attempt: run.state.current!.attempt, error: { code: "HTTP_429", message: "slow" }, retryable: true, retryAfterMs: 7000, at: T0 });
    expect(run.state.current?.wait).toEqual({ type: "retry", at: T0 + 7000 });
  });

  it("does not retry a non-retryable failure", () => {
    const run = new EngineRun(def);
    run.start();
    run.send({ type: "stepFailed", stepName: "call", attempt: run.state.current!.attempt, error: { code: "HTTP_422", message: "bad" }, retryable: false, at: T0 });
    expect(run.state.status).toBe("FAILED");
    expect(run.state.error).toEqual({ code: "HTTP_422", message: "bad", stepName: "call" });
  });

  it("ignores the late result of an attempt that timed out", () => {
    const run = new EngineRun(definition([step("call", http, { timeoutSeconds: 5, config: { url: "https://x" } })]));
    run.start();
    const attempt = run.state.current!.attempt;
    expect(run.state.current!.deadline).toBe(T0 + 5000);
    run.send({ type: "timerFired", at: T0 + 5000 });
    expect(run.state.status).toBe("FAILED");
    expect(run.state.error?.code).toBe("TIMEOUT");
    run.send({ type: "stepCompleted", stepName: "call", attempt, output: {}, at: T0 + 6000 });
    expect(run.state.status).toBe("FAILED");
  });
});

describe("decide: waits", () => {
  const approve = definition([step("approve", waitEvents, { config: { eventIds: ["a", "b"], timeoutSeconds: 60 } })]);

  it("uses an event that arrived before the wait began, and merges payloads in list order", () => {
    const run = new EngineRun(definition([step("d", delay, { config: { seconds: 10 } }, "approve"), approve.steps[0]!]));
    run.start();
    run.send({ type: "eventReceived", eventId: "b", payload: { x: 2, who: "b" }, at: T0 + 1 });
    run.send({ type: "timerFired", at: T0 + 10_000 });
    expect(run.state.current?.name).toBe("approve");
    run.send({ type: "eventReceived", eventId: "a", payload: { x: 1, who: "a", onlyA: true }, at: T0 + 11_000 });
    expect(run.state.status).toBe("SUCCEEDED");
    expect(run.output).toEqual({ x: 2, who: "b", onlyA: true });
    expect(run.history.filter((h) => h.historySource === "external").map((h) => h.eventId)).toEqual(["b", "a"]);
  });

  it("fails when the wait's timeout expires", () => {
    const run = new EngineRun(approve);
    run.start();
    run.send({ type: "timerFired", at: T0 + 60_000 });
    expect(run.state.status).toBe("FAILED");
    expect(run.state.error?.code).toBe("TIMEOUT");
  });

  it("a delay fires once, at its time, passing its input through", () => {
    const run = new EngineRun(definition([step("d", delay, { config: { seconds: 5 } })]), { keep: true });
    run.start();
    run.send({ type: "timerFired", at: T0 + 4999 });
    expect(run.state.status).toBe("RUNNING");
    run.send({ type: "timerFired", at: T0 + 5000 });
    run.send({ type: "timerFired", at: T0 + 5001 });
    expect(run.state.status).toBe("SUCCEEDED");
    expect(run.history).toHaveLength(1);
    expect(run.output).toEqual({ keep: true });
  });
});

describe("decide: cancel and resume", () => {
  it("cancels a waiting job and resumes it at the step it was on", () => {
    const run = new EngineRun(definition([step("a", noop, {}, "wait"), step("wait", waitEvents, { config: { eventIds: ["go"] } })]));
    run.start();
    run.send({ type: "cancel", at: T0 + 1 });
    expect(run.state.status).toBe("CANCELLED");
    expect(run.state.error).toMatchObject({ code: "CANCELLED", stepName: "wait" });
    run.send({ type: "eventReceived", eventId: "go", payload: { ok: 1 }, at: T0 + 2 });
    expect(run.state.status).toBe("CANCELLED");
    run.send({ type: "resume", at: T0 + 3 });
    expect(run.state.status).toBe("SUCCEEDED");
    expect(run.history.filter((h) => h.stepName === "a" && h.historySource === "engine")).toHaveLength(1);
  });

  it("resumes a failed job at the failed step with fresh tries", () => {
    const run = new EngineRun(definition([step("a", noop, {}, "call"), step("call", http, { config: { url: "https://x" } })]));
    run.start();
    run.send({ type: "stepFailed", stepName: "call", attempt: run.state.current!.attempt, error: { code: "E", message: "e" }, retryable: true, at: T0 });
    expect(run.state.status).toBe("FAILED");
    const cmds = run.send({ type: "resume", at: T0 + 1 });
    expect(run.state.status).toBe("RUNNING");
    expect(run.state.current?.name).toBe("call");
    expect(EngineRun.kinds(cmds)).toEqual(["indexStatus", "callExecutor"]);
    run.send({ type: "stepCompleted", stepName: "call", attempt: run.state.current!.attempt, output: { done: true }, at: T0 + 2 });
    expect(run.state.status).toBe("SUCCEEDED");
  });
});
