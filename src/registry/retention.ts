/**
 * An organization's retention setting (GetRetention/PutRetention): how long a top-level job and its
 * tree are kept once the root has ended, per status. Stored in the organization's D1 row (the
 * registry); a job reads it when it ends (src/job/retire.ts), so a change applies to jobs that end
 * from then on.
 */
import type { JobStatus } from "../engine/types";
import { NotFoundError } from "../errors";
import { DEFAULT_RETENTION_SECONDS } from "../limits";
import { REGISTRY_CACHE_MS, TtlCache } from "./ttl-cache";

export interface Retention {
  succeededSeconds: number;
  failedSeconds: number;
  cancelledSeconds: number;
}

const DEFAULTS: Retention = { succeededSeconds: DEFAULT_RETENTION_SECONDS, failedSeconds: DEFAULT_RETENTION_SECONDS, cancelledSeconds: DEFAULT_RETENTION_SECONDS };

/** Jobs read it as they end: cached, like the other mutable registry facts, for REGISTRY_CACHE_MS. */
const cache = new TtlCache<Retention>(REGISTRY_CACHE_MS, 1_000);

function parse(text: string | null): Retention {
  return { ...DEFAULTS, ...(text ? (JSON.parse(text) as Partial<Retention>) : {}) };
}

/** The organization's setting (a deleted organization's too); the defaults where it set nothing. */
export async function getRetention(db: D1Database, organizationId: string): Promise<Retention> {
  const hit = cache.get(organizationId);
  if (hit) return hit;
  const row = await db.prepare(`SELECT retention FROM organizations WHERE organization_id = ?`).bind(organizationId).first<{ retention: string | null }>();
  if (!row) throw new NotFoundError(`Organization ${organizationId} was not found.`);
  const retention = parse(row.retention);
  cache.set(organizationId, retention);
  return retention;
}

/** Changes some of a live organization's setting; answers the whole setting. */
export async function putRetention(db: D1Database, organizationId: string, change: Partial<Retention>): Promise<Retention> {
  const row = await db
    .prepare(
      `UPDATE organizations SET retention = json_patch(coalesce(retention, '{}'), ?) WHERE organization_id = ? AND deleted_at IS NULL RETURNING retention`,
    )
    .bind(JSON.stringify(change), organizationId)
    .first<{ retention: string }>();
  if (!row) throw new NotFoundError(`Organization ${organizationId} was not found.`);
  const retention = parse(row.retention);
  // This isolate applies it at once; others within REGISTRY_CACHE_MS.
  cache.set(organizationId, retention);
  return retention;
}

/** How long a job that ended with `status` is kept, in ms. */
export function retentionMs(r: Retention, status: JobStatus): number {
  const seconds = status === "SUCCEEDED" ? r.succeededSeconds : status === "FAILED" ? r.failedSeconds : r.cancelledSeconds;
  return seconds * 1000;
}
