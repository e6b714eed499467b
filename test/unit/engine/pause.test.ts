/**
 * PauseJob through the pure engine: a paused job starts no step attempt (next step, retry, poll,
 * child), records what was under way, acts at unpause on what fell due, and tells its children.
 */
import { describe, expect, it } from "vitest";
import type { ChildReportFact, Command } from "../../../src/engine/types";
import { isPaused } from "../../../src/engine/pause";
import { EngineRun, T0, definition, step } from "./harness";

const http = "/canopy/http";
const delay = "/canopy/delay";
const waitEvents = "/justworkflowit/waitForEventIds";
const runChildJob = "/justworkflowit/runChildJob";
const noop = "/justworkflowit/noop";

const calls = (cmds: Command[]) => cmds.filter((c) => c.type === "callExecutor");
const pauseWords = (cmds: Command[]) => cmds.filter((c) => c.type === "pauseChildren");

function twoCalls() {
  return new EngineRun(definition([step("a", http, { config: { url: "https://x" } }, "b"), step("b", http, { config: { url: "https://x" } })]));
}

describe("pause: a job paused between steps", () => {
  it("records the call in flight, does not begin the next step, and begins it at unpause", () => {
    const run = twoCalls();
    run.start();
    expect(calls(run.send({ type: "pause", at: T0 + 1 }))).toEqual([]);
    expect(isPaused(run.state)).toBe(true);
    // The call that was in flight answers: recorded, and the next step waits.
    const after = run.send({ type: "stepCompleted", stepName: "a", attempt: 1, output: { ok: 1 }, at: T0 + 2 });
    expect(calls(after)).toEqual([]);
    expect(run.history.map((h) => [h.stepName, h.output.status])).toEqual([["a", "success"]]);
    expect(run.data.aOutput).toEqual({ ok: 1 });
    // It waits for unpause (not as a retry: no step_retries metric counts it).
    expect(run.state).toMatchObject({ status: "RUNNING", current: { name: "b", wait: { type: "unpause" } } });
    // Its alarm may fire any number of times: nothing starts.
    expect(calls(run.send({ type: "timerFired", at: T0 + 10_000 }))).toEqual([]);
    expect(calls(run.send({ type: "timerFired", at: T0 + 20_000 }))).toEqual([]);
    expect(run.state.ownUnits).toBe(1);
    const unpaused = run.send({ type: "unpause", at: T0 + 30_000 });
    expect(calls(unpaused)).toEqual([{ type: "callExecutor", stepName: "b", attempt: 1 }]);
    expect(isPaused(run.state)).toBe(false);
    run.send({ type: "stepCompleted", stepName: "b", attempt: 1, output: { done: true }, at: T0 + 31_000 });
    expect(run.state.status).toBe("SUCCEEDED");
  });

  it("holds a retry that falls due while paused, and runs it at unpause", () => {
    const run = new EngineRun(definition([step("a", http, { retries: 1, config: { url: "https://x" } })]));
    run.start();
    run.send({ type: "pause", at: T0 + 1 });
    run.send({ type: "stepFailed", stepName: "a", attempt: 1, error: { code: "HTTP_503", message: "down" }, retryable: true, at: T0 + 2 });
    const retryAt = (run.state.current!.wait as { at: number }).at;
    expect(calls(run.send({ type: "timerFired", at: retryAt + 1 }))).toEqual([]);
    expect(calls(run.send({ type: "unpause", at: retryAt + 5 }))).toEqual([{ type: "callExecutor", stepName: "a", attempt: 2 }]);
  });

  it("keeps a delay that falls due while paused and completes it at unpause", () => {
    const run = new EngineRun(definition([step("d", delay, { config: { seconds: 5 } }, "after"), step("after", noop)]), { n: 1 });
    run.start();
    run.send({ type: "pause", at: T0 + 1 });
    run.send({ type: "timerFired", at: T0 + 6_000 });
    expect(run.state).toMatchObject({ status: "RUNNING", current: { name: "d" } });
    run.send({ type: "unpause", at: T0 + 9_000 });
    expect(run.state.status).toBe("SUCCEEDED");
    expect(run.history.map((h) => h.stepName)).toEqual(["d", "after"]);
  });

  it("records an event that arrives while paused and completes the wait at unpause, before a deadline that passed meanwhile", () => {
    const run = new EngineRun(definition([step("w", waitEvents, { timeoutSeconds: 10, config: { eventIds: ["go"] } })]));
    run.start();
    run.send({ type: "pause", at: T0 + 1 });
    run.send({ type: "eventReceived", eventId: "go", payload: { yes: true }, at: T0 + 2 });
    expect(run.state).toMatchObject({ status: "RUNNING", current: { name: "w", wait: { type: "events" } } });
    run.send({ type: "unpause", at: T0 + 60_000 });
    expect(run.state.status).toBe("SUCCEEDED");
    expect(run.output).toEqual({ yes: true });
  });

  it("times out at unpause a wait whose deadline passed while paused with its event missing", () => {
    const run = new EngineRun(definition([step("w", waitEvents, { timeoutSeconds: 10, config: { eventIds: ["go"] } })]));
    run.start();
    run.send({ type: "pause", at: T0 + 1 });
    run.send({ type: "timerFired", at: T0 + 11_000 });
    expect(run.state.status).toBe("RUNNING");
    run.send({ type: "unpause", at: T0 + 12_000 });
    expect(run.state).toMatchObject({ status: "FAILED", error: { code: "TIMEOUT", stepName: "w" } });
  });

  it("lets CancelJob end a paused job, which is then no longer paused", () => {
    const run = twoCalls();
    run.start();
    run.send({ type: "pause", at: T0 + 1 });
    run.send({ type: "cancel", at: T0 + 2 });
    expect(run.state.status).toBe("CANCELLED");
    expect(isPaused(run.state)).toBe(false);
  });

  it("carries the pause into the next run of a job that continues as new", () => {
    const run = new EngineRun(definition([step("a", http, { config: { url: "https://x" } }, "b"), step("b", noop)]), {}, { rolloverThreshold: 1 });
    run.start();
    run.send({ type: "pause", at: T0 + 1 });
    // The history reaches its bound as "a" ends: the job rolls over at "b", paused.
    run.send({ type: "stepCompleted", stepName: "a", attempt: 1, output: {}, at: T0 + 2 });
    expect(run.state.continuedAs).toMatchObject({ nextStep: "b", pause: { self: true } });
  });
});

describe("pause: a job's children", () => {
  const child = (jobId: string, status: "SUCCEEDED" | "FAILED"): ChildReportFact => ({ childJobId: jobId, workflowName: "item", status, units: 1, output: { jobId } });

  function fanOut(n: number, maxConcurrency: number) {
    const def = definition([step("fan", runChildJob, { config: { children: [{ workflowName: "item", workflowVersion: { tag: "$LIVE" }, forEach: { arrayPath: "workflowInput.items" } }], maxConcurrency } })]);
    const run = new EngineRun(def, { items: Array.from({ length: n }, (_, i) => ({ i })) });
    run.start();
    return run;
  }

  it("tells the children it started, starts no more while paused, and completes the step at unpause", () => {
    const run = fanOut(3, 2);
    const started = run.view.children("fan", 1).filter((r) => r.status === "STARTING").map((r) => r.jobId);
    expect(started).toHaveLength(2);
    expect(pauseWords(run.send({ type: "pause", at: T0 + 1 }))).toEqual([{ type: "pauseChildren", paused: true, seq: 1, jobIds: started }]);
    // Both started children end while the job is paused: the third is not started, the step not completed.
    const cmds = run.send({ type: "childReports", reports: started.map((id) => child(id, "SUCCEEDED")), at: T0 + 2 });
    expect(cmds.filter((c) => c.type === "startChildren")).toEqual([]);
    expect(run.view.children("fan", 1).map((r) => r.status)).toEqual(["SUCCEEDED", "SUCCEEDED", "WAITING"]);
    const unpaused = run.send({ type: "unpause", at: T0 + 3 });
    expect(pauseWords(unpaused)).toEqual([{ type: "pauseChildren", paused: false, seq: 2, jobIds: [] }]);
    const third = run.view.children("fan", 1)[2]!.jobId;
    expect(unpaused.filter((c) => c.type === "startChildren")).toEqual([{ type: "startChildren", jobIds: [third] }]);
    run.send({ type: "childReports", reports: [child(third, "SUCCEEDED")], at: T0 + 4 });
    expect(run.state.status).toBe("SUCCEEDED");
  });

  it("releases the child starts it held when it ends while paused (they find it ended and drop)", () => {
    const run = fanOut(3, 3);
    run.send({ type: "pause", at: T0 + 1 });
    const cmds = run.send({ type: "cancel", at: T0 + 2 });
    expect(pauseWords(cmds)).toEqual([{ type: "pauseChildren", paused: false, seq: 2, jobIds: [] }]);
    expect(cmds.filter((c) => c.type === "cancelChildren")).toHaveLength(1);
  });

  it("as a child: is paused while its parent is or it is itself, and ignores a parent's word older than the last", () => {
    const run = twoCalls();
    run.start();
    run.send({ type: "parentPause", paused: true, seq: 2, at: T0 + 1 });
    expect(isPaused(run.state)).toBe(true);
    // A late, older word (the parent's unpause before that pause) changes nothing.
    run.send({ type: "parentPause", paused: false, seq: 1, at: T0 + 2 });
    expect(isPaused(run.state)).toBe(true);
    run.send({ type: "pause", at: T0 + 3 });
    run.send({ type: "parentPause", paused: false, seq: 3, at: T0 + 4 });
    expect(isPaused(run.state)).toBe(true);
    run.send({ type: "stepCompleted", stepName: "a", attempt: 1, output: {}, at: T0 + 5 });
    expect(calls(run.send({ type: "unpause", at: T0 + 6 }))).toEqual([{ type: "callExecutor", stepName: "b", attempt: 1 }]);
  });
});
