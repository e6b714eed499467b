// Event ids and step names are the user's strings: names that Object.prototype also has
// ("__proto__", "constructor", "toString") are ordinary keys, and never reach Object.prototype.
import { afterEach, describe, expect, it } from "vitest";
import { EngineRun, T0, definition, step } from "./harness";

const waitEvents = "/justworkflowit/waitForEventIds";
const names = ["__proto__", "constructor", "toString", "hasOwnProperty"];

describe("decide: keys that Object.prototype also has", () => {
  afterEach(() => {
    // A polluted prototype would break every object in the isolate, every tenant's included.
    const polluted = Object.keys(Object.prototype);
    for (const key of polluted) delete (Object.prototype as Record<string, unknown>)[key];
    expect(polluted).toEqual([]);
  });

  it("waits for events named like Object.prototype's members until each has arrived", () => {
    const run = new EngineRun(definition([step("wait", waitEvents, { config: { eventIds: names } })]));
    run.start();
    expect(run.state.status).toBe("RUNNING");
    names.forEach((eventId, i) => {
      expect(run.state.status).toBe("RUNNING");
      run.send({ type: "eventReceived", eventId, payload: { [`k${i}`]: eventId }, at: T0 + i + 1 });
    });
    expect(run.state.status).toBe("SUCCEEDED");
    expect(run.output).toEqual({ k0: "__proto__", k1: "constructor", k2: "toString", k3: "hasOwnProperty" });
    expect(run.history.filter((h) => h.historySource === "external").map((h) => h.eventId)).toEqual(names);
    // Each event is a row of its own, under its own id, and each was used.
    expect([...run.view.eventMap.keys()]).toEqual(names);
    expect([...run.view.eventMap.values()].filter((e) => !e.consumed)).toEqual([]);
  });

  it("records an event named like a prototype member once, as any other", () => {
    const run = new EngineRun(definition([step("wait", waitEvents, { config: { eventIds: ["constructor"] } }, "again"), step("again", waitEvents, { config: { eventIds: ["constructor"] } })]));
    run.start();
    run.send({ type: "eventReceived", eventId: "constructor", payload: { first: true }, at: T0 + 1 });
    run.send({ type: "eventReceived", eventId: "constructor", payload: { second: true }, at: T0 + 2 });
    // Used once by the first wait; the duplicate is ignored, so the second wait still waits.
    expect(run.state.current?.name).toBe("again");
    expect(run.state.status).toBe("RUNNING");
    expect(run.history.filter((h) => h.eventId === "constructor")).toHaveLength(1);
  });

  it.each(names)("numbers the executions of a step named %s 1, 2, 3", (name) => {
    const count = { n: { "+": [{ var: [`${name}Output.n`, 0] }, 1] } };
    const def = definition([step(name, "/canopy/transform", { config: { output: count } }, { if: [{ "<": [{ var: `${name}Output.n` }, 3] }, name, null] })]);
    const run = new EngineRun(def);
    run.start();
    expect(run.state.status).toBe("SUCCEEDED");
    expect(run.history.map((h) => h.attempt)).toEqual([1, 2, 3]);
    expect(Object.hasOwn(run.state.attemptCounters, name)).toBe(true);
    expect(run.state.attemptCounters[name]).toBe(3);
  });
});
