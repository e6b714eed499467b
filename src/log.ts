/**
 * Structured log lines: one JSON object per line, with the event name and a timestamp. Under
 * `wrangler dev` each console.log call costs about 0.5–0.9 ms (it crosses to the Node process;
 * PERF-NOTES.md), so lines that belong together go out in one call.
 */

function line(event: string, fields: Record<string, unknown>): string {
  return JSON.stringify({ event, ts: new Date().toISOString(), ...fields });
}

export function logEvent(event: string, fields: Record<string, unknown>): void {
  console.log(line(event, fields));
}

/** Several lines in one call. */
export function logEvents(events: { event: string; fields: Record<string, unknown> }[]): void {
  if (events.length > 0) console.log(events.map((e) => line(e.event, e.fields)).join("\n"));
}
