/**
 * D1 access for resource pools: their configuration. Leases and queues live in each pool's
 * Durable Object (src/pools/resource-pool.ts). `poolsForWorkflow` is on every job's start path, so
 * it reads an organization's pools once per isolate per POOL_LOOKUP_CACHE_MS.
 */
import { ConflictError, NotFoundError, ValidationError } from "../errors";
import { isoTime, newId } from "../ids";
import { MAX_POOLS_PER_ORGANIZATION, POOL_LOOKUP_CACHE_ENTRIES, POOL_LOOKUP_CACHE_MS } from "../limits";

export interface ResourcePool {
  poolId: string;
  name: string;
  workerLimit: number;
  targetsAllWorkflows: boolean;
  targetedWorkflowIds: string[];
  createdAt: string;
  updatedAt: string;
}

export interface ResourcePoolInput {
  name: string;
  workerLimit: number;
  targetsAllWorkflows?: boolean;
  targetedWorkflowIds?: string[];
}

interface PoolRow {
  pool_id: string;
  organization_id: string;
  name: string;
  worker_limit: number;
  targets_all_workflows: number;
  targeted_workflow_ids: string;
  created_at: string;
  updated_at: string;
}

function toPool(row: PoolRow): ResourcePool {
  return {
    poolId: row.pool_id,
    name: row.name,
    workerLimit: row.worker_limit,
    targetsAllWorkflows: row.targets_all_workflows === 1,
    targetedWorkflowIds: JSON.parse(row.targeted_workflow_ids) as string[],
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function isUniqueViolation(e: unknown): boolean {
  return /UNIQUE constraint failed/i.test(String((e as Error)?.message ?? e));
}

/** Throws 400 unless every targeted id names a workflow of the organization. */
async function requireWorkflows(db: D1Database, organizationId: string, workflowIds: string[]): Promise<void> {
  if (workflowIds.length === 0) return;
  const { results } = await db
    .prepare(`SELECT workflow_id FROM workflows WHERE organization_id = ? AND workflow_id IN (SELECT value FROM json_each(?))`)
    .bind(organizationId, JSON.stringify(workflowIds))
    .all<{ workflow_id: string }>();
  const known = new Set(results.map((r) => r.workflow_id));
  const unknown = workflowIds.filter((id) => !known.has(id));
  if (unknown.length > 0) {
    const errors = unknown.map((id) => `targetedWorkflowIds: no workflow ${id} in this organization`);
    throw new ValidationError("targetedWorkflowIds names workflows this organization does not have.", errors, { targetedWorkflowIds: errors[0]! });
  }
}

/**
 * Creates a pool (its name unique in the organization). `beforeInsert` runs once the input is
 * known to be valid and before any job can find the pool: the caller configures its Durable Object there.
 */
export async function createResourcePool(
  db: D1Database,
  organizationId: string,
  input: ResourcePoolInput,
  now: number,
  poolId = newId(),
  beforeInsert?: () => Promise<unknown>,
): Promise<ResourcePool> {
  const targeted = [...new Set(input.targetedWorkflowIds ?? [])];
  await requireWorkflows(db, organizationId, targeted);
  await beforeInsert?.();
  const at = isoTime(now);
  let row: PoolRow | null;
  try {
    // The count bound and the insert are one statement: concurrent creations cannot pass it together.
    row = await db
      .prepare(
        `INSERT INTO resource_pools (pool_id, organization_id, name, worker_limit, targets_all_workflows, targeted_workflow_ids, created_at, updated_at)
         SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE (SELECT COUNT(*) FROM resource_pools WHERE organization_id = ?2) < ?
         RETURNING *`,
      )
      .bind(poolId, organizationId, input.name, input.workerLimit, input.targetsAllWorkflows ? 1 : 0, JSON.stringify(targeted), at, at, MAX_POOLS_PER_ORGANIZATION)
      .first<PoolRow>();
  } catch (e) {
    if (isUniqueViolation(e)) throw new ConflictError(`A resource pool named "${input.name}" exists.`);
    throw e;
  }
  if (!row) throw new ConflictError(`An organization has at most ${MAX_POOLS_PER_ORGANIZATION} resource pools.`);
  forgetPools(organizationId);
  return toPool(row);
}

/** One pool, or NotFoundError (also for another organization's pool). */
export async function getResourcePool(db: D1Database, organizationId: string, poolId: string): Promise<ResourcePool> {
  const row = await db.prepare(`SELECT * FROM resource_pools WHERE organization_id = ? AND pool_id = ?`).bind(organizationId, poolId).first<PoolRow>();
  if (!row) throw new NotFoundError(`Resource pool ${poolId} was not found.`);
  return toPool(row);
}

/** The organization's pools by name. */
export async function listResourcePools(db: D1Database, organizationId: string): Promise<ResourcePool[]> {
  const { results } = await db.prepare(`SELECT * FROM resource_pools WHERE organization_id = ? ORDER BY name, pool_id`).bind(organizationId).all<PoolRow>();
  return results.map(toPool);
}

/**
 * Changes the fields given; the others keep their values. `beforeUpdate` runs once the change is
 * known to be valid (the pool exists, its targets are the organization's workflows, a new name is
 * free) and before D1 is written, with the worker limit the pool will have: the caller configures
 * the pool's Durable Object there, so that D1 never shows a limit the object does not enforce.
 */
export async function updateResourcePool(
  db: D1Database,
  organizationId: string,
  poolId: string,
  change: Partial<ResourcePoolInput>,
  now: number,
  beforeUpdate?: (workerLimit: number) => Promise<unknown>,
): Promise<ResourcePool> {
  const current = await getResourcePool(db, organizationId, poolId);
  const targeted = change.targetedWorkflowIds !== undefined ? [...new Set(change.targetedWorkflowIds)] : current.targetedWorkflowIds;
  if (change.targetedWorkflowIds !== undefined) await requireWorkflows(db, organizationId, targeted);
  if (change.name !== undefined && change.name !== current.name) {
    // Checked before the object is configured; the UNIQUE index still decides a race.
    const taken = await db.prepare(`SELECT 1 AS x FROM resource_pools WHERE organization_id = ? AND name = ? AND pool_id != ?`).bind(organizationId, change.name, poolId).first();
    if (taken) throw new ConflictError(`A resource pool named "${change.name}" exists.`);
  }
  // Only a new limit is the object's business; one left out is not re-sent from what was read.
  if (change.workerLimit !== undefined) await beforeUpdate?.(change.workerLimit);
  let row: PoolRow | null;
  try {
    // Fields left out keep what is stored now, not what was read before the awaits above: a
    // concurrent change of another field is never written back over.
    row = await db
      .prepare(
        `UPDATE resource_pools SET name = coalesce(?, name), worker_limit = coalesce(?, worker_limit),
           targets_all_workflows = coalesce(?, targets_all_workflows), targeted_workflow_ids = coalesce(?, targeted_workflow_ids), updated_at = ?
         WHERE organization_id = ? AND pool_id = ? RETURNING *`,
      )
      .bind(
        change.name ?? null,
        change.workerLimit ?? null,
        change.targetsAllWorkflows === undefined ? null : change.targetsAllWorkflows ? 1 : 0,
        change.targetedWorkflowIds !== undefined ? JSON.stringify(targeted) : null,
        isoTime(now),
        organizationId,
        poolId,
      )
      .first<PoolRow>();
  } catch (e) {
    if (isUniqueViolation(e)) throw new ConflictError(`A resource pool named "${change.name}" exists.`);
    throw e;
  }
  if (!row) throw new NotFoundError(`Resource pool ${poolId} was not found.`);
  forgetPools(organizationId);
  return toPool(row);
}

/** Deletes a pool, or throws NotFoundError. */
export async function deleteResourcePool(db: D1Database, organizationId: string, poolId: string): Promise<void> {
  const result = await db.prepare(`DELETE FROM resource_pools WHERE organization_id = ? AND pool_id = ?`).bind(organizationId, poolId).run();
  if (result.meta.changes === 0) throw new NotFoundError(`Resource pool ${poolId} was not found.`);
  forgetPools(organizationId);
}

/**
 * Deletes every pool of an organization being deleted (in the deletion's batch, src/organizations/reaper.ts).
 * Its jobs are being cancelled, and a cancelled job gives its lease or queue place back.
 */
export function deleteAllResourcePoolsStatement(db: D1Database, organizationId: string): D1PreparedStatement {
  forgetPools(organizationId);
  return db.prepare(`DELETE FROM resource_pools WHERE organization_id = ?`).bind(organizationId);
}

// ---- which pools govern a job -----------------------------------------------------------------

type PoolTargets = Pick<ResourcePool, "poolId" | "targetsAllWorkflows" | "targetedWorkflowIds">;

/** Per isolate: each organization's pools, with when they were read. */
const cache = new Map<string, { at: number; pools: PoolTargets[] }>();

function forgetPools(organizationId: string): void {
  cache.delete(organizationId);
}

/**
 * The ids of the pools a job of `workflowId` must hold a lease in, sorted (the order leases are
 * acquired in, the same for every job, so two jobs never wait on each other). An organization
 * without pools costs one D1 read per isolate per POOL_LOOKUP_CACHE_MS.
 */
export async function poolsForWorkflow(db: D1Database, organizationId: string, workflowId: string, now = Date.now()): Promise<string[]> {
  let entry = cache.get(organizationId);
  if (!entry || now - entry.at > POOL_LOOKUP_CACHE_MS) {
    const { results } = await db
      .prepare(`SELECT pool_id, targets_all_workflows, targeted_workflow_ids FROM resource_pools WHERE organization_id = ?`)
      .bind(organizationId)
      .all<Pick<PoolRow, "pool_id" | "targets_all_workflows" | "targeted_workflow_ids">>();
    entry = {
      at: now,
      pools: results.map((r) => ({ poolId: r.pool_id, targetsAllWorkflows: r.targets_all_workflows === 1, targetedWorkflowIds: JSON.parse(r.targeted_workflow_ids) as string[] })),
    };
    cache.delete(organizationId);
    if (cache.size >= POOL_LOOKUP_CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
    cache.set(organizationId, entry);
  }
  return entry.pools
    .filter((p) => p.targetsAllWorkflows || p.targetedWorkflowIds.includes(workflowId))
    .map((p) => p.poolId)
    .sort();
}
