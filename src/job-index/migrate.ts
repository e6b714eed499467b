/**
 * Moving a deployment's job index off D1: POST /admin/migrate-job-index copies a bounded batch of
 * the old tables (src/registry/legacy-index.ts) into the organizations' JobIndex objects and then
 * deletes what it copied from D1, and says how much remains. Copying is idempotent (a row keeps the
 * higher sequence, a rollup is one flush under a key of its own, a key keeps its first binding), so
 * a call that dies half-way is simply made again. Rows of deleted organizations are dropped.
 */
import { unwrap } from "../errors";
import { IDEMPOTENCY_WINDOW_MS, LEGACY_INDEX_MIGRATION_BATCH } from "../limits";
import {
  deleteLegacyRollups,
  deleteLegacyRows,
  dropLegacyEventKeys,
  legacyJobRows,
  legacyKeys,
  legacyRemaining,
  legacyRollups,
} from "../registry/legacy-index";
import { organizationIndex, organizationIsLive } from "../registry/organizations";
import type { IndexEntry } from "./messages";
import { addMetricFlushes, indexShard, shardOf, writeIndex, type IndexRef } from "./shards";

export interface MigrationReport {
  copied: { jobs: number; rollups: number; keys: number };
  dropped: { deletedOrganizations: number; eventKeys: number; expiredKeys: number };
  remaining: { jobs: number; rollups: number; keys: number; eventKeys: number };
}

/** Groups items by organization, resolving each live organization's index once. */
async function byOrganization<T extends { organizationId: string }>(db: D1Database, items: T[]): Promise<{ live: Map<IndexRef, T[]>; dead: number }> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(item.organizationId, [...(groups.get(item.organizationId) ?? []), item]);
  const live = new Map<IndexRef, T[]>();
  let dead = 0;
  for (const [organizationId, group] of groups) {
    if (await organizationIsLive(db, organizationId)) live.set(await organizationIndex(db, organizationId), group);
    else dead += group.length;
  }
  return { live, dead };
}

/** Copies one batch of each old table (at most `limit` rows each) and deletes it from D1. */
export async function migrateLegacyIndex(env: Env, now: number, limit = LEGACY_INDEX_MIGRATION_BATCH): Promise<MigrationReport> {
  const db = env.DB;
  const jobs = await legacyJobRows(db, limit);
  const jobGroups = await byOrganization(db, jobs.entries);
  for (const [ref, rows] of jobGroups.live) await writeIndex(env, ref, rows.map((r): IndexEntry => r.entry));
  await deleteLegacyRows(db, "jobs", jobs.rowids);

  const rollups = await legacyRollups(db, limit);
  const rollupGroups = await byOrganization(db, rollups.flushes);
  for (const [ref, flushes] of rollupGroups.live) {
    // Each rollup is a flush of its own: copied twice (a call that died before its delete), counted
    // once. Any shard may hold a rollup (reads add them all up): they go to one, in a few calls.
    await addMetricFlushes(env, ref, ref.organizationId, flushes.map((f) => ({ key: f.key, increments: [f.increment] })), now);
  }
  await deleteLegacyRollups(db, rollups.flushes);

  const keys = await legacyKeys(db, limit);
  const current = keys.keys.filter((k) => k.createdAt >= now - IDEMPOTENCY_WINDOW_MS);
  const keyGroups = await byOrganization(db, current);
  for (const [ref, group] of keyGroups.live) {
    const perShard = new Map<number, { key: string; jobId: string; createdAt: number }[]>();
    for (const k of group) perShard.set(shardOf(k.key, ref.shards), [...(perShard.get(shardOf(k.key, ref.shards)) ?? []), k]);
    const calls = [...perShard].map(([shard, ks]) => indexShard(env, ref.organizationId, shard).importKeys(ks.map(({ key, jobId, createdAt }) => ({ key, jobId, createdAt }))));
    for (const answer of await Promise.all(calls)) unwrap(answer);
  }
  await deleteLegacyRows(db, "idempotency_keys", keys.rowids);

  const eventKeys = await dropLegacyEventKeys(db, limit);
  return {
    copied: {
      jobs: jobs.entries.length - jobGroups.dead,
      rollups: rollups.flushes.length - rollupGroups.dead,
      keys: current.length - keyGroups.dead,
    },
    dropped: { deletedOrganizations: jobGroups.dead + rollupGroups.dead + keyGroups.dead, eventKeys, expiredKeys: keys.keys.length - current.length },
    remaining: await legacyRemaining(db),
  };
}
