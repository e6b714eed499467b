/**
 * JobIndex: one Durable Object per organization and shard, holding that organization's job index
 * (what ListJobs, GetJob's childJobs and the schedules read), its SubmitJob idempotency keys and its
 * metric rollups. Job objects write to it in batches from their alarms; nothing here is shared
 * between tenants, and D1 keeps only the registry. Every method is one synchronous SQLite
 * transaction, so a write is all or nothing and each call is idempotent (rows carry a sequence
 * that only grows, flushes a key that is remembered, keys keep their first binding).
 */
import { DurableObject } from "cloudflare:workers";
import type { JobStatus, JobSummary } from "../engine/types";
import { PayloadTooLargeError, type RpcResult } from "../errors";
import { MAX_INDEX_WRITES_PER_CALL, METRIC_FLUSHES_PER_CALL } from "../limits";
import type { BucketTotals, IndexCursor, IndexEntry, IndexQuery, JobIndexRpc, MetricFlush, MetricSeriesQuery, ShardPage } from "./messages";
import { JobIndexStore } from "./store";

/** A call that carries more than its bound: refused whole, as a value (an error thrown over RPC loses its class). */
function tooMany<T>(what: string, max: number, got: number): RpcResult<T> {
  return { ok: false, error: new PayloadTooLargeError(`At most ${max} ${what} per call; got ${got}.`).toInfo() };
}

export class JobIndex extends DurableObject<Env> implements JobIndexRpc {
  #store: JobIndexStore;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#store = new JobIndexStore(ctx.storage.sql);
  }

  #tx<T>(fn: () => T): T {
    return this.ctx.storage.transactionSync(fn);
  }

  /** Writes rows; more than MAX_INDEX_WRITES_PER_CALL is refused whole (the caller sends them in several calls). */
  async write(entries: IndexEntry[]): Promise<RpcResult<{ written: number }>> {
    if (entries.length > MAX_INDEX_WRITES_PER_CALL) return tooMany(`index rows`, MAX_INDEX_WRITES_PER_CALL, entries.length);
    return { ok: true, value: { written: this.#tx(() => this.#store.write(entries)) } };
  }

  async forgetUnstarted(jobIds: string[]): Promise<void> {
    this.#tx(() => this.#store.forgetUnstarted(jobIds));
  }

  async page(q: IndexQuery, after: IndexCursor | null, limit: number): Promise<ShardPage> {
    return this.#store.page(q, after, limit);
  }

  async find(jobId: string): Promise<{ job: JobSummary; started: boolean } | null> {
    return this.#store.find(jobId);
  }

  async statuses(jobIds: string[]): Promise<Record<string, JobStatus>> {
    return this.#store.statuses(jobIds);
  }

  async unfinishedInTree(rootJobId: string): Promise<number> {
    return this.#store.unfinishedInTree(rootJobId);
  }

  async roots(after: IndexCursor | null, limit: number, unfinishedOnly: boolean): Promise<{ createdAt: string; jobId: string }[]> {
    return this.#store.roots(after, limit, unfinishedOnly);
  }

  async claimKeys(claims: { key: string; jobId: string }[], now: number): Promise<Record<string, string>> {
    return this.#tx(() => this.#store.claimKeys(claims, now));
  }

  async importKeys(keys: { key: string; jobId: string; createdAt: number }[]): Promise<RpcResult<{ imported: number }>> {
    if (keys.length > MAX_INDEX_WRITES_PER_CALL) return tooMany("keys", MAX_INDEX_WRITES_PER_CALL, keys.length);
    this.#tx(() => this.#store.importKeys(keys));
    return { ok: true, value: { imported: keys.length } };
  }

  /** Adds flushes, each key once; more than METRIC_FLUSHES_PER_CALL is refused whole. */
  async addMetrics(flushes: MetricFlush[], now: number): Promise<RpcResult<{ added: number }>> {
    if (flushes.length > METRIC_FLUSHES_PER_CALL) return tooMany("metric flushes", METRIC_FLUSHES_PER_CALL, flushes.length);
    return { ok: true, value: { added: this.#tx(() => this.#store.addMetrics(flushes, now)) } };
  }

  async metricSeries(q: MetricSeriesQuery): Promise<BucketTotals[]> {
    return this.#store.metricSeries(q);
  }

  async hideTree(rootJobId: string): Promise<void> {
    this.#tx(() => this.#store.hideTree(rootJobId));
  }

  async treeMembers(rootJobId: string, after: string, limit: number): Promise<string[]> {
    return this.#store.treeMembers(rootJobId, after, limit);
  }

  async deleteTreeRows(rootJobId: string, limit: number): Promise<{ deleted: number }> {
    return { deleted: this.#tx(() => this.#store.deleteTreeRows(rootJobId, limit)) };
  }

  async forgetTree(rootJobId: string): Promise<void> {
    this.#tx(() => this.#store.forgetTree(rootJobId));
  }

  async counts(): Promise<{ jobs: number; hiddenTrees: number }> {
    return this.#store.counts();
  }

  /**
   * A deleted organization's last step: drops the whole shard (rollups, keys, schema) once no job
   * row and no tree being deleted is left. Refused (false) before then: a tree still being deleted
   * needs its rows and its mark here.
   */
  async deleteEverything(): Promise<{ deleted: boolean }> {
    const c = this.#store.counts();
    if (c.jobs > 0 || c.hiddenTrees > 0) return { deleted: false };
    await this.ctx.storage.deleteAll();
    await this.ctx.storage.deleteAlarm();
    // A later call (a stale retry) finds an empty, well-formed index.
    this.#store = new JobIndexStore(this.ctx.storage.sql);
    return { deleted: true };
  }
}
