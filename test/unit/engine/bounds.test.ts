/**
 * The engine's bounds, each at its bound: children per step and their input bytes, retries, a run's
 * history bytes, and reading a fan-out's results (counted as read, never past the payload limit,
 * and not at all when nothing needs them).
 */
import { describe, expect, it } from "vitest";
import { acceptsEveryValue } from "../../../src/definition/json-schema";
import { newJobState } from "../../../src/engine/state";
import type { ChildRow } from "../../../src/engine/types";
import { runChildJobExecutor } from "../../../src/executors/run-child-job";
import { MAX_CHILD_INPUT_BYTES_PER_STEP, MAX_CHILDREN_PER_STEP, MAX_PAYLOAD_BYTES, MAX_RUN_HISTORY_BYTES, MAX_STEP_RETRIES } from "../../../src/limits";
import { EngineRun, T0, definition, step } from "./harness";

const runChildJob = "/justworkflowit/runChildJob";
const noop = "/justworkflowit/noop";
const http = "/canopy/http";
const child = { workflowName: "item", workflowVersion: { tag: "$LIVE" as const } };

function startFan(config: Record<string, unknown>, input: unknown) {
  const state = newJobState(
    { jobId: "00000000-0000-4000-8000-000000000001", organizationId: "o", workflowId: "w", workflowName: "t", versionId: "v", versionNumber: 1, submittedByUser: "u", runNumber: 1, rootJobId: "r", depth: 0, createdAt: T0 },
    T0,
  );
  return runChildJobExecutor.start({ stepName: "fan", config: config as never, input, state, data: { workflowInput: input }, attempt: 1, at: T0 });
}

describe("runChildJob's bounds", () => {
  it(`starts ${MAX_CHILDREN_PER_STEP} children from a forEach, and refuses one more without building any`, () => {
    const forEach = { children: [{ ...child, forEach: { arrayPath: "workflowInput.items" } }] };
    const at = startFan(forEach, { items: new Array(MAX_CHILDREN_PER_STEP).fill(0) });
    expect(at.kind === "children" && at.children.length).toBe(MAX_CHILDREN_PER_STEP);
    const over = startFan(forEach, { items: new Array(MAX_CHILDREN_PER_STEP + 1).fill(0) });
    expect(over).toEqual({ kind: "fail", retryable: false, error: { code: "CHILD_LIMIT", message: expect.stringContaining(`at most ${MAX_CHILDREN_PER_STEP}`) } });
  });

  it(`gives listed children at most ${MAX_CHILD_INPUT_BYTES_PER_STEP} bytes of input in all`, () => {
    const listed = { children: Array.from({ length: 100 }, (_, i) => ({ ...child, id: `c${i}` })) };
    const each = MAX_CHILD_INPUT_BYTES_PER_STEP / 100;
    // {"pad":"…"} is the pad and 10 characters.
    const at = startFan(listed, { pad: "x".repeat(each - 10) });
    expect(at.kind).toBe("children");
    const over = startFan(listed, { pad: "x".repeat(each - 9) });
    expect(over).toMatchObject({ kind: "fail", error: { code: "CHILD_LIMIT" } });
  });
});

describe("a step's retries", () => {
  it(`are held to ${MAX_STEP_RETRIES} when a version asks for more`, () => {
    const run = new EngineRun(definition([step("call", http, { retries: 5000, config: { url: "https://x" } })]));
    run.start();
    let tries = 0;
    while (run.state.status === "RUNNING") {
      const cur = run.state.current!;
      if (cur.wait?.type === "retry") {
        run.send({ type: "timerFired", at: cur.wait.at });
        continue;
      }
      tries += 1;
      run.send({ type: "stepFailed", stepName: "call", attempt: cur.attempt, error: { code: "HTTP_503", message: "busy" }, retryable: true, at: T0 + tries });
    }
    expect(run.state.status).toBe("FAILED");
    expect(tries).toBe(MAX_STEP_RETRIES + 1);
    // The history says the tries it was held to: the last is "attempt 1001 of 1001, retries used up",
    // not "of 5001, not retried"; the one before it says when the last try ran.
    const [beforeLast, last] = run.history.slice(-2);
    expect(last).toMatchObject({ executionAttempt: MAX_STEP_RETRIES + 1, attemptsAllowed: MAX_STEP_RETRIES + 1 });
    expect(last!.retryAt).toBeUndefined();
    expect(beforeLast).toMatchObject({ executionAttempt: MAX_STEP_RETRIES, attemptsAllowed: MAX_STEP_RETRIES + 1, retryAt: expect.any(String) });
  });
});

describe("a run's history bytes", () => {
  it.each([
    [MAX_RUN_HISTORY_BYTES - 1, undefined],
    [MAX_RUN_HISTORY_BYTES, 2],
  ])("with %i characters of history, the next step continues as new in run %s", (bytes, toRun) => {
    const run = new EngineRun(definition([step("a", "/justworkflowit/waitForEventIds", { config: { eventIds: ["go"] } }, "b"), step("b", noop)]));
    run.start();
    run.state = { ...run.state, historyBytes: bytes };
    run.send({ type: "eventReceived", eventId: "go", payload: {}, at: T0 + 1 });
    expect(run.state.continuedAs?.toRun).toBe(toRun);
    expect(run.state.status).toBe(toRun ? "RUNNING" : "SUCCEEDED");
  });
});

describe("a fan-out's results over the payload limit", () => {
  /** A job whose step `fan` ended with five children of 300 KB each (1.5 MB of results), then `next`. */
  function afterFanOut(next: unknown, definitions: Record<string, unknown> = {}, more: unknown[] = []) {
    const run = new EngineRun(definition([step("fan", runChildJob, { config: { children: [{ ...child, forEach: { arrayPath: "workflowInput.items" } }] } }, "next"), next, ...more], definitions), {
      items: [0, 1, 2, 3, 4],
    });
    run.start();
    const ids = run.view.childStubs("fan", 1).map((r) => r.jobId);
    // What the store hands out of the children's payloads, call by call.
    const read: number[] = [];
    const real = run.view.childPayloads.bind(run.view);
    run.view.childPayloads = (jobIds: string[], maxBytes: number) => {
      const answer = real(jobIds, maxBytes);
      read.push("over" in answer ? -answer.over : answer.payloads.size);
      return answer;
    };
    const pad = "p".repeat(300_000);
    run.send({ type: "childReports", reports: ids.map((childJobId, i) => ({ childJobId, workflowName: "item", status: "SUCCEEDED", units: 1, output: { i, pad } })), at: T0 + 5 });
    return { run, read };
  }

  it("pass to a step that accepts any value by reference, never read", () => {
    const { run, read } = afterFanOut(step("next", noop));
    expect(run.state.status).toBe("SUCCEEDED");
    expect(run.view.dataMap.get("nextOutput")).toEqual({ ref: { children: { stepName: "fan", attempt: 1, count: 5 } } });
    expect(read).toEqual([]);
  });

  it("fail a step whose schema needs them with PAYLOAD_TOO_LARGE, the same decision that holds them", () => {
    const { run, read } = afterFanOut(step("next", noop, { input: "strict" }), { strict: { type: "object", required: ["results"] } });
    expect(run.state).toMatchObject({ status: "FAILED", error: { code: "PAYLOAD_TOO_LARGE", stepName: "next" } });
    // The reports that brought the outputs were all in memory already: the store was asked for none.
    expect(read).toEqual([0]);
  });

  it("fail a later step that reads them with PAYLOAD_TOO_LARGE, having read no more than the limit from the store", () => {
    const last = step("last", noop, { inputTransformer: { fieldset: [{ from: "fanOutput", to: "all" }] } });
    const { run, read } = afterFanOut(step("next", "/justworkflowit/waitForEventIds", { config: { eventIds: ["go"] } }, "last"), {}, [last]);
    expect(run.state.current?.name).toBe("next");
    run.send({ type: "eventReceived", eventId: "go", payload: {}, at: T0 + 10 });
    expect(run.state).toMatchObject({ status: "FAILED", error: { code: "PAYLOAD_TOO_LARGE", stepName: "last" } });
    // The store was asked once and gave up past the limit: four of the five rows were counted.
    expect(read).toHaveLength(1);
    expect(-read[0]!).toBeGreaterThan(MAX_PAYLOAD_BYTES);
    expect(-read[0]!).toBeLessThan(MAX_PAYLOAD_BYTES + 300_100);
  });

  it("knows which schemas accept any value", () => {
    const defs = { any: {}, yes: true, noted: { title: "t", description: "d" }, alias: { $ref: "#/definitions/any" }, obj: { type: "object" }, no: false };
    expect(["any", "yes", "noted", "alias"].map((n) => acceptsEveryValue(defs, `#/definitions/${n}`))).toEqual([true, true, true, true]);
    expect(["obj", "no", "missing"].map((n) => acceptsEveryValue(defs, `#/definitions/${n}`))).toEqual([false, false, false]);
  });
});

// Keeps the type import honest: a decision reads rows without their payloads.
export type _Stub = Omit<ChildRow, "output" | "error">;
