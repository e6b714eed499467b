/**
 * The console's pure helpers (console/src): how an attempt reads, the path a job took through its
 * graph (a loop's edge included), the example input a "Start job" editor begins with and its check
 * against the workflow's schema, and relative times.
 */
import { describe, expect, it } from "vitest";
import type { HistoryItem, JobSummary } from "../../../console/src/api/types";
import { attemptText, loopedSteps } from "../../../console/src/components/attempts";
import { relative, span, utc } from "../../../console/src/components/format";
import { awaitedEventIds, jobPath, stepBars } from "../../../console/src/components/job-path";
import { defaultRerunStep } from "../../../console/src/components/rerun-step";
import { END } from "../../../console/src/definition";
import { exampleInput, inputProblems } from "../../../console/src/schema";
import { validateWorkflowInput } from "../../../src/definition/json-schema";
import countdown from "../../fixtures/countdown.json";
import orderBatch from "../../fixtures/order-batch.json";

const T = Date.parse("2026-12-07T10:41:00Z");
let seq = 0;
function item(stepName: string, extra: Partial<HistoryItem> = {}): HistoryItem {
  seq += 1;
  return {
    id: `1.${seq}`,
    stepName,
    stepExecutorType: "/canopy/http",
    historySource: "engine",
    input: null,
    output: { status: "success" },
    startTimestamp: new Date(T + seq * 1000).toISOString(),
    endTimestamp: new Date(T + seq * 1000 + 500).toISOString(),
    errors: [],
    warnings: [],
    ...extra,
  };
}
const job = (status: JobSummary["status"], currentStepName?: string) => ({ status, ...(currentStepName ? { currentStepName } : {}), createdAt: new Date(T).toISOString() }) as JobSummary;

describe("attemptText", () => {
  it.each([
    [{ executionAttempt: 3, attemptsAllowed: 4, output: { status: "failure" as const } }, "attempt 3 of 4, not retried"],
    [{ executionAttempt: 4, attemptsAllowed: 4, output: { status: "failure" as const } }, "attempt 4 of 4, retries used up"],
    [{ executionAttempt: 1, attemptsAllowed: 1, output: { status: "failure" as const } }, "attempt 1 of 1"],
    [{ executionAttempt: 2, attemptsAllowed: 4, output: { status: "success" as const } }, "attempt 2 of 4"],
    [{ cancelled: true as const, output: { status: "failure" as const } }, "cancelled here"],
  ])("%j reads %s", (extra, text) => {
    expect(attemptText(item("charge", extra))).toBe(text);
  });

  it("says when a retried try is tried again, and names a loop's iteration", () => {
    const retried = item("charge", { executionAttempt: 1, attemptsAllowed: 3, retryAt: "2026-12-07T10:42:00Z", output: { status: "failure" } });
    expect(attemptText(retried)).toMatch(/^attempt 1 of 3, retry at \d/);
    const items = [item("tick", { iteration: 1 }), item("tick", { iteration: 2 }), item("init", { iteration: 1 })];
    expect([...loopedSteps(items)]).toEqual(["tick"]);
    expect(attemptText({ ...items[1]!, executionAttempt: 1, attemptsAllowed: 1 }, { iterations: true })).toBe("iteration 2 · attempt 1 of 1");
    // History written before these fields: attempts counted per step.
    expect(attemptText(item("old"), { fallback: 2 })).toBe("attempt 2");
  });
});

describe("jobPath", () => {
  it("draws a loop's own edge, not a retry's, marks failed and cancelled steps, and the end of a success", () => {
    const history = [item("init", { iteration: 1 }), item("tick", { iteration: 1 }), item("tick", { iteration: 2 }), item("tick", { iteration: 2, output: { status: "failure" } })];
    const failed = jobPath(history, job("FAILED"));
    expect([...failed.taken].sort()).toEqual(["init→tick", "tick→tick"]);
    expect([...failed.failed]).toEqual(["tick"]);
    const retried = jobPath([item("a", { iteration: 1, output: { status: "failure" } }), item("a", { iteration: 1 })], job("SUCCEEDED"));
    expect([...retried.taken]).toEqual([`a→${END}`]);
    expect(retried.failed.size).toBe(0);
    const cancelled = jobPath([item("wait", { cancelled: true, output: { status: "failure" } })], job("CANCELLED"));
    expect(cancelled.cancelled).toBe("wait");
    expect(cancelled.failed.size).toBe(0);
    expect(stepBars([item("wait", { cancelled: true, output: { status: "failure" } })], job("CANCELLED"))[0]).toMatchObject({ label: "wait (cancelled)", status: "CANCELLED" });
    const running = jobPath([item("a")], job("RUNNING", "b"));
    expect([...running.visited].sort()).toEqual(["a", "b"]);
    expect([...running.taken]).toEqual(["a→b"]);
  });

  it("collects every event id a definition's steps wait for", () => {
    expect([...awaitedEventIds(JSON.stringify(orderBatch))!]).toEqual(["manager-approved"]);
    expect(awaitedEventIds("not json")).toBeUndefined();
  });
});

describe("the Start job editor", () => {
  it("starts from an example of workflowInput, and checks input as the engine does", () => {
    const text = JSON.stringify(countdown);
    expect(exampleInput(text)).toEqual({ n: 0 });
    const defs = countdown.definitions;
    expect(inputProblems(defs, { n: 2 })).toEqual([]);
    expect(inputProblems(defs, { n: -1 })).toEqual(["/n: -1 is less than 0."]);
    // The console says exactly what SubmitJob would answer.
    for (const input of [{ n: 2 }, { n: -1 }, {}, { n: "three" }, [1]]) expect(inputProblems(defs, input), JSON.stringify(input)).toEqual(validateWorkflowInput(defs, input));
    expect(exampleInput(JSON.stringify(orderBatch))).toEqual({ items: [] });
    expect(exampleInput(JSON.stringify({ workflowName: "x", steps: [], definitions: {} }))).toEqual({});
    expect(inputProblems({}, "anything")).toEqual([]);
  });
});

describe("the Rerun dialog's step", () => {
  const steps = ["reserve", "charge", "ship"];
  const ended = (status: JobSummary["status"], stepName?: string) => ({ ...job(status), ...(stepName ? { error: { code: "X", message: "x", stepName } } : {}) }) as JobSummary;

  it("is the step a job failed or was cancelled at, as RerunJob's default; else its first step", () => {
    expect(defaultRerunStep(ended("FAILED", "charge"), [], steps)).toBe("charge");
    expect(defaultRerunStep(ended("CANCELLED", "ship"), [], steps)).toBe("ship");
    // A cancel's error may not name the step: the attempt it cancelled does.
    expect(defaultRerunStep(ended("CANCELLED"), [item("reserve"), item("charge", { cancelled: true, output: { status: "failure" } })], steps)).toBe("charge");
    // Cancelled before any step ran, or a SUCCEEDED job (RerunJob needs a step): the first.
    expect(defaultRerunStep(ended("CANCELLED"), [], steps)).toBe("reserve");
    expect(defaultRerunStep(ended("SUCCEEDED"), [item("reserve"), item("charge"), item("ship")], steps)).toBe("reserve");
    // A step the version does not have is never preselected.
    expect(defaultRerunStep(ended("FAILED", "gone"), [], steps)).toBe("reserve");
    expect(defaultRerunStep(ended("FAILED", "charge"), [], [])).toBeUndefined();
  });
});

describe("times", () => {
  it("reads relative times coarsely, and absolute ones in UTC", () => {
    expect(relative(new Date(T - 12_000).toISOString(), T)).toBe("12 s ago");
    expect(relative(new Date(T + 3 * 60_000).toISOString(), T)).toBe("in 3 min");
    expect(span(50 * 3600_000)).toBe("2 d");
    expect(utc("2026-12-07T10:41:05.123Z")).toBe("2026-12-07 10:41:05 UTC");
  });
});
