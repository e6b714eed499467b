import { describe, expect, it } from "vitest";
import { unusedEventsRefusal } from "../../../src/job/event-room";
import { MAX_UNUSED_EVENT_BYTES, MAX_UNUSED_EVENTS } from "../../../src/limits";

describe("the events a job keeps unused", () => {
  it.each([
    [{ count: MAX_UNUSED_EVENTS - 1, bytes: 0 }, 10, false, true],
    [{ count: MAX_UNUSED_EVENTS, bytes: 0 }, 10, false, false],
    [{ count: 1, bytes: MAX_UNUSED_EVENT_BYTES - 10 }, 10, false, true],
    [{ count: 1, bytes: MAX_UNUSED_EVENT_BYTES - 10 }, 11, false, false],
    [{ count: MAX_UNUSED_EVENTS, bytes: MAX_UNUSED_EVENT_BYTES }, 11, true, true],
  ])("holding %o, one of %i bytes (waited for: %s) is kept: %s", (held, bytes, waitedFor, kept) => {
    const refusal = unusedEventsRefusal(held, bytes, waitedFor);
    expect(refusal === undefined).toBe(kept);
    if (refusal) expect(refusal).toContain(`at most ${MAX_UNUSED_EVENTS} events and ${MAX_UNUSED_EVENT_BYTES} bytes`);
  });
});
