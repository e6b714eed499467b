/** Structured log lines: one JSON object per line, with the event name and a timestamp. */
export function logEvent(event: string, fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ event, ts: new Date().toISOString(), ...fields }));
}
