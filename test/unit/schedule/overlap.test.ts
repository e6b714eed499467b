import { describe, expect, it } from "vitest";
import { decideOverlap, type OverlapInput } from "../../../src/schedule/overlap";

const base: OverlapInput = { policy: "SKIP", pauseOnFailure: false, lastJobId: "j1", lastJobStatus: "RUNNING", waiting: [] };
const idle = { lastJobStatus: "SUCCEEDED" as const };
const buffered = { waiting: [{ seq: 7, waitFor: "j1", waitForTree: false }] };
const replacing = { waiting: [{ seq: 7, waitFor: "j0", waitForTree: true }] };
const start = (extra: object = {}) => ({ start: true, waitForTree: false, supersede: [], ...extra });
const skip = (reason: string) => ({ start: false, reason, pause: false, supersede: [] });

describe("overlap policies", () => {
  it.each<[string, Partial<OverlapInput>, object]>([
    ["SKIP, previous running", {}, skip("job j1 is still running")],
    ["SKIP, previous ended", idle, start()],
    ["SKIP, no previous job", { lastJobId: undefined, lastJobStatus: undefined }, start()],
    ["ALLOW_ALL, previous running", { policy: "ALLOW_ALL" }, start()],
    ["BUFFER_ONE, previous running", { policy: "BUFFER_ONE" }, start({ waitFor: "j1" })],
    ["BUFFER_ONE, one already buffered", { policy: "BUFFER_ONE", ...buffered }, skip("a firing is already buffered")],
    ["BUFFER_ONE, previous ended", { policy: "BUFFER_ONE", ...idle }, start()],
    ["CANCEL_OTHER, previous running", { policy: "CANCEL_OTHER" }, start({ cancelJobId: "j1", waitForTree: true })],
    ["TERMINATE_OTHER, previous running", { policy: "TERMINATE_OTHER" }, start({ cancelJobId: "j1" })],
    ["CANCEL_OTHER, a replacement still waiting for the cancelled job's tree", { policy: "CANCEL_OTHER", ...idle, lastJobStatus: "CANCELLED", ...replacing }, start({ waitFor: "j0", waitForTree: true, supersede: [7] })],
    ["TERMINATE_OTHER, previous ended", { policy: "TERMINATE_OTHER", ...idle }, start()],
  ])("%s", (_name, input, expected) => {
    expect(decideOverlap({ ...base, ...input })).toEqual(expected);
  });

  it("pauseOnFailure pauses on a FAILED previous job, whatever the policy", () => {
    for (const policy of ["SKIP", "BUFFER_ONE", "ALLOW_ALL", "CANCEL_OTHER", "TERMINATE_OTHER"] as const) {
      expect(decideOverlap({ ...base, policy, pauseOnFailure: true, lastJobStatus: "FAILED" })).toMatchObject({ start: false, pause: true });
      expect(decideOverlap({ ...base, policy, pauseOnFailure: false, lastJobStatus: "FAILED" })).toMatchObject({ start: true });
    }
  });
});
