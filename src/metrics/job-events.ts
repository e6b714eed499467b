/**
 * The metric events one committed decision of a job run produces, derived from the state before
 * and after it and the history it appended. Pure: the job's Durable Object stores them with the
 * decision, in the same transaction, and seals and flushes them to the job index later (metrics-outbox.ts).
 *
 * - step_duration_seconds: every step attempt that ended (an engine history item), its seconds;
 * - step_failures: those whose outcome is a failure;
 * - step_retries: each retry the engine schedules after a failed attempt;
 * - jobs_completed_successfully, jobs_failed, job_timeout_count (failed with TIMEOUT),
 *   job_duration_seconds (started to finished), billable_transaction_units: when the job ends,
 *   as a whole (a run that continues as new has not ended). A resumed job that ends again counts
 *   again, with the units it used since (`unitsMetered`, kept by the run).
 * jobs_submitted is recorded when the job's first run is created (job-object.ts).
 */
import { isTerminal } from "../engine/status";
import type { Decision, JobState } from "../engine/types";
import type { MetricEvent, MetricType } from "./types";

/** What the events of a job's end need besides the decision: the units already counted. */
export interface JobEndContext {
  /** Read only when the job ends. */
  unitsMetered: () => number;
}

function event(s: JobState, key: string, metric: MetricType, at: number, value: number): MetricEvent {
  const id = s.identity;
  return { key: `${id.jobId}:${key}:${metric}`, organizationId: id.organizationId, workflowId: id.workflowId, metric, at, value };
}

/** The events of a job's creation (its first run only). */
export function jobSubmittedEvents(s: JobState): MetricEvent[] {
  if (s.identity.runNumber !== 1) return [];
  return [event(s, "submitted", "jobs_submitted", s.identity.createdAt, 1)];
}

/** The step events of `d`, and whether the job ended in it. */
export function decisionEvents(before: JobState | null, d: Decision, ctx: JobEndContext): { events: MetricEvent[]; ended: boolean } {
  const s = d.state;
  const events: MetricEvent[] = [];
  for (const h of d.history) {
    if (h.historySource !== "engine" || h.attempt === undefined) continue;
    const start = Date.parse(h.startTimestamp);
    const end = Date.parse(h.endTimestamp);
    const key = `step:${h.id}`;
    events.push(event(s, key, "step_duration_seconds", end, Math.max(0, end - start) / 1000));
    if (h.output.status === "failure") events.push(event(s, key, "step_failures", end, 1));
  }
  const cur = s.current;
  if (cur?.wait?.type === "retry" && !(before?.current?.name === cur.name && before.current.attempt === cur.attempt)) {
    events.push(event(s, `retry:${s.identity.runNumber}:${cur.name}:${cur.attempt}`, "step_retries", s.updatedAt, 1));
  }
  const ended = isTerminal(s.status) && !s.continuedAs && !(before && isTerminal(before.status));
  if (ended) {
    const at = s.finishedAt ?? s.updatedAt;
    // The job's end is unique by its index sequence: a resumed job that ends again is a new end.
    const key = `end:${s.indexSeq}`;
    if (s.status === "SUCCEEDED") events.push(event(s, key, "jobs_completed_successfully", at, 1));
    if (s.status === "FAILED") events.push(event(s, key, "jobs_failed", at, 1));
    if (s.status === "FAILED" && s.error?.code === "TIMEOUT") events.push(event(s, key, "job_timeout_count", at, 1));
    const started = s.startedAt ?? s.identity.createdAt;
    events.push(event(s, key, "job_duration_seconds", at, Math.max(0, at - started) / 1000));
    // The job's own units (its children count in their own workflows), less those counted at an earlier end.
    const units = s.ownUnits + s.priorRunUnits - ctx.unitsMetered();
    events.push(event(s, key, "billable_transaction_units", at, Math.max(0, units)));
  }
  return { events, ended };
}
