/**
 * The engine's side of runChildJob. Children are rows of their own and the step's wait keeps only
 * counters, so each report costs one row read and one row write, whatever the fan-out's size:
 * recording reports once, starting more children as concurrency allows, finishing the step when
 * every child has ended, and cancelling or resuming a step's children.
 */
import type { Decider } from "./decider";
import { childEnded } from "./overlay";
import type { ChildReportFact, ChildRow, ChildrenRef, ChildrenWait, JobError, NewChild } from "./types";

type Complete = (d: Decider, output: unknown, at: number, shared?: { ref: ChildrenRef }) => void;
type Fail = (d: Decider, error: JobError, retryable: boolean, at: number) => void;

/** The current step's children wait, if it has one. */
function childrenWait(d: Decider): ChildrenWait | undefined {
  const wait = d.state.current?.wait;
  return wait?.type === "children" ? wait : undefined;
}

/** Whether `row` is one of the children the current step attempt waits for. */
function belongsToWait(d: Decider, row: ChildRow): boolean {
  const cur = d.state.current;
  return !!cur && cur.wait?.type === "children" && row.stepName === cur.name && row.stepAttempt === cur.attempt && !row.superseded;
}

/**
 * Records a child's report: its units always (the highest seen wins), its outcome once, even when
 * the step no longer waits (a child that succeeds after its parent was cancelled is kept for a
 * resume). Returns true when the report ended a child the current step attempt waits for.
 */
export function recordChildReport(d: Decider, report: ChildReportFact): boolean {
  const s = d.state;
  const row = d.view.child(report.childJobId);
  if (!row) return false; // not a child of this run
  let next = row;
  if (report.units > row.units) {
    s.childUnits += report.units - row.units;
    next = { ...next, units: report.units };
    // Roll units up the tree as they change, not only when this job ends.
    if (s.identity.parentJobId) d.commands.push({ type: "notifyParent" });
  }
  const ends = childEnded(report.status) && !childEnded(row.status);
  if (ends) {
    next = { ...next, status: report.status as ChildRow["status"], workflowName: report.workflowName };
    if (report.output !== undefined) next.output = report.output;
    if (report.error) next.error = report.error;
  }
  if (next !== row) d.view.updateChild(next);
  if (!ends) return false;
  const outcome = report.status === "SUCCEEDED" ? "completed" : report.status === "FAILED" ? "failed" : "cancelled";
  d.log(`child.${outcome}`, { parentJobId: s.identity.jobId, childJobId: report.childJobId, workflowName: report.workflowName, stepName: row.stepName });
  const wait = childrenWait(d);
  if (!wait || !belongsToWait(d, row)) return false;
  wait.ended += 1;
  if (row.status === "STARTING") wait.active -= 1;
  if (report.status === "SUCCEEDED") wait.succeeded += 1;
  return true;
}

/** Starts waiting children while concurrency allows. */
export function startWaitingChildren(d: Decider): void {
  const wait = childrenWait(d);
  if (!wait) return;
  const room = wait.maxConcurrency - wait.active;
  if (room <= 0) return;
  const cur = d.state.current!;
  const toStart = d.view.waitingChildren(cur.name, cur.attempt, room);
  for (const row of toStart) d.view.updateChild({ ...row, status: "STARTING" });
  wait.active += toStart.length;
  if (toStart.length > 0) d.commands.push({ type: "startChildren", jobIds: toStart.map((r) => r.jobId) });
}

/** Finishes the step when every child has ended: output, or failure beyond the tolerated count. */
export function completeChildrenIfDone(d: Decider, at: number, complete: Complete, fail: Fail): void {
  const wait = childrenWait(d);
  if (!wait || wait.ended < wait.total) return;
  const failed = wait.total - wait.succeeded;
  if (failed > wait.toleratedFailures) {
    const message = `${failed} of ${wait.total} child jobs did not succeed; ${wait.toleratedFailures} tolerated.`;
    return fail(d, { code: "ChildJobsFailed", message }, false, at);
  }
  const cur = d.state.current!;
  complete(d, undefined, at, { ref: { children: { stepName: cur.name, attempt: cur.attempt, count: wait.total } } });
}

/**
 * Creates the rows of a step attempt's children. After a resume, the children of the resumed
 * attempt that succeeded are moved into this one (same job, same result); the others are
 * superseded by fresh children with new ids.
 */
export function createChildren(d: Decider, slots: NewChild[], wait: Omit<ChildrenWait, "type" | "active" | "ended" | "succeeded">): ChildrenWait {
  const s = d.state;
  const cur = s.current!;
  const resumed = s.resumeChildren?.stepName === cur.name ? d.view.childStubs(cur.name, s.resumeChildren.attempt) : [];
  s.resumeChildren = undefined;
  const reuse = resumed.length === slots.length ? resumed : [];
  for (const r of resumed) if (!reuse.includes(r)) d.view.updateChild({ ...r, superseded: true });
  const fresh: NewChild[] = [];
  let succeeded = 0;
  slots.forEach((slot, i) => {
    const previous = reuse[i];
    if (previous && previous.key === slot.row.key && previous.status === "SUCCEEDED") {
      d.view.updateChild({ ...previous, stepAttempt: cur.attempt });
      succeeded += 1;
      return;
    }
    if (previous) d.view.updateChild({ ...previous, superseded: true });
    fresh.push(slot);
  });
  d.view.addChildren(fresh);
  return { type: "children", ...wait, active: 0, ended: succeeded, succeeded };
}

/** Cancels the step attempt's children: those not started are CANCELLED, started ones are told. */
export function cancelStepChildren(d: Decider, stepName: string, attempt: number): void {
  d.view.cancelWaitingChildren(stepName, attempt);
  const jobIds = d.view.activeChildJobIds(stepName, attempt);
  if (jobIds.length > 0) d.commands.push({ type: "cancelChildren", jobIds });
}
