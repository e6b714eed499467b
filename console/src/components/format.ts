/** Small formatting helpers shared by the pages and components. */
export const shortId = (id: string) => id.slice(0, 8);

export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const m = Math.floor(ms / 60_000);
  if (m < 60) return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** How long a job ran (or has been running at `now`). */
export function jobDuration(job: { createdAt: string; startedAt?: string; finishedAt?: string }, now: number): string {
  const start = Date.parse(job.startedAt ?? job.createdAt);
  const end = job.finishedAt ? Date.parse(job.finishedAt) : now;
  return duration(end - start);
}

export const time = (iso: string | undefined) => (iso ? new Date(iso).toLocaleString() : "–");

export const json = (v: unknown) => JSON.stringify(v, null, 2);
