/**
 * Whether a job may keep one more received event: the events no wait has used are rows of up to
 * MAX_PAYLOAD_BYTES and history items, and a run waiting in one step never rolls over, so they are
 * bounded in number and in bytes. An event the current step waits for is always taken: it is used
 * at once.
 */
import { MAX_UNUSED_EVENT_BYTES, MAX_UNUSED_EVENTS } from "../limits";

/** Why an event of `bytes` bytes cannot be kept beside `held` unused ones, or undefined when it can. */
export function unusedEventsRefusal(held: { count: number; bytes: number }, bytes: number, waitedFor: boolean): string | undefined {
  if (waitedFor) return undefined;
  if (held.count < MAX_UNUSED_EVENTS && held.bytes + bytes <= MAX_UNUSED_EVENT_BYTES) return undefined;
  return `The job keeps ${held.count} events it has not used (${held.bytes} bytes of payload); it keeps at most ${MAX_UNUSED_EVENTS} events and ${MAX_UNUSED_EVENT_BYTES} bytes of them. Send it again once a wait has used some.`;
}
