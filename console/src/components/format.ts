/** Small formatting helpers shared by the pages and components. */
export const shortId = (id: string) => id.slice(0, 8);

export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const m = Math.floor(ms / 60_000);
  if (m < 60) return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** A coarse span for sentences, in whole units counted down ("in 59 min" until the hour is up): "12 s", "3 min", "2 h", "4 d". */
export function span(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h`;
  return `${Math.floor(h / 24)} d`;
}

/** A time relative to `now`: "12 s ago", "in 3 min". */
export function relative(iso: string, now: number): string {
  const diff = Date.parse(iso) - now;
  if (!Number.isFinite(diff)) return "–";
  if (Math.abs(diff) < 1000) return "just now";
  return diff < 0 ? `${span(-diff)} ago` : `in ${span(diff)}`;
}

/** An absolute time in UTC, to the second: "2026-12-07 01:19:41 UTC". */
export function utc(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "–" : `${d.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/** The local clock time of a moment, for sentences: "10:41" (with the date when not today). */
export function clock(iso: string, now = Date.now()): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "–";
  const sameDay = new Date(now).toDateString() === d.toDateString();
  const hm = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return sameDay ? hm : `${d.toLocaleDateString()} ${hm}`;
}

/** How long a job ran (or has been running at `now`). */
export function jobDuration(job: { createdAt: string; startedAt?: string; finishedAt?: string }, now: number): string {
  const start = Date.parse(job.startedAt ?? job.createdAt);
  const end = job.finishedAt ? Date.parse(job.finishedAt) : now;
  return duration(end - start);
}

export const time = (iso: string | undefined) => (iso ? new Date(iso).toLocaleString() : "–");

export const json = (v: unknown) => JSON.stringify(v, null, 2);

/** Bytes for people: "4 KiB", "1.2 MiB". */
export function bytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
