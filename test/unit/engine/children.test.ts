/**
 * runChildJob's child accounting, through the pure engine: rows per child, counters in the wait,
 * reports applied once, results assembled from the rows, cancel / timeout / resume, and the
 * rollover that counts child rows a run no longer references.
 */
import { describe, expect, it } from "vitest";
import { totalUnits } from "../../../src/engine/status";
import type { ChildReportFact, ChildRow, ChildrenWait, Command, JobStatus } from "../../../src/engine/types";
import { childJobId } from "../../../src/executors/run-child-job";
import { EngineRun, T0, definition, step } from "./harness";

const runChildJob = "/justworkflowit/runChildJob";
const item = { workflowName: "item", workflowVersion: { tag: "$LIVE" } };
const forEachItems = { forEach: { arrayPath: "workflowInput.items" } };

/** A one-step job fanning out to one `item` child per element of `workflowInput.items`. */
function fanOut(config: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return definition([step("fan", runChildJob, { config: { children: [{ ...item, ...forEachItems }], ...config }, ...extra })]);
}

const items = (n: number) => Array.from({ length: n }, (_, i) => ({ i }));

/** The current (not superseded) children of attempt `attempt` of step "fan", in order. */
const rowsOf = (run: EngineRun, attempt = 1): ChildRow[] => run.view.children("fan", attempt);
const idsOf = (run: EngineRun, attempt = 1): string[] => rowsOf(run, attempt).map((r) => r.jobId);
const statusesOf = (run: EngineRun, attempt = 1): string[] => rowsOf(run, attempt).map((r) => r.status);
const idFor = (run: EngineRun, key: string, attempt: number) => childJobId(run.state.identity.jobId, 1, "fan", key, attempt);

function waitOf(run: EngineRun): ChildrenWait {
  const wait = run.state.current?.wait;
  if (wait?.type !== "children") throw new Error(`not waiting on children: ${JSON.stringify(run.state.current)}`);
  return wait;
}

const startCommands = (cmds: Command[]) => cmds.filter((c) => c.type === "startChildren");
const cancelCommands = (cmds: Command[]) => cmds.filter((c) => c.type === "cancelChildren");

function report(childJobId: string, status: JobStatus, more: Partial<ChildReportFact> = {}): ChildReportFact {
  return { childJobId, workflowName: "item", status, units: 1, ...more };
}
const ok = (jobId: string, output: unknown = { from: jobId }, more: Partial<ChildReportFact> = {}) => report(jobId, "SUCCEEDED", { output, ...more });
const failed = (jobId: string) => report(jobId, "FAILED", { error: { code: "ITEM_FAILED", message: `child ${jobId} failed` } });
const cancelled = (jobId: string) => report(jobId, "CANCELLED", { error: { code: "PARENT_CANCELLED", message: "The parent was cancelled." } });

function send(run: EngineRun, reports: ChildReportFact[], at = T0 + 1000): Command[] {
  return run.send({ type: "childReports", reports, at });
}

describe("runChildJob: creating and starting children", () => {
  it.each([
    ["one forEach entry", [{ ...item, ...forEachItems }], ["0", "1", "2"], [{ i: 0 }, { i: 1 }, { i: 2 }]],
    ["a forEach entry with an id", [{ ...item, id: "img", ...forEachItems }], ["img[0]", "img[1]", "img[2]"], [{ i: 0 }, { i: 1 }, { i: 2 }]],
    [
      "a forEach entry beside a plain child",
      [{ ...item, ...forEachItems }, { ...item, id: "summary" }],
      ["0[0]", "0[1]", "0[2]", "summary"],
      [{ i: 0 }, { i: 1 }, { i: 2 }, { items: items(3) }],
    ],
  ])("%s: one row per child, in order, with derived ids, all started by one command", (_name, children, keys, inputs) => {
    const run = new EngineRun(definition([step("fan", runChildJob, { config: { children } })]), { items: items(3) });
    const cmds = run.start();
    const rows = rowsOf(run);
    expect(rows.map((r) => r.key)).toEqual(keys);
    expect(rows.map((r) => r.childIndex)).toEqual(keys.map((_k, i) => i));
    expect(rows.map((r) => r.jobId)).toEqual(keys.map((k) => idFor(run, k, 1)));
    expect(new Set(rows.map((r) => r.jobId)).size).toBe(keys.length);
    expect(rows.map((r) => run.view.inputs.get(r.jobId))).toEqual(inputs);
    expect(rows.every((r) => r.status === "STARTING" && r.units === 0 && !r.superseded)).toBe(true);
    expect(startCommands(cmds)).toEqual([{ type: "startChildren", jobIds: rows.map((r) => r.jobId) }]);
    expect(waitOf(run)).toEqual({ type: "children", total: keys.length, active: keys.length, ended: 0, succeeded: 0, maxConcurrency: keys.length, toleratedFailures: 0 });
  });

  it("derives the same 100 distinct child ids when the same step attempt runs again", () => {
    const a = new EngineRun(fanOut(), { items: items(100) });
    const b = new EngineRun(fanOut(), { items: items(100) });
    a.start();
    b.start();
    expect(idsOf(a)).toHaveLength(100);
    expect(new Set(idsOf(a)).size).toBe(100);
    expect(idsOf(b)).toEqual(idsOf(a));
  });

  it.each([
    [7, 1],
    [7, 3],
    [5, 5],
    [3, 10],
  ])("with %i children and maxConcurrency %i: never more than K run, and each end starts exactly one more", (n, k) => {
    const run = new EngineRun(fanOut({ maxConcurrency: k }), { items: items(n) });
    const first = startCommands(run.start());
    const all = idsOf(run);
    expect(first).toEqual([{ type: "startChildren", jobIds: all.slice(0, Math.min(n, k)) }]);
    const running = [...all.slice(0, Math.min(n, k))];
    const startedInOrder = [...running];
    let at = T0;
    while (running.length > 0) {
      const done = running.pop()!; // the most recently started ends first: starting does not depend on which one ended
      const cmds = send(run, [ok(done)], (at += 1000));
      const next = all[startedInOrder.length];
      if (next !== undefined) {
        expect(startCommands(cmds)).toEqual([{ type: "startChildren", jobIds: [next] }]);
        running.push(next);
        startedInOrder.push(next);
      } else {
        expect(startCommands(cmds)).toEqual([]);
      }
      const active = rowsOf(run).filter((r) => r.status === "STARTING").length;
      expect(active).toBe(running.length);
      expect(active).toBeLessThanOrEqual(k);
      if (run.state.status === "RUNNING") expect(waitOf(run).active).toBe(active);
    }
    expect(startedInOrder).toEqual(all);
    expect(run.state.status).toBe("SUCCEEDED");
    expect((run.output as { succeeded: number }).succeeded).toBe(n);
  });

  it("several ends in one batch start as many waiting children, in one command", () => {
    const run = new EngineRun(fanOut({ maxConcurrency: 3 }), { items: items(6) });
    run.start();
    const ids = idsOf(run);
    const cmds = send(run, [ok(ids[2]!), failed(ids[0]!)]);
    expect(startCommands(cmds)).toEqual([{ type: "startChildren", jobIds: [ids[3], ids[4]] }]);
    expect(statusesOf(run)).toEqual(["FAILED", "STARTING", "SUCCEEDED", "STARTING", "STARTING", "WAITING"]);
    expect(waitOf(run)).toMatchObject({ total: 6, active: 3, ended: 2, succeeded: 1 });
  });

  it.each([[{}], [{ maxConcurrency: 3 }], [{ toleratedFailurePercentage: 10 }]])(
    "an empty forEach array (config %j) completes at once with no results",
    (config) => {
      const run = new EngineRun(fanOut(config), { items: [] });
      const cmds = run.start();
      expect(run.state.status).toBe("SUCCEEDED");
      expect(startCommands(cmds)).toEqual([]);
      expect(run.output).toEqual({ results: [], succeeded: 0, failed: 0 });
      expect(run.view.data("fanOutput")).toEqual({ ref: { children: { stepName: "fan", attempt: 1, count: 0 } } });
    },
  );
});

describe("runChildJob: reports", () => {
  it("a duplicate ended report changes nothing: no second count, no command", () => {
    const run = new EngineRun(fanOut({ maxConcurrency: 1 }), { items: items(3) });
    run.start();
    const [c0, c1] = idsOf(run);
    expect(startCommands(send(run, [ok(c0!)]))).toEqual([{ type: "startChildren", jobIds: [c1] }]);
    const state = structuredClone(run.state);
    const rows = rowsOf(run);
    expect(send(run, [ok(c0!)], T0 + 2000)).toEqual([]);
    expect(send(run, [failed(c0!)], T0 + 3000)).toEqual([]);
    expect(run.state).toEqual(state);
    expect(rowsOf(run)).toEqual(rows);
    expect(waitOf(run)).toMatchObject({ ended: 1, succeeded: 1, active: 1 });
  });

  it("a duplicate inside one batch is counted once", () => {
    const run = new EngineRun(fanOut(), { items: items(3) });
    run.start();
    const [c0] = idsOf(run);
    send(run, [ok(c0!), ok(c0!), failed(c0!)]);
    expect(waitOf(run)).toMatchObject({ total: 3, ended: 1, succeeded: 1, active: 2 });
    expect(run.state.childUnits).toBe(1);
  });

  it("a report for a job that is not a child of this run is ignored", () => {
    const run = new EngineRun(fanOut(), { items: items(2) });
    run.start();
    const state = { ...structuredClone(run.state), inlineSteps: 0 }; // every decision resets inlineSteps
    const rows = rowsOf(run);
    expect(send(run, [ok("00000000-0000-4000-8000-00000000beef"), report("not-a-child", "RUNNING", { units: 50 })])).toEqual([]);
    expect(run.state).toEqual(state);
    expect(rowsOf(run)).toEqual(rows);
    expect(run.view.childMap.size).toBe(2);
  });

  it("a report of a child still running only updates its units", () => {
    const run = new EngineRun(fanOut({ maxConcurrency: 1 }), { items: items(2) });
    run.start();
    const [c0] = idsOf(run);
    const wait = structuredClone(waitOf(run));
    const cmds = send(run, [report(c0!, "RUNNING", { units: 3 })]);
    expect(EngineRun.kinds(cmds)).toEqual([]);
    expect(waitOf(run)).toEqual(wait);
    expect(rowsOf(run)[0]).toMatchObject({ status: "STARTING", units: 3 });
    expect(rowsOf(run)[0]).not.toHaveProperty("output");
    expect(run.state.childUnits).toBe(3);
  });

  it("keeps each child's highest units and rolls them up exactly", () => {
    const run = new EngineRun(fanOut({ toleratedFailureCount: 1 }), { items: items(3) });
    run.start();
    const ids = idsOf(run);
    // [child, status, units reported, that child's units afterwards, the job's childUnits afterwards]
    const steps: [number, JobStatus, number, number, number][] = [
      [0, "RUNNING", 2, 2, 2],
      [0, "RUNNING", 1, 2, 2], // late and stale: ignored
      [1, "RUNNING", 4, 4, 6],
      [0, "SUCCEEDED", 5, 5, 9],
      [1, "SUCCEEDED", 3, 4, 9], // ends, but its units never go down
      [2, "FAILED", 1, 1, 10],
      [2, "FAILED", 6, 6, 15], // a repeated end may still raise units
    ];
    let at = T0;
    for (const [child, status, units, childUnits, total] of steps) {
      send(run, [report(ids[child]!, status, { units })], (at += 1000));
      expect(run.view.child(ids[child]!)!.units).toBe(childUnits);
      expect(run.state.childUnits).toBe(total);
    }
    expect(run.state.status).toBe("SUCCEEDED");
    expect(run.state.childUnits).toBe(rowsOf(run).reduce((sum, r) => sum + r.units, 0));
    expect(totalUnits(run.state)).toBe(run.state.ownUnits + 15);
    expect(totalUnits(run.state)).toBe(16);
  });

  it.each([
    [true, ["notifyParent"]],
    [false, []],
  ])("a job with a parent (%s) tells it when its units change, and only then", (parent, onChange) => {
    const run = new EngineRun(fanOut(), { items: items(2) }, { parent });
    run.start();
    const [c0, c1] = idsOf(run);
    expect(EngineRun.kinds(send(run, [report(c0!, "RUNNING", { units: 3 })]))).toEqual(onChange);
    expect(EngineRun.kinds(send(run, [report(c0!, "RUNNING", { units: 3 })]))).toEqual([]);
    expect(EngineRun.kinds(send(run, [report(c0!, "RUNNING", { units: 2 })]))).toEqual([]);
    expect(EngineRun.kinds(send(run, [report(c1!, "RUNNING", { units: 1 })]))).toEqual(onChange);
    expect(totalUnits(run.state)).toBe(1 + 3 + 1);
  });

  it("completes the step once from one batch of many reports; the output is a reference read in child order", () => {
    const n = 120;
    const run = new EngineRun(fanOut({ toleratedFailureCount: 10 }), { items: items(n) });
    run.start();
    const ids = idsOf(run);
    const fails = (i: number) => i % 15 === 0; // 8 failures, within tolerance
    const reports = ids.map((id, i) => (fails(i) ? failed(id) : ok(id, { doubled: i * 2 }, { workflowName: "item-v2" })));
    const batch = [...reports].reverse().concat(reports.slice(0, 10), [ok("00000000-0000-4000-8000-00000000beef")]);
    const historyBefore = run.history.length;
    const cmds = send(run, batch, T0 + 5000);

    expect(run.state.status).toBe("SUCCEEDED");
    expect(EngineRun.kinds(cmds)).toEqual(["indexStatus"]);
    expect(run.history.slice(historyBefore).map((h) => [h.stepName, h.output.status])).toEqual([["fan", "success"]]);
    const expected = {
      results: ids.map((jobId, i) =>
        fails(i)
          ? { id: String(i), jobId, workflowName: "item", status: "FAILED", error: { code: "ITEM_FAILED", message: `child ${jobId} failed` } }
          : { id: String(i), jobId, workflowName: "item-v2", status: "SUCCEEDED", output: { doubled: i * 2 } },
      ),
      succeeded: 112,
      failed: 8,
    };
    expect(run.output).toEqual(expected);
    expect(run.data.fanOutput).toEqual(expected);
    const ref = { children: { stepName: "fan", attempt: 1, count: n } };
    expect(run.view.data("fanOutput")).toEqual({ ref });
    expect(run.history.at(-1)!.output).toEqual({ status: "success", payloadRef: ref });
    expect(run.state.childUnits).toBe(n);

    // The same batch again, after the step completed: nothing more happens.
    const state = structuredClone(run.state);
    expect(send(run, batch, T0 + 6000)).toEqual([]);
    expect(run.state).toEqual(state);
    expect(run.history.length).toBe(historyBefore + 1);
  });
});

describe("runChildJob: tolerated failures", () => {
  it.each([
    // [tolerance, children, failures, how they fail, succeeds]
    [{}, 3, 0, "FAILED", true],
    [{}, 3, 1, "FAILED", false],
    [{ toleratedFailureCount: 2 }, 5, 2, "FAILED", true],
    [{ toleratedFailureCount: 2 }, 5, 3, "FAILED", false],
    [{ toleratedFailureCount: 1 }, 3, 2, "CANCELLED", false],
    [{ toleratedFailurePercentage: 20 }, 10, 2, "FAILED", true],
    [{ toleratedFailurePercentage: 20 }, 10, 3, "FAILED", false],
    [{ toleratedFailurePercentage: 25 }, 10, 2, "FAILED", true],
    [{ toleratedFailurePercentage: 25 }, 10, 3, "FAILED", false],
    [{ toleratedFailurePercentage: 29 }, 100, 29, "FAILED", true],
    [{ toleratedFailurePercentage: 29 }, 100, 30, "FAILED", false],
    [{ toleratedFailureCount: 1, toleratedFailurePercentage: 50 }, 4, 2, "FAILED", true],
    [{ toleratedFailureCount: 1, toleratedFailurePercentage: 50 }, 4, 3, "FAILED", false],
    [{ toleratedFailureCount: 3, toleratedFailurePercentage: 10 }, 10, 3, "CANCELLED", true],
  ] as const)("tolerating %j of %i children, %i %s: succeeds = %s", (tolerance, n, failures, how, succeeds) => {
    const run = new EngineRun(fanOut(tolerance), { items: items(n) });
    run.start();
    const ids = idsOf(run);
    send(run, ids.map((id, i) => (i >= n - failures ? (how === "FAILED" ? failed(id) : cancelled(id)) : ok(id))));
    if (succeeds) {
      expect(run.state.status).toBe("SUCCEEDED");
      expect(run.output).toMatchObject({ succeeded: n - failures, failed: failures });
      return;
    }
    const tolerated = Math.floor(((tolerance as { toleratedFailurePercentage?: number }).toleratedFailurePercentage ?? 0) * n / 100);
    const allowed = Math.max((tolerance as { toleratedFailureCount?: number }).toleratedFailureCount ?? 0, tolerated);
    const message = `${failures} of ${n} child jobs did not succeed; ${allowed} tolerated.`;
    expect(run.state.status).toBe("FAILED");
    expect(run.state.error).toEqual({ code: "ChildJobsFailed", message, stepName: "fan" });
    expect(run.history.at(-1)!.errors).toEqual([`ChildJobsFailed: ${message}`]);
    expect(run.view.data("fanOutput")).toBeUndefined();
  });

  it("resuming after too many failures re-runs only the children that did not succeed", () => {
    const run = new EngineRun(fanOut(), { items: items(4) });
    run.start();
    const first = idsOf(run);
    send(run, [ok(first[0]!, "a"), failed(first[1]!), ok(first[2]!, "c"), cancelled(first[3]!)]);
    expect(run.state.error?.code).toBe("ChildJobsFailed");

    const cmds = run.send({ type: "resume", at: T0 + 2000 });
    expect(run.state.current).toMatchObject({ name: "fan", attempt: 2 });
    const second = [first[0], idFor(run, "1", 2), first[2], idFor(run, "3", 2)];
    expect(idsOf(run, 2)).toEqual(second);
    expect(startCommands(cmds)).toEqual([{ type: "startChildren", jobIds: [second[1], second[3]] }]);
    expect(waitOf(run)).toMatchObject({ total: 4, ended: 2, succeeded: 2, active: 2 });

    send(run, [ok(second[3]!, "d"), ok(second[1]!, "b")], T0 + 3000);
    expect(run.state.status).toBe("SUCCEEDED");
    expect(run.output).toEqual({
      results: ["a", "b", "c", "d"].map((output, i) => ({ id: String(i), jobId: second[i], workflowName: "item", status: "SUCCEEDED", output })),
      succeeded: 4,
      failed: 0,
    });
  });
});

describe("runChildJob: cancel, timeout and resume", () => {
  it("cancel cancels waiting rows and tells running children; late results are kept; resume re-runs only the rest", () => {
    const run = new EngineRun(fanOut({ maxConcurrency: 2 }), { items: items(5) });
    run.start();
    const first = idsOf(run);
    send(run, [ok(first[0]!, "r0")], T0 + 1000); // starts child 2
    expect(statusesOf(run)).toEqual(["SUCCEEDED", "STARTING", "STARTING", "WAITING", "WAITING"]);

    const cmds = run.send({ type: "cancel", at: T0 + 2000 });
    expect(run.state.status).toBe("CANCELLED");
    expect(run.state.error).toEqual({ code: "CANCELLED", message: "The job was cancelled.", stepName: "fan" });
    expect(cancelCommands(cmds)).toEqual([{ type: "cancelChildren", jobIds: [first[1], first[2]] }]);
    expect(statusesOf(run)).toEqual(["SUCCEEDED", "STARTING", "STARTING", "CANCELLED", "CANCELLED"]);

    // Child 1 had finished its work before the cancel reached it.
    const late = send(run, [ok(first[1]!, "r1", { units: 4 })], T0 + 3000);
    expect(startCommands(late)).toEqual([]);
    expect(run.state.status).toBe("CANCELLED");
    expect(rowsOf(run)[1]).toMatchObject({ status: "SUCCEEDED", output: "r1", units: 4 });

    const resumed = run.send({ type: "resume", at: T0 + 4000 });
    expect(run.state.status).toBe("RUNNING");
    expect(run.state.current).toMatchObject({ name: "fan", attempt: 2 });
    const second = [first[0], first[1], idFor(run, "2", 2), idFor(run, "3", 2), idFor(run, "4", 2)];
    expect(idsOf(run, 2)).toEqual(second);
    expect(new Set([...first, ...second]).size).toBe(8);
    expect(statusesOf(run, 2)).toEqual(["SUCCEEDED", "SUCCEEDED", "STARTING", "STARTING", "WAITING"]);
    expect(startCommands(resumed)).toEqual([{ type: "startChildren", jobIds: [second[2], second[3]] }]);
    expect(waitOf(run)).toEqual({ type: "children", total: 5, active: 2, ended: 2, succeeded: 2, maxConcurrency: 2, toleratedFailures: 0 });

    // The replaced child 2 finally reports its cancellation: its units count, the new attempt's counters do not move.
    const wait = structuredClone(waitOf(run));
    const units = run.state.childUnits;
    expect(EngineRun.kinds(send(run, [{ ...cancelled(first[2]!), units: 2 }], T0 + 5000))).toEqual([]);
    expect(waitOf(run)).toEqual(wait);
    expect(run.state.childUnits).toBe(units + 2);

    expect(startCommands(send(run, [ok(second[3]!, "r3")], T0 + 6000))).toEqual([{ type: "startChildren", jobIds: [second[4]] }]);
    send(run, [ok(second[4]!, "r4"), ok(second[2]!, "r2")], T0 + 7000);
    expect(run.state.status).toBe("SUCCEEDED");
    expect(run.output).toEqual({
      results: second.map((jobId, i) => ({ id: String(i), jobId, workflowName: "item", status: "SUCCEEDED", output: `r${i}` })),
      succeeded: 5,
      failed: 0,
    });
    expect(run.view.data("fanOutput")).toEqual({ ref: { children: { stepName: "fan", attempt: 2, count: 5 } } });
  });

  it("a second cancel and resume keeps the children kept by the first, moving them again", () => {
    const run = new EngineRun(fanOut(), { items: items(3) });
    run.start();
    const first = idsOf(run);
    send(run, [ok(first[0]!, "r0")], T0 + 1000);
    run.send({ type: "cancel", at: T0 + 2000 });
    run.send({ type: "resume", at: T0 + 3000 });
    const second = idsOf(run, 2);
    expect(second).toEqual([first[0], idFor(run, "1", 2), idFor(run, "2", 2)]);
    send(run, [ok(second[2]!, "r2")], T0 + 4000);
    const cmds = run.send({ type: "cancel", at: T0 + 5000 });
    expect(cancelCommands(cmds)).toEqual([{ type: "cancelChildren", jobIds: [second[1]] }]);

    const resumed = run.send({ type: "resume", at: T0 + 6000 });
    const third = [first[0], idFor(run, "1", 3), second[2]];
    expect(run.state.current).toMatchObject({ name: "fan", attempt: 3 });
    expect(idsOf(run, 3)).toEqual(third);
    expect(startCommands(resumed)).toEqual([{ type: "startChildren", jobIds: [third[1]] }]);
    expect(waitOf(run)).toMatchObject({ total: 3, ended: 2, succeeded: 2, active: 1 });
    send(run, [ok(third[1]!, "r1")], T0 + 7000);
    expect(run.state.status).toBe("SUCCEEDED");
    expect(run.output).toEqual({
      results: third.map((jobId, i) => ({ id: String(i), jobId, workflowName: "item", status: "SUCCEEDED", output: `r${i}` })),
      succeeded: 3,
      failed: 0,
    });
  });

  it("a resume after every child succeeded post-cancel completes at once, starting nothing", () => {
    const run = new EngineRun(fanOut(), { items: items(2) });
    run.start();
    const ids = idsOf(run);
    run.send({ type: "cancel", at: T0 + 1000 });
    send(run, [ok(ids[1]!, "b"), ok(ids[0]!, "a")], T0 + 2000);
    const cmds = run.send({ type: "resume", at: T0 + 3000 });
    expect(startCommands(cmds)).toEqual([]);
    expect(run.state.status).toBe("SUCCEEDED");
    expect(run.output).toEqual({
      results: [
        { id: "0", jobId: ids[0], workflowName: "item", status: "SUCCEEDED", output: "a" },
        { id: "1", jobId: ids[1], workflowName: "item", status: "SUCCEEDED", output: "b" },
      ],
      succeeded: 2,
      failed: 0,
    });
  });

  it("a children step that times out cancels its running children; a resume keeps those that succeeded", () => {
    const run = new EngineRun(fanOut({ maxConcurrency: 2 }, { timeoutSeconds: 30 }), { items: items(4) });
    run.start();
    const first = idsOf(run);
    expect(run.state.current!.deadline).toBe(T0 + 30_000);
    send(run, [ok(first[0]!, "r0")], T0 + 1000);

    expect(run.send({ type: "timerFired", at: T0 + 29_999 })).toEqual([]);
    expect(run.state.status).toBe("RUNNING");

    const cmds = run.send({ type: "timerFired", at: T0 + 30_000 });
    expect(run.state.status).toBe("FAILED");
    expect(run.state.error).toEqual({ code: "TIMEOUT", message: "The attempt did not finish within 30 s.", stepName: "fan" });
    expect(cancelCommands(cmds)).toEqual([{ type: "cancelChildren", jobIds: [first[1], first[2]] }]);
    expect(statusesOf(run)).toEqual(["SUCCEEDED", "STARTING", "STARTING", "CANCELLED"]);

    send(run, [ok(first[1]!, "r1"), cancelled(first[2]!)], T0 + 31_000);
    const resumed = run.send({ type: "resume", at: T0 + 40_000 });
    const second = [first[0], first[1], idFor(run, "2", 2), idFor(run, "3", 2)];
    expect(idsOf(run, 2)).toEqual(second);
    expect(startCommands(resumed)).toEqual([{ type: "startChildren", jobIds: [second[2], second[3]] }]);
    expect(run.state.current!.deadline).toBe(T0 + 70_000);
    send(run, [ok(second[2]!, "r2"), ok(second[3]!, "r3")], T0 + 41_000);
    expect(run.state.status).toBe("SUCCEEDED");
    expect((run.output as { results: { jobId: string; output: unknown }[] }).results.map((r) => [r.jobId, r.output])).toEqual(
      second.map((id, i) => [id, `r${i}`]),
    );
  });

  it("a timed-out children step with retries cancels its children, and their late reports do not count toward the retry", () => {
    const run = new EngineRun(fanOut({}, { timeoutSeconds: 10, retries: 1 }), { items: items(2) });
    run.start();
    const first = idsOf(run);
    const cmds = run.send({ type: "timerFired", at: T0 + 10_000 });
    expect(cancelCommands(cmds)).toEqual([{ type: "cancelChildren", jobIds: first }]);
    expect(run.state.current?.wait?.type).toBe("retry");

    const retryAt = (run.state.current!.wait as { at: number }).at;
    const retried = run.send({ type: "timerFired", at: retryAt });
    const attempt = run.state.current!.attempt;
    const second = idsOf(run, attempt);
    expect(second.some((id) => first.includes(id))).toBe(false);
    expect(startCommands(retried)).toEqual([{ type: "startChildren", jobIds: second }]);

    send(run, first.map(cancelled), retryAt + 1000);
    expect(waitOf(run)).toMatchObject({ total: 2, active: 2, ended: 0, succeeded: 0 });
    send(run, second.map((id) => ok(id)), retryAt + 2000);
    expect(run.state.status).toBe("SUCCEEDED");
  });
});

describe("runChildJob: child rows and the rollover", () => {
  /** fan -> fan forever; its input is a fresh value each time, so only the output holds a reference. */
  const loop = definition([
    step(
      "fan",
      runChildJob,
      { config: { children: [{ ...item, ...forEachItems }] }, inputTransformer: { fieldset: [{ from: "workflowInput.items", to: "items" }] } },
      "fan",
    ),
  ]);

  it("an output that replaces a children reference retires the old rows", () => {
    const run = new EngineRun(loop, { items: items(5) });
    run.start();
    send(run, idsOf(run, 1).map((id) => ok(id)), T0 + 1000);
    expect(run.state.current).toMatchObject({ name: "fan", attempt: 2 });
    expect(run.state.retiredChildRows).toBe(0);
    send(run, idsOf(run, 2).map((id) => ok(id)), T0 + 2000);
    expect(run.state.current).toMatchObject({ name: "fan", attempt: 3 });
    expect(run.view.data("fanOutput")).toEqual({ ref: { children: { stepName: "fan", attempt: 2, count: 5 } } });
    expect(run.state.retiredChildRows).toBe(5);
    expect(run.view.childMap.size).toBe(15);
  });

  it.each([
    [19, 4],
    [20, 5],
  ])("with rolloverThreshold %i, a loop over a 5-child fan-out rolls over after %i completions", (threshold, completions) => {
    const run = new EngineRun(loop, { items: items(5) }, { rolloverThreshold: threshold });
    run.start();
    const seen = new Set<string>();
    let done = 0;
    let cmds: Command[] = [];
    while (!run.state.continuedAs && done < 50) {
      const attempt = run.state.current!.attempt;
      for (const id of idsOf(run, attempt)) seen.add(id);
      cmds = send(run, idsOf(run, attempt).map((id) => ok(id)), T0 + (done += 1) * 1000);
    }
    expect(done).toBe(completions);
    expect(EngineRun.kinds(cmds)).toContain("continueAsNew");
    expect(run.state.continuedAs).toMatchObject({ toRun: 2, nextStep: "fan", carry: "all", reason: "historyLimit" });
    expect(run.state.historyCount).toBe(completions);
    expect(run.state.retiredChildRows).toBe(5 * (completions - 1));
    expect(run.state.historyCount + run.state.retiredChildRows).toBeGreaterThanOrEqual(threshold);
    expect(seen.size).toBe(5 * completions); // a loop never reuses a child id
    // The run has handed over: a late report changes nothing.
    expect(send(run, [ok([...seen][0]!)], T0 + 100_000)).toEqual([]);
  });
});
