/**
 * Where an organization's job index lives and how a read spans it. An organization has a fixed
 * number of shards (1 unless it was created with more, src/registry/organizations.ts), each a
 * JobIndex object named `<organizationId>:<shard>`. A job's row lives in the shard of its ROOT job,
 * so a whole tree (a parent's children, a root's descendants, a tree's deletion) is in one shard;
 * an idempotency key in the shard of the key. A read that spans the organization (ListJobs, the
 * metrics) asks every shard and merges their answers on the keyset order: a k-way merge.
 */
import type { JobStatus, JobSummary } from "../engine/types";
import { ValidationError, unwrap } from "../errors";
import { MAX_INDEX_WRITES_PER_CALL, METRIC_FLUSHES_PER_CALL } from "../limits";
import type { BucketTotals, IndexCursor, IndexEntry, IndexQuery, JobIndexRpc, MetricFlush, MetricSeriesQuery, ShardPage } from "./messages";

const JOB_STATUSES: readonly JobStatus[] = ["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"];

/** An organization's index: its id and shard count. */
export interface IndexRef {
  organizationId: string;
  shards: number;
}

/** FNV-1a of a string: a stable, well-spread shard choice for ids and keys. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The shard that holds `key` (a root job id, an idempotency key). */
export function shardOf(key: string, shards: number): number {
  return shards <= 1 ? 0 : hash(key.toLowerCase()) % shards;
}

/** The stub of one shard. */
export function indexShard(env: Pick<Env, "JOB_INDEX">, organizationId: string, shard: number): DurableObjectStub<JobIndexRpc> {
  return env.JOB_INDEX.get(env.JOB_INDEX.idFromName(`${organizationId}:${shard}`));
}

/** The stub of the shard that holds `key`. */
export function shardFor(env: Pick<Env, "JOB_INDEX">, ref: IndexRef, key: string): DurableObjectStub<JobIndexRpc> {
  return indexShard(env, ref.organizationId, shardOf(key, ref.shards));
}

/** Every shard's stub, in shard order. */
export function allShards(env: Pick<Env, "JOB_INDEX">, ref: IndexRef): DurableObjectStub<JobIndexRpc>[] {
  return Array.from({ length: Math.max(1, ref.shards) }, (_, i) => indexShard(env, ref.organizationId, i));
}

/** Groups items by the shard their key maps to. */
function byShard<T>(ref: IndexRef, items: T[], key: (t: T) => string): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const s = shardOf(key(item), ref.shards);
    groups.set(s, [...(groups.get(s) ?? []), item]);
  }
  return groups;
}

/** Writes index rows from any writer, each to its root's shard, in calls of at most MAX_INDEX_WRITES_PER_CALL. */
export async function writeIndex(env: Pick<Env, "JOB_INDEX">, ref: IndexRef, entries: IndexEntry[]): Promise<void> {
  const calls: Promise<unknown>[] = [];
  for (const [shard, rows] of byShard(ref, entries, (e) => e.job.rootJobId ?? e.job.jobId)) {
    for (let i = 0; i < rows.length; i += MAX_INDEX_WRITES_PER_CALL) {
      calls.push(indexShard(env, ref.organizationId, shard).write(rows.slice(i, i + MAX_INDEX_WRITES_PER_CALL)).then(unwrap));
    }
  }
  await Promise.all(calls);
}

/** Deletes the first rows of top-level jobs whose start failed. */
export async function forgetUnstarted(env: Pick<Env, "JOB_INDEX">, ref: IndexRef, jobIds: string[]): Promise<void> {
  await Promise.all([...byShard(ref, jobIds, (id) => id)].map(([shard, ids]) => indexShard(env, ref.organizationId, shard).forgetUnstarted(ids)));
}

/** A top-level job's row, or null: a batch's job before its object exists. */
export async function findIndexedJob(env: Pick<Env, "JOB_INDEX">, ref: IndexRef, jobId: string): Promise<{ job: JobSummary; started: boolean } | null> {
  return shardFor(env, ref, jobId).find(jobId);
}

/** The index's status of each of these top-level jobs (GetSchedule's recent actions); a job not indexed is absent. */
export async function jobStatuses(env: Pick<Env, "JOB_INDEX">, ref: IndexRef, jobIds: string[]): Promise<Map<string, JobStatus>> {
  const answers = await Promise.all([...byShard(ref, jobIds, (id) => id)].map(([shard, ids]) => indexShard(env, ref.organizationId, shard).statuses(ids)));
  return new Map(answers.flatMap((a) => Object.entries(a)));
}

/** How many jobs of a tree have not ended, as the index knows it. */
export async function unfinishedInTree(env: Pick<Env, "JOB_INDEX">, ref: IndexRef, rootJobId: string): Promise<number> {
  return shardFor(env, ref, rootJobId).unfinishedInTree(rootJobId);
}

/** Binds idempotency keys (see JobIndexStore.claimKeys), each in its key's shard. */
export async function claimIdempotencyKeys(env: Pick<Env, "JOB_INDEX">, ref: IndexRef, claims: { key: string; jobId: string }[], now: number): Promise<Map<string, string>> {
  const answers = await Promise.all([...byShard(ref, claims, (c) => c.key)].map(([shard, cs]) => indexShard(env, ref.organizationId, shard).claimKeys(cs, now)));
  return new Map(answers.flatMap((a) => Object.entries(a)));
}

/** Adds a tree's metric flushes to its root's shard, in calls of at most METRIC_FLUSHES_PER_CALL. */
export async function addMetricFlushes(env: Pick<Env, "JOB_INDEX">, ref: IndexRef, rootJobId: string, flushes: MetricFlush[], now: number): Promise<void> {
  const shard = shardFor(env, ref, rootJobId);
  for (let i = 0; i < flushes.length; i += METRIC_FLUSHES_PER_CALL) unwrap(await shard.addMetrics(flushes.slice(i, i + METRIC_FLUSHES_PER_CALL), now));
}

/** Every shard's buckets of one metric, merged: counts and sums add up, maxima take the largest. */
export async function metricSeries(env: Pick<Env, "JOB_INDEX">, ref: IndexRef, q: MetricSeriesQuery): Promise<BucketTotals[]> {
  const answers = await Promise.all(allShards(env, ref).map((s) => s.metricSeries(q)));
  const merged = new Map<number, BucketTotals>();
  for (const t of answers.flat()) {
    const m = merged.get(t.b);
    merged.set(t.b, m ? { b: t.b, n: m.n + t.n, total: m.total + t.total, peak: Math.max(m.peak, t.peak) } : { ...t });
  }
  return [...merged.values()].sort((a, b) => a.b - b.b);
}

// ---- ListJobs ----------------------------------------------------------------------------------

/**
 * A pageToken's position. A token says which listing issued it (`p`: a parent's children, in their
 * step's order; none: newest first), and a token of one listing is refused by the other, since
 * their sort keys mean different things.
 */
function decodeToken(token: string, byParent: boolean): IndexCursor {
  try {
    const c = JSON.parse(atob(token.replaceAll("-", "+").replaceAll("_", "/"))) as { o?: unknown; c?: unknown; j?: unknown; p?: unknown };
    // `c` is the created_at of newest-first tokens issued before the index moved off D1; they keep working.
    const o = byParent ? c.o : (c.o ?? c.c);
    if (typeof o === "string" && typeof c.j === "string" && (c.p === 1) === byParent) return { o, j: c.j };
  } catch {
    /* fall through */
  }
  throw new ValidationError("pageToken is not a token this API issued for this listing.", ["pageToken: invalid"], { pageToken: "invalid" });
}

/** The opaque pageToken of a keyset position in one listing (see decodeToken). */
export function encodeToken(c: IndexCursor, byParent = false): string {
  return btoa(JSON.stringify(byParent ? { ...c, p: 1 } : c)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export interface ListJobsPage {
  jobs: JobSummary[];
  nextPageToken?: string;
  totalCount: number;
  statusCounts: Record<JobStatus, number>;
}

/**
 * One page of ListJobs over every shard: each shard returns its first `pageSize + 1` rows after the
 * cursor, and the page is the first `pageSize` of their merge in the keyset order (newest first;
 * a parent's children in their step's order), so a page never repeats or skips a job, even while
 * new jobs arrive.
 */
export async function listJobs(env: Pick<Env, "JOB_INDEX">, ref: IndexRef, q: IndexQuery, pageToken: string | undefined, pageSize: number): Promise<ListJobsPage> {
  const ascending = q.parentJobId !== undefined;
  const after = pageToken ? decodeToken(pageToken, ascending) : null;
  const pages: ShardPage[] = await Promise.all(allShards(env, ref).map((s) => s.page(q, after, pageSize + 1)));
  const rows = pages.flatMap((p) => p.rows);
  rows.sort((a, b) => {
    const c = a.key < b.key ? -1 : a.key > b.key ? 1 : a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : 0;
    return ascending ? c : -c;
  });
  const statusCounts = Object.fromEntries(JOB_STATUSES.map((s) => [s, pages.reduce((n, p) => n + (p.statusCounts[s] ?? 0), 0)])) as Record<JobStatus, number>;
  const page = rows.slice(0, pageSize);
  const last = page[page.length - 1];
  return {
    jobs: page.map((r) => r.job),
    ...(rows.length > pageSize && last ? { nextPageToken: encodeToken({ o: last.key, j: last.jobId }, ascending) } : {}),
    totalCount: Object.values(statusCounts).reduce((a, b) => a + b, 0),
    statusCounts,
  };
}
