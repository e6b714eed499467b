/**
 * A deleted organization's purge: the reaper's second kind of sweep, after its jobs were cancelled
 * (reaper.ts). Everything of the organization's jobs goes, through the same tree deletion as
 * retention (src/job/retire.ts), and then its job index itself:
 *
 * 1. roots  every top-level job in the index, a page per alarm (ORG_REAPER_BATCH, 6 calls at a time),
 *           is told to delete its tree once it has ended; a job accepted in a batch that never
 *           started (an index row and perhaps a tombstone) is deleted here directly.
 * 2. drain  once every root was told, the index shards are asked how many rows and trees being
 *           deleted they still hold, every ORG_PURGE_POLL_MS; when none, each shard deletes its
 *           whole storage (rollups and keys with it), as do the rows the old D1 index still held.
 *
 * Its state is one row in the reaper's SQLite (`purge`), written after every step: an eviction or
 * kill -9 resumes from the cursor, and every step is safe to repeat.
 */
import type { IndexCursor } from "../job-index/messages";
import { allShards, shardFor, type IndexRef } from "../job-index/shards";
import { jobRunStub } from "../job/naming";
import type { PurgeAnswer } from "../job/messages";
import { LEGACY_INDEX_MIGRATION_BATCH, ORG_PURGE_POLL_MS, ORG_REAPER_BATCH, ORG_REAPER_CONCURRENCY, RETIRE_INDEX_ROWS_PER_CALL } from "../limits";
import { logEvent } from "../log";
import { dropLegacyOrganization } from "../registry/legacy-index";
import { organizationIndex } from "../registry/organizations";

type PurgeRow = { phase: "roots" | "drain" | "done"; cursor_created: string; cursor_job: string; roots: number };

export interface PurgeStatus {
  phase: PurgeRow["phase"];
  /** Top-level jobs told to delete their trees. */
  roots: number;
}

/** The purge's SQL, in the reaper's own SQLite. */
export class PurgeState {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(
      `CREATE TABLE IF NOT EXISTS purge (id INTEGER PRIMARY KEY CHECK (id = 1), phase TEXT NOT NULL DEFAULT 'roots',
         cursor_created TEXT NOT NULL DEFAULT '', cursor_job TEXT NOT NULL DEFAULT '', roots INTEGER NOT NULL DEFAULT 0)`,
    );
  }

  row(): PurgeRow {
    this.sql.exec(`INSERT OR IGNORE INTO purge (id) VALUES (1)`);
    return this.sql.exec<PurgeRow>(`SELECT phase, cursor_created, cursor_job, roots FROM purge WHERE id = 1`).one();
  }

  status(): PurgeStatus | null {
    const row = this.sql.exec<PurgeRow>(`SELECT phase, cursor_created, cursor_job, roots FROM purge WHERE id = 1`).toArray()[0];
    return row ? { phase: row.phase, roots: row.roots } : null;
  }

  advance(cursor: IndexCursor, told: number): void {
    this.sql.exec(`UPDATE purge SET cursor_created = ?, cursor_job = ?, roots = roots + ? WHERE id = 1`, cursor.o, cursor.j, told);
  }

  moveTo(phase: PurgeRow["phase"]): void {
    this.sql.exec(`UPDATE purge SET phase = ?, cursor_created = '', cursor_job = '' WHERE id = 1`, phase);
  }
}

/** The next page of the organization's top-level jobs after `after`, over every shard, oldest first. */
async function rootsPage(env: Env, ref: IndexRef, after: IndexCursor | null, limit: number): Promise<{ createdAt: string; jobId: string }[]> {
  const pages = await Promise.all(allShards(env, ref).map((s) => s.roots(after, limit, false)));
  return pages
    .flat()
    .sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : 0))
    .slice(0, limit);
}

/** Tells one root to delete its tree; a job that never started is deleted here (its row, its tombstone). */
async function purgeRoot(env: Env, ref: IndexRef, jobId: string): Promise<void> {
  const stub = jobRunStub(env, jobId);
  const { retiring } = await stub.retireForOrganization(ref.organizationId);
  if (retiring) return;
  // No such job (a batch's job that never started): its tombstone, if any, and its rows go here.
  (await stub.purgeStep(ref.organizationId, jobId, "", 1)) as PurgeAnswer;
  await shardFor(env, ref, jobId).deleteTreeRows(jobId, RETIRE_INDEX_ROWS_PER_CALL);
}

/**
 * One step of the purge. Returns the time the next step is due, or null when the purge is over.
 * Throws when a call failed (the reaper backs off and tries again; every step is idempotent).
 */
export async function purgeStep(env: Env, state: PurgeState, organizationId: string, now: number): Promise<number | null> {
  const row = state.row();
  const ref = await organizationIndex(env.DB, organizationId);
  switch (row.phase) {
    case "roots": {
      const after = row.cursor_created || row.cursor_job ? { o: row.cursor_created, j: row.cursor_job } : null;
      const page = await rootsPage(env, ref, after, ORG_REAPER_BATCH);
      for (let i = 0; i < page.length; i += ORG_REAPER_CONCURRENCY) {
        await Promise.all(page.slice(i, i + ORG_REAPER_CONCURRENCY).map((r) => purgeRoot(env, ref, r.jobId)));
      }
      const last = page[page.length - 1];
      if (last) state.advance({ o: last.createdAt, j: last.jobId }, page.length);
      if (page.length < ORG_REAPER_BATCH) state.moveTo("drain");
      return now;
    }
    case "drain": {
      const legacy = await dropLegacyOrganization(env.DB, organizationId, LEGACY_INDEX_MIGRATION_BATCH);
      const counts = await Promise.all(allShards(env, ref).map((s) => s.counts()));
      const jobs = counts.reduce((n, c) => n + c.jobs, 0);
      const trees = counts.reduce((n, c) => n + c.hiddenTrees, 0);
      if (jobs > 0 || trees > 0 || legacy > 0) {
        // Rows left that no tree is deleting (a job indexed after its page was read): tell their roots again.
        if (trees === 0 && jobs > 0) state.moveTo("roots");
        return now + ORG_PURGE_POLL_MS;
      }
      const deleted = await Promise.all(allShards(env, ref).map((s) => s.deleteEverything()));
      if (!deleted.every((d) => d.deleted)) return now + ORG_PURGE_POLL_MS;
      state.moveTo("done");
      logEvent("organization.purged", { organizationId, roots: row.roots });
      return null;
    }
    case "done":
      return null;
  }
}
