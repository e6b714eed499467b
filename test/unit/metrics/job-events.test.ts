// The observations one committed decision produces: each event once, with a key of its own.
import { describe, expect, it } from "vitest";
import { emptyChanges } from "../../../src/engine/overlay";
import { newJobState } from "../../../src/engine/state";
import type { Decision, HistoryDraft, JobState } from "../../../src/engine/types";
import { decisionEvents, jobSubmittedEvents } from "../../../src/metrics/job-events";

const T0 = Date.UTC(2026, 10, 30, 6, 0, 0);
const identity = {
  jobId: "job-1",
  organizationId: "org-1",
  workflowId: "wf-1",
  workflowName: "w",
  versionId: "v-1",
  versionNumber: 1,
  submittedByUser: "t",
  runNumber: 1,
  rootJobId: "job-1",
  depth: 0,
  createdAt: T0,
};

function state(patch: Partial<JobState> = {}): JobState {
  return { ...newJobState(identity, T0), ...patch };
}

function attempt(id: string, status: "success" | "failure", start: number, end: number, n = 1): HistoryDraft {
  return {
    id,
    stepName: "s",
    stepExecutorType: "/canopy/http",
    historySource: "engine",
    input: null,
    output: { status },
    startTimestamp: new Date(start).toISOString(),
    endTimestamp: new Date(end).toISOString(),
    errors: [],
    warnings: [],
    attempt: n,
  };
}

function decision(s: JobState, history: HistoryDraft[] = []): Decision {
  return { state: s, changes: emptyChanges(), commands: [], history };
}

const none = { unitsMetered: () => 0 };

describe("metric events of a decision", () => {
  it("records a job's submission on its first run only", () => {
    expect(jobSubmittedEvents(state())).toEqual([{ key: "job-1:submitted:jobs_submitted", organizationId: "org-1", workflowId: "wf-1", metric: "jobs_submitted", at: T0, value: 1 }]);
    expect(jobSubmittedEvents(state({ identity: { ...identity, runNumber: 2 } }))).toEqual([]);
  });

  it("records each ended step attempt's duration and failure; events from outside are not steps", () => {
    const external = { ...attempt("1.2", "success", T0, T0), historySource: "external" as const, attempt: undefined };
    const { events, ended } = decisionEvents(state({ status: "RUNNING" }), decision(state({ status: "RUNNING" }), [attempt("1.0", "success", T0, T0 + 1500), attempt("1.1", "failure", T0 + 2000, T0 + 2250, 2), external]), none);
    expect(ended).toBe(false);
    expect(events.map((e) => [e.key, e.value])).toEqual([
      ["job-1:step:1.0:step_duration_seconds", 1.5],
      ["job-1:step:1.1:step_duration_seconds", 0.25],
      ["job-1:step:1.1:step_failures", 1],
    ]);
  });

  it("counts a scheduled retry once, not again while it waits", () => {
    const waiting = state({ status: "RUNNING", current: { name: "s", attempt: 2, triesUsed: 1, attemptStartedAt: T0, wait: { type: "retry", at: T0 + 1000 } } });
    const before = state({ status: "RUNNING", current: { name: "s", attempt: 1, triesUsed: 0, attemptStartedAt: T0, wait: { type: "call" } } });
    expect(decisionEvents(before, decision(waiting), none).events.map((e) => e.metric)).toEqual(["step_retries"]);
    expect(decisionEvents(waiting, decision(waiting), none).events).toEqual([]);
  });

  it("records a job's end once, with its own units less those counted at an earlier end", () => {
    const failed = state({ status: "FAILED", startedAt: T0, finishedAt: T0 + 4000, ownUnits: 3, indexSeq: 3, error: { code: "TIMEOUT", message: "slow" } });
    const { events, ended } = decisionEvents(state({ status: "RUNNING" }), decision(failed), { unitsMetered: () => 1 });
    expect(ended).toBe(true);
    expect(Object.fromEntries(events.map((e) => [e.metric, e.value]))).toEqual({ jobs_failed: 1, job_timeout_count: 1, job_duration_seconds: 4, billable_transaction_units: 2 });
    expect(new Set(events.map((e) => e.key)).size).toBe(events.length);
    // Already ended before this decision (an event after the end): nothing.
    expect(decisionEvents(failed, decision(failed), none).events).toEqual([]);
    // A run that hands over to its next run has not ended the job.
    const handedOver = { ...failed, status: "SUCCEEDED" as const, continuedAs: { toRun: 2, nextStep: "s", reason: "history" } as unknown as JobState["continuedAs"] };
    expect(decisionEvents(state({ status: "RUNNING" }), decision(handedOver), none).ended).toBe(false);
  });
});
