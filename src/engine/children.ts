/**
 * The engine's side of runChildJob: recording child reports once, starting more children as
 * concurrency allows, and finishing the step when every child has ended.
 */
import type { Decider } from "./decide";
import type { ChildReportFact, ChildSlot, JobError } from "./types";

type Complete = (d: Decider, output: unknown, at: number) => void;
type Fail = (d: Decider, error: JobError, retryable: boolean, at: number) => void;

const ENDED: ReadonlySet<string> = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);

/**
 * Records a child's report: its units always (the highest seen wins), its outcome once.
 * Returns true when the report ended a child of the current step.
 */
export function recordChildReport(d: Decider, report: ChildReportFact): boolean {
  const s = d.state;
  const before = s.childUnits[report.childJobId];
  if (before === undefined || report.units > before) {
    s.childUnits[report.childJobId] = report.units;
    // Roll units up the tree as they change, not only when this job ends.
    if (s.identity.parentJobId) d.commands.push({ type: "notifyParent" });
  }
  if (!ENDED.has(report.status)) return false;
  const wait = s.current?.wait;
  if (wait?.type !== "children") return false;
  const slot = wait.children.find((c) => c.jobId === report.childJobId);
  if (!slot || ENDED.has(slot.status)) return false; // a duplicate report, or a child of an earlier attempt
  slot.status = report.status as ChildSlot["status"];
  slot.workflowName = report.workflowName;
  if (report.output !== undefined) slot.output = report.output;
  if (report.error) slot.error = report.error;
  const outcome = report.status === "SUCCEEDED" ? "completed" : report.status === "FAILED" ? "failed" : "cancelled";
  d.log(`child.${outcome}`, {
    parentJobId: s.identity.jobId,
    childJobId: report.childJobId,
    workflowName: report.workflowName,
    stepName: s.current!.name,
  });
  return true;
}

/** Starts waiting children while concurrency allows. */
export function startWaitingChildren(d: Decider): void {
  const wait = d.state.current?.wait;
  if (wait?.type !== "children") return;
  let active = wait.children.filter((c) => c.status === "STARTING" || c.status === "RUNNING").length;
  const toStart: ChildSlot[] = [];
  for (const c of wait.children) {
    if (active >= wait.maxConcurrency) break;
    if (c.status !== "WAITING") continue;
    c.status = "STARTING";
    toStart.push(c);
    active += 1;
  }
  if (toStart.length > 0) {
    d.commands.push({ type: "startChildren", stepName: d.state.current!.name, attempt: d.state.current!.attempt, children: toStart });
  }
}

/** The step's output: one result per child, in the order of the list or the array. */
function childResults(children: ChildSlot[]) {
  const results = children.map((c) => ({
    id: c.key,
    jobId: c.jobId,
    workflowName: c.workflowName ?? c.workflowRef.workflowName ?? c.workflowRef.workflowId,
    status: c.status,
    ...(c.output !== undefined ? { output: c.output } : {}),
    ...(c.error ? { error: c.error } : {}),
  }));
  const succeeded = children.filter((c) => c.status === "SUCCEEDED").length;
  return { results, succeeded, failed: children.length - succeeded };
}

/** Finishes the step when every child has ended: output, or failure beyond the tolerated count. */
export function completeChildrenIfDone(d: Decider, at: number, complete: Complete, fail: Fail): void {
  const wait = d.state.current?.wait;
  if (wait?.type !== "children") return;
  if (!wait.children.every((c) => ENDED.has(c.status))) return;
  const output = childResults(wait.children);
  if (output.failed > wait.toleratedFailures) {
    return fail(
      d,
      {
        code: "ChildJobsFailed",
        message: `${output.failed} of ${wait.children.length} child jobs did not succeed; ${wait.toleratedFailures} tolerated.`,
      },
      false,
      at,
    );
  }
  complete(d, output, at);
}
