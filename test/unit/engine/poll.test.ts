/**
 * `successful_but_incomplete`: an executor result that asks the engine to run the same step again
 * after a poll interval, on a durable timer (the state's wait, which the job object arms as its
 * alarm). These drive the pure engine; test/integration/jobs/poll.test.ts runs the same through a
 * job's Durable Object and its alarm.
 */
import { describe, expect, it } from "vitest";
import { MAX_POLLS_PER_STEP } from "../../../src/limits";
import { EngineRun, T0, definition, step } from "./harness";

const http = "/canopy/http";
const lambda = "/justworkflowit/aws/lambda";
const url = "https://api.example.com/export";

/** Sends the current attempt's result. */
function answer(run: EngineRun, kind: "stepCompleted" | "stepIncomplete", output: unknown, at: number) {
  const cur = run.state.current!;
  return run.send({ type: kind, stepName: cur.name, attempt: cur.attempt, output, at });
}

describe("successful_but_incomplete", () => {
  it("runs the step again after the default 5 s, one history item and one unit per poll, no retry used", () => {
    const run = new EngineRun(definition([step("export", http, { config: { url } }, "done"), step("done", "/justworkflowit/noop")]), { id: 7 });
    expect(EngineRun.kinds(run.start())).toEqual(["indexStatus", "callExecutor"]);
    const first = run.state.current!.attempt;

    expect(EngineRun.kinds(answer(run, "stepIncomplete", { progress: 10 }, T0 + 100))).toEqual([]);
    expect(run.state.status).toBe("RUNNING");
    expect(run.state.current).toMatchObject({ name: "export", triesUsed: 1, polls: 1, wait: { type: "poll", at: T0 + 5100 } });
    expect(run.data.exportOutput).toEqual({ progress: 10 });
    expect(run.history.at(-1)).toMatchObject({ stepName: "export", attempt: first, input: { id: 7 }, output: { status: "successful_but_incomplete", payload: { progress: 10 } }, errors: [] });

    // Early: nothing happens. Due: the step runs again, as a new attempt.
    expect(EngineRun.kinds(run.send({ type: "timerFired", at: T0 + 5000 }))).toEqual([]);
    expect(EngineRun.kinds(run.send({ type: "timerFired", at: T0 + 5100 }))).toEqual(["callExecutor"]);
    const second = run.state.current!.attempt;
    expect(second).toBeGreaterThan(first);
    expect(run.state.current).toMatchObject({ triesUsed: 1, polls: 1, wait: { type: "call" } });

    answer(run, "stepIncomplete", { progress: 90 }, T0 + 5200);
    run.send({ type: "timerFired", at: T0 + 10_200 });
    answer(run, "stepCompleted", { file: "export.csv" }, T0 + 10_300);

    expect(run.state.status).toBe("SUCCEEDED");
    expect(run.output).toEqual({ file: "export.csv" });
    expect(run.history.map((h) => [h.stepName, h.output.status])).toEqual([
      ["export", "successful_but_incomplete"],
      ["export", "successful_but_incomplete"],
      ["export", "success"],
      ["done", "success"],
    ]);
    expect(new Set(run.history.slice(0, 3).map((h) => h.attempt)).size).toBe(3);
    expect(run.state.ownUnits).toBe(4);
  });

  it.each([
    ["the step's pollIntervalSeconds", { pollIntervalSeconds: 2, config: { url, pollIntervalSeconds: 30 } }, 2000],
    ["the executor config's pollIntervalSeconds", { config: { url, pollIntervalSeconds: 30 } }, 30_000],
    ["the default", { config: { url } }, 5000],
  ])("waits %s", (_what, extra, ms) => {
    const run = new EngineRun(definition([step("export", http, extra)]));
    run.start();
    answer(run, "stepIncomplete", {}, T0);
    expect(run.state.current?.wait).toEqual({ type: "poll", at: T0 + ms });
  });

  it("lets the next poll's inputTransformer read the last poll's payload", () => {
    const def = definition([
      step("export", lambda, {
        config: { region: "eu-west-1", accountId: "123456789012", functionName: "f" },
        inputTransformer: { fieldset: [{ from: "workflowInput.table", to: "table" }, { from: "exportOutput.handle", to: "handle" }] },
      }),
    ]);
    const run = new EngineRun(def, { table: "orders" });
    run.start();
    expect(run.data.exportInput).toEqual({ table: "orders" });
    answer(run, "stepIncomplete", { handle: "h-1" }, T0);
    run.send({ type: "timerFired", at: T0 + 5000 });
    expect(run.data.exportInput).toEqual({ table: "orders", handle: "h-1" });
  });

  it("does not check a poll's payload against the output schema, only the final output", () => {
    const def = definition([step("export", http, { config: { url }, output: "done" })], {
      done: { type: "object", required: ["file"] },
    });
    const run = new EngineRun(def);
    run.start();
    answer(run, "stepIncomplete", { progress: 1 }, T0);
    expect(run.state.status).toBe("RUNNING");
    run.send({ type: "timerFired", at: T0 + 5000 });
    answer(run, "stepCompleted", { progress: 2 }, T0 + 5001);
    expect(run.state.status).toBe("FAILED");
    expect(run.state.error?.code).toBe("OutputValidationError");
  });

  it("ignores a late duplicate of an earlier poll's result", () => {
    const run = new EngineRun(definition([step("export", http, { config: { url } })]));
    run.start();
    const first = run.state.current!.attempt;
    answer(run, "stepIncomplete", { n: 1 }, T0);
    run.send({ type: "timerFired", at: T0 + 5000 });
    const before = { current: structuredClone(run.state.current), history: run.history.length, data: run.data };
    run.send({ type: "stepCompleted", stepName: "export", attempt: first, output: { stale: true }, at: T0 + 5001 });
    run.send({ type: "stepIncomplete", stepName: "export", attempt: first, output: { stale: true }, at: T0 + 5001 });
    expect({ current: run.state.current, history: run.history.length, data: run.data }).toEqual(before);
    expect(run.state.status).toBe("RUNNING");
  });

  it("bounds the whole polling by timeoutSeconds: a TIMEOUT naming the polls, and a retry starts over", () => {
    const run = new EngineRun(definition([step("export", http, { config: { url }, timeoutSeconds: 12, retries: 1, retryPolicy: { initialIntervalSeconds: 1 } })]));
    run.start();
    answer(run, "stepIncomplete", {}, T0 + 1000);
    run.send({ type: "timerFired", at: T0 + 6000 });
    answer(run, "stepIncomplete", {}, T0 + 7000);
    // The next poll (T0 + 12 s) is not before the deadline (T0 + 12 s): the deadline wins.
    expect(run.state.current).toMatchObject({ polls: 2, deadline: T0 + 12_000, wait: { type: "poll", at: T0 + 12_000 } });
    run.send({ type: "timerFired", at: T0 + 12_000 });
    expect(run.history.at(-1)!.errors).toEqual(["TIMEOUT: The step was still incomplete after 2 polls when its timeoutSeconds (12 s) ran out."]);
    // The retry is a fresh execution: a new deadline, no polls, one try of `retries` used.
    expect(run.state.current).toMatchObject({ triesUsed: 1, wait: { type: "retry", at: T0 + 13_000 } });
    expect(run.state.current?.polls).toBeUndefined();
    run.send({ type: "timerFired", at: T0 + 13_000 });
    expect(run.state.current).toMatchObject({ triesUsed: 2, deadline: T0 + 25_000 });
    answer(run, "stepIncomplete", {}, T0 + 14_000);
    run.send({ type: "timerFired", at: T0 + 25_000 });
    expect(run.state.status).toBe("FAILED");
    expect(run.state.error).toMatchObject({ code: "TIMEOUT", stepName: "export" });
  });

  it("fails a failed poll under retries like any attempt, and the retry polls from scratch", () => {
    const run = new EngineRun(definition([step("export", http, { config: { url }, retries: 1, retryPolicy: { initialIntervalSeconds: 1 } })]));
    run.start();
    answer(run, "stepIncomplete", {}, T0);
    run.send({ type: "timerFired", at: T0 + 5000 });
    const cur = run.state.current!;
    run.send({ type: "stepFailed", stepName: "export", attempt: cur.attempt, error: { code: "HTTP_503", message: "busy" }, retryable: true, at: T0 + 5001 });
    expect(run.state.current).toMatchObject({ triesUsed: 1, wait: { type: "retry" } });
    expect(run.state.current?.polls).toBeUndefined();
    run.send({ type: "timerFired", at: T0 + 6001 });
    answer(run, "stepCompleted", { ok: 1 }, T0 + 6002);
    expect(run.state.status).toBe("SUCCEEDED");
    expect(run.history.map((h) => h.output.status)).toEqual(["successful_but_incomplete", "failure", "success"]);
  });

  it(`fails with POLL_LIMIT, without retry, after ${MAX_POLLS_PER_STEP} polls`, () => {
    const run = new EngineRun(definition([step("export", http, { config: { url, pollIntervalSeconds: 1 }, retries: 3 })]));
    run.start();
    let at = T0;
    for (let i = 0; i < MAX_POLLS_PER_STEP - 1; i++) {
      answer(run, "stepIncomplete", { i }, at);
      at += 1000;
      run.send({ type: "timerFired", at });
    }
    expect(run.state.status).toBe("RUNNING");
    answer(run, "stepIncomplete", { last: true }, at);
    expect(run.state.status).toBe("FAILED");
    expect(run.state.error).toMatchObject({ code: "POLL_LIMIT", stepName: "export" });
    expect(run.history).toHaveLength(MAX_POLLS_PER_STEP);
  });

  it("is cancelled while it waits to poll, and a resume starts the step over", () => {
    const run = new EngineRun(definition([step("export", http, { config: { url } })]));
    run.start();
    answer(run, "stepIncomplete", {}, T0);
    run.send({ type: "cancel", at: T0 + 1 });
    expect(run.state.status).toBe("CANCELLED");
    expect(EngineRun.kinds(run.send({ type: "timerFired", at: T0 + 5000 }))).toEqual([]);
    expect(EngineRun.kinds(run.send({ type: "resume", at: T0 + 6000 }))).toEqual(["indexStatus", "callExecutor"]);
    expect(run.state.current).toMatchObject({ name: "export", triesUsed: 1 });
    expect(run.state.current?.polls).toBeUndefined();
  });
});

// JustWorkflowIt's resilience test (test/resilience.test.ts in its engine), on the pure engine:
// `retries: 1`, the executor throws on the first attempt and succeeds on the second.
describe("the peer's resilience scenario", () => {
  it("a step that throws once succeeds on its second attempt", () => {
    const def = definition([step("failingStep", lambda, { retries: 1, timeoutSeconds: 1000, config: { region: "eu-west-1", accountId: "123456789012", functionName: "f" } })]);
    const run = new EngineRun(def, {});
    run.start();
    const cur = run.state.current!;
    run.send({ type: "stepFailed", stepName: "failingStep", attempt: cur.attempt, error: { code: "FunctionError", message: "Step execution failed on first attempt." }, retryable: true, at: T0 + 10 });
    run.send({ type: "timerFired", at: run.state.current!.wait!.type === "retry" ? (run.state.current!.wait as { at: number }).at : T0 });
    answer(run, "stepCompleted", { outputAPropertyKey: "anOutputProperty" }, T0 + 2000);
    expect(run.state.status).toBe("SUCCEEDED");
    expect(run.state.ownUnits).toBe(2);
    expect(run.data.failingStepOutput).toEqual({ outputAPropertyKey: "anOutputProperty" });
    expect(run.history.map((h) => h.output.status)).toEqual(["failure", "success"]);
  });
});
