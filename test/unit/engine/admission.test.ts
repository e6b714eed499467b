import { describe, expect, it } from "vitest";
import { EngineRun, T0, definition, step } from "./harness";

const waitEvents = "/justworkflowit/waitForEventIds";
const noop = "/justworkflowit/noop";

/** A job governed by pools p1 and p2 (already sorted, the order leases are taken in). */
function pooled(steps = [step("hold", waitEvents, { config: { eventIds: ["go"] } })]): EngineRun {
  const run = new EngineRun(definition(steps));
  run.state.identity.resourcePoolIds = ["p1", "p2"];
  return run;
}

const nonLog = (cmds: { type: string }[]) => cmds.filter((c) => c.type !== "log");

describe("decide: resource pool admission", () => {
  it("waits PENDING for a lease in each pool, one pool at a time, in order, then runs", () => {
    const run = pooled();
    expect(nonLog(run.start())).toEqual([{ type: "indexStatus" }, { type: "acquireLease", poolId: "p1", epoch: 1 }]);
    expect(run.state.status).toBe("PENDING");
    run.send({ type: "leaseQueued", poolId: "p1", epoch: 1, since: T0 + 1, at: T0 + 2 });
    expect(run.state.admission).toEqual({ epoch: 1, held: 0, queued: { poolId: "p1", since: T0 + 1 } });
    // A grant for a pool it does not wait for yet, or of another round, changes nothing.
    expect(run.send({ type: "leaseGranted", poolId: "p2", epoch: 1, at: T0 + 3 })).toEqual([]);
    expect(run.send({ type: "leaseGranted", poolId: "p1", epoch: 0, at: T0 + 3 })).toEqual([]);
    expect(nonLog(run.send({ type: "leaseGranted", poolId: "p1", epoch: 1, at: T0 + 4 }))).toEqual([{ type: "acquireLease", poolId: "p2", epoch: 1 }]);
    expect(run.state).toMatchObject({ status: "PENDING", admission: { epoch: 1, held: 1 } });
    // A duplicate grant of p1 changes nothing.
    expect(run.send({ type: "leaseGranted", poolId: "p1", epoch: 1, at: T0 + 5 })).toEqual([]);
    run.send({ type: "leaseGranted", poolId: "p2", epoch: 1, at: T0 + 6 });
    expect(run.state).toMatchObject({ status: "RUNNING", startedAt: T0 + 6, admission: { epoch: 1, held: 2 }, current: { name: "hold" } });
  });

  it("releases every lease of the round when the job ends, cancelled while it waits or after it ran", () => {
    const waiting = pooled();
    waiting.start();
    expect(nonLog(waiting.send({ type: "cancel", at: T0 + 1 }))).toEqual([{ type: "releaseLeases", epoch: 1 }, { type: "indexStatus" }]);
    expect(waiting.state).toMatchObject({ status: "CANCELLED", admission: { epoch: 1, held: 0 } });

    const ran = pooled([step("a", noop)]);
    ran.start();
    ran.send({ type: "leaseGranted", poolId: "p1", epoch: 1, at: T0 });
    const cmds = ran.send({ type: "leaseGranted", poolId: "p2", epoch: 1, at: T0 });
    expect(ran.state.status).toBe("SUCCEEDED");
    expect(nonLog(cmds)).toContainEqual({ type: "releaseLeases", epoch: 1 });
  });

  it("a resumed job waits for its leases again, in a new round, and resumes at the step it stopped on", () => {
    const run = pooled();
    run.start();
    run.send({ type: "leaseGranted", poolId: "p1", epoch: 1, at: T0 });
    run.send({ type: "leaseGranted", poolId: "p2", epoch: 1, at: T0 });
    run.send({ type: "cancel", at: T0 + 1 });
    expect(nonLog(run.send({ type: "resume", at: T0 + 2 }))).toEqual([{ type: "indexStatus" }, { type: "acquireLease", poolId: "p1", epoch: 2 }]);
    expect(run.state).toMatchObject({ status: "PENDING", resumeStepName: "hold", admission: { epoch: 2, held: 0 } });
    // A late grant of the first round starts nothing.
    run.send({ type: "leaseGranted", poolId: "p1", epoch: 1, at: T0 + 3 });
    expect(run.state.status).toBe("PENDING");
    run.send({ type: "leaseGranted", poolId: "p1", epoch: 2, at: T0 + 4 });
    run.send({ type: "leaseGranted", poolId: "p2", epoch: 2, at: T0 + 4 });
    expect(run.state).toMatchObject({ status: "RUNNING", current: { name: "hold" } });
  });

  it("a job without pools starts at once, as before", () => {
    const run = new EngineRun(definition([step("hold", waitEvents, { config: { eventIds: ["go"] } })]));
    run.start();
    expect(run.state.status).toBe("RUNNING");
    expect(run.state.admission).toBeUndefined();
  });
});
