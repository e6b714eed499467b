/**
 * What a history item tells an operator about its attempt: its try within the step's execution, the
 * tries allowed, its iteration (a loop's pass), when a retry follows, the far end's status code and
 * the answer that failed it; and the item a cancelled step gets. Also what GetJob says a job waits for.
 */
import { describe, expect, it } from "vitest";
import { boundedBody, boundedPayload, cutToBytes } from "../../../src/engine/payload";
import { callFacts, redactValue } from "../../../src/executors/call-facts";
import { waitingFor } from "../../../src/job/views";
import { MAX_FAILED_ATTEMPT_PAYLOAD_BYTES, MAX_STEP_RETRIES } from "../../../src/limits";
import countdown from "../../fixtures/countdown.json";
import type { WorkflowDefinition } from "../../../src/definition/schema";
import { definition, EngineRun, step, T0 } from "./harness";

const http = "/canopy/http";
const waitEvents = "/justworkflowit/waitForEventIds";

const place = (run: EngineRun) => run.history.map((h) => [h.stepName, h.iteration, h.executionAttempt, h.attemptsAllowed, h.retryAt !== undefined]);

describe("bounded payloads", () => {
  it("keeps a value whose JSON fits, and cuts a longer one at a character boundary, saying from how much", () => {
    expect(boundedPayload({ a: 1 })).toEqual({ value: { a: 1 } });
    const exact = "x".repeat(MAX_FAILED_ATTEMPT_PAYLOAD_BYTES - 2); // its JSON has two quotes more
    expect(boundedPayload(exact)).toEqual({ value: exact });
    const long = "😀".repeat(2000); // 4 bytes each
    const cut = boundedBody(long);
    expect(cut.truncatedFromBytes).toBe(8000);
    expect(Buffer.byteLength(cut.value as string)).toBe(MAX_FAILED_ATTEMPT_PAYLOAD_BYTES);
    expect(long.startsWith(cut.value as string)).toBe(true);
    expect(cutToBytes("ab😀", 5)).toBe("ab");
  });

  it("shows a JSON body as its value, any other body (or JSON nested past the limit) as text", () => {
    expect(boundedBody('{"error":"declined"}')).toEqual({ value: { error: "declined" } });
    expect(boundedBody("<html>502</html>")).toEqual({ value: "<html>502</html>" });
    const deep = "[".repeat(150) + "]".repeat(150);
    expect(boundedBody(deep)).toEqual({ value: deep });
  });
});

describe("secrets in what a call answered", () => {
  it("replaces them in strings and keys at any depth, and keeps a value that holds none as it is", () => {
    const value = { a: ["x s3cr3t y", { s3cr3t: 1 }], n: 2 };
    expect(redactValue(value, ["s3cr3t"])).toEqual({ a: ["x [secret] y", { "[secret]": 1 }], n: 2 });
    const clean = { a: [1, "b"] };
    expect(redactValue(clean, ["s3cr3t"])).toBe(clean);
  });

  it("replaces them in a failed call's body before it is cut, so no start of one is left at the cut", () => {
    const secret = "S".repeat(30);
    const body = "p".repeat(MAX_FAILED_ATTEMPT_PAYLOAD_BYTES - 4) + secret;
    const facts = callFacts({ ok: false, retryable: false, error: { code: "HTTP_401", message: "no" }, response: { statusCode: 401, body } }, [secret]);
    expect(facts?.statusCode).toBe(401);
    expect(facts?.response).toEqual({ value: "p".repeat(MAX_FAILED_ATTEMPT_PAYLOAD_BYTES - 4) + "[sec", truncatedFromBytes: MAX_FAILED_ATTEMPT_PAYLOAD_BYTES + 4 });
    expect(JSON.stringify(facts)).not.toContain("SSS");
    // A completed call's output is copied only when it holds a secret.
    expect(callFacts({ ok: true, output: { k: secret }, statusCode: 200 }, [secret])).toEqual({ statusCode: 200, redactedOutput: { k: "[secret]" } });
    expect(callFacts({ ok: true, output: { k: 1 }, statusCode: 200 }, [secret])).toEqual({ statusCode: 200 });
  });
});

describe("attempts and iterations", () => {
  it("numbers tries within an execution, says when the retry comes, and that the last try was the last", () => {
    const run = new EngineRun(definition([step("call", http, { retries: 1, retryPolicy: { initialIntervalSeconds: 2 }, config: { url: "https://x" } })]));
    run.start();
    const call = { statusCode: 503, response: { value: { error: "busy" } } };
    run.send({ type: "stepFailed", stepName: "call", attempt: run.state.current!.attempt, error: { code: "HTTP_503", message: "busy" }, retryable: true, at: T0 + 10, call });
    run.send({ type: "timerFired", at: T0 + 2010 });
    run.send({ type: "stepFailed", stepName: "call", attempt: run.state.current!.attempt, error: { code: "HTTP_503", message: "busy" }, retryable: true, at: T0 + 2020, call });
    expect(place(run)).toEqual([
      ["call", 1, 1, 2, true],
      ["call", 1, 2, 2, false],
    ]);
    expect(run.history[0]!.retryAt).toBe(new Date(T0 + 2010).toISOString());
    expect(run.history[1]).toMatchObject({ statusCode: 503, output: { status: "failure", payload: { error: "busy" } } });
  });

  it("counts a loop's passes as iterations, each with its own first try", () => {
    const run = new EngineRun(countdown as WorkflowDefinition, { n: 3 });
    run.start();
    expect(run.state.status).toBe("SUCCEEDED");
    expect(place(run)).toEqual([
      ["init", 1, 1, 1, false],
      ["tick", 1, 1, 1, false],
      ["tick", 2, 1, 1, false],
      ["tick", 3, 1, 1, false],
    ]);
  });

  it("keeps a resumed step in its iteration, and records where a job was cancelled as no attempt", () => {
    const run = new EngineRun(definition([step("wait", waitEvents, { config: { eventIds: ["go"] } })]));
    run.start();
    run.send({ type: "cancel", at: T0 + 5 });
    expect(run.history).toHaveLength(1);
    expect(run.history[0]).toMatchObject({ stepName: "wait", cancelled: true, iteration: 1, errors: ["CANCELLED: The job was cancelled."] });
    expect(run.history[0]).not.toHaveProperty("attempt");
    expect(run.state.ownUnits).toBe(1);
    run.send({ type: "resume", at: T0 + 6 });
    expect(run.state.current).toMatchObject({ name: "wait", iteration: 1 });
  });

  it("keeps the answer that broke the output schema, with the step's secrets replaced", () => {
    const run = new EngineRun(definition([step("call", http, { output: "strict", config: { url: "https://x" } })], { strict: { type: "object", required: ["ok"], properties: { ok: { type: "boolean" } } } }));
    run.start();
    run.send({ type: "stepCompleted", stepName: "call", attempt: run.state.current!.attempt, output: { ok: "tok_1" }, at: T0 + 1, call: { statusCode: 200, redactedOutput: { ok: "[secret]" } } });
    expect(run.state.error?.code).toBe("OutputValidationError");
    expect(run.history[0]).toMatchObject({ statusCode: 200, output: { status: "failure", payload: { ok: "[secret]" } } });
    expect(run.data.callOutput).toBeUndefined();
  });

  it("keeps what a pass-through step would have output when it breaks the schema: its input", () => {
    const run = new EngineRun(definition([step("check", "/justworkflowit/noop", { output: "strict" })], { strict: { type: "object", required: ["never"] } }), { order: 7 });
    run.start();
    expect(run.state.error?.code).toBe("OutputValidationError");
    expect(run.history[0]).toMatchObject({ output: { status: "failure", payload: { order: 7 } } });
    expect(run.history[0]).not.toHaveProperty("statusCode");
  });
});

describe("waitingFor", () => {
  it("names the events not yet received, the next try of a retry, and a fan-out's children", () => {
    const def = definition([step("approve", waitEvents, { retries: 1, config: { eventIds: ["a", "b"] } })]);
    const run = new EngineRun(def);
    run.start();
    run.send({ type: "eventReceived", eventId: "b", payload: {}, at: T0 + 1 });
    expect(waitingFor(run.state, def, (id) => run.view.event(id)?.consumed === false)).toEqual({
      kind: "events",
      stepName: "approve",
      since: new Date(T0).toISOString(),
      eventIds: ["a"],
      received: ["b"],
    });
    const retry = { ...run.state, current: { ...run.state.current!, triesUsed: 1, wait: { type: "retry" as const, at: T0 + 5000 } } };
    expect(waitingFor(retry, def, () => false)).toMatchObject({ kind: "retry", until: new Date(T0 + 5000).toISOString(), attempt: 2, attemptsAllowed: 2 });
    // A version registered before retries were bounded runs held to MAX_STEP_RETRIES, and says so.
    const unbounded = { ...def, steps: def.steps.map((st) => ({ ...st, retries: MAX_STEP_RETRIES + 4000 })) };
    expect(waitingFor(retry, unbounded, () => false)).toMatchObject({ kind: "retry", attempt: 2, attemptsAllowed: MAX_STEP_RETRIES + 1 });
    const children = {
      ...run.state,
      current: { ...run.state.current!, wait: { type: "children" as const, total: 10, active: 3, ended: 5, succeeded: 4, maxConcurrency: 3, toleratedFailures: 1 } },
    };
    expect(waitingFor(children, def, () => false)).toMatchObject({ kind: "children", total: 10, running: 3, notStarted: 2, succeeded: 4, failed: 1, toleratedFailures: 1 });
    expect(waitingFor({ ...run.state, status: "SUCCEEDED" }, def, () => false)).toBeUndefined();
  });
});
