/**
 * What a submission runs: its workflow and the version its selector names, read in ONE D1 query
 * and then served from this isolate's memory. Versions are immutable, so a version read by id or
 * number is kept as long as the isolate lives (within a size budget). A tag can move and a
 * workflow's organization can be deleted, so those are kept for at most REGISTRY_CACHE_MS; a tag
 * moved through this isolate is forgotten here at once (see `forgetTag`).
 */
import { NotFoundError } from "../errors";
import { poolsForWorkflow } from "./resource-pools";
import { organizationIndex } from "./organizations";
import { isUuid } from "../ids";
import { REGISTRY_CACHE_MS, TtlCache } from "./ttl-cache";
import type { VersionSelector } from "./versions";
import type { Workflow } from "./workflows";

/** The parts of a version a job is started with. */
export interface PinnedVersion {
  versionId: string;
  versionNumber: number;
  /** The definition exactly as stored: a JSON string. */
  definition: string;
}

export interface SubmissionTarget {
  workflow: Workflow;
  version: PinnedVersion;
  /** The resource pools a job of this workflow waits for (src/registry/resource-pools.ts), sorted. */
  resourcePoolIds?: string[];
  /** The shard count of the organization's job index (absent: 1). */
  indexShards?: number;
}

export type WorkflowRef = { workflowId: string } | { workflowName: string };

/** Definitions above this size are not kept in memory: 200 of them stay under 13 MB of the isolate's 128 MB. */
const MAX_CACHED_DEFINITION_CHARS = 64 * 1024;

const workflows = new TtlCache<Workflow>(REGISTRY_CACHE_MS, 1_000);
const versions = new TtlCache<PinnedVersion>(Infinity, 200);
const tags = new TtlCache<string>(REGISTRY_CACHE_MS, 1_000);

const workflowKey = (organizationId: string, ref: WorkflowRef) =>
  "workflowId" in ref ? `${organizationId}|id|${ref.workflowId}` : `${organizationId}|name|${ref.workflowName}`;

const versionKey = (workflowId: string, selector: { versionId: string } | { versionNumber: number }) =>
  "versionId" in selector ? `${workflowId}|id|${selector.versionId}` : `${workflowId}|n|${selector.versionNumber}`;

const tagKey = (workflowId: string, tag: string) => `${workflowId}|${tag}`;

/** Forgets where a tag pointed, after it was moved through this isolate. */
export function forgetTag(workflowId: string, tag: string): void {
  tags.delete(tagKey(workflowId, tag));
}

function cachedTarget(organizationId: string, ref: WorkflowRef, selector: VersionSelector): SubmissionTarget | undefined {
  const workflow = workflows.get(workflowKey(organizationId, ref));
  if (!workflow) return undefined;
  let pinned: { versionId: string } | { versionNumber: number };
  if ("tag" in selector) {
    const versionId = tags.get(tagKey(workflow.workflowId, selector.tag));
    if (versionId === undefined) return undefined;
    pinned = { versionId };
  } else {
    pinned = selector;
  }
  const version = versions.get(versionKey(workflow.workflowId, pinned));
  return version && { workflow, version };
}

interface TargetRow {
  workflow_id: string;
  name: string;
  created_at: string;
  version_id: string | null;
  version_number: number | null;
  definition: string | null;
}

/**
 * Resolves a submission's workflow and version, or throws NotFoundError naming which one is
 * missing. Warm, it costs no D1 query; cold, one.
 */
export async function resolveSubmissionTarget(
  db: D1Database,
  organizationId: string,
  ref: WorkflowRef,
  selector: VersionSelector,
): Promise<SubmissionTarget> {
  const target = await resolveWorkflowVersion(db, organizationId, ref, selector);
  // Its own cache: an organization without pools costs one small query per isolate per few seconds.
  const [resourcePoolIds, index] = await Promise.all([poolsForWorkflow(db, organizationId, target.workflow.workflowId), organizationIndex(db, organizationId)]);
  return { ...target, ...(resourcePoolIds.length > 0 ? { resourcePoolIds } : {}), ...(index.shards > 1 ? { indexShards: index.shards } : {}) };
}

async function resolveWorkflowVersion(db: D1Database, organizationId: string, ref: WorkflowRef, selector: VersionSelector): Promise<SubmissionTarget> {
  const now = Date.now();
  const cached = cachedTarget(organizationId, ref, selector);
  if (cached) return cached;

  const refName = "workflowId" in ref ? ref.workflowId : ref.workflowName;
  if ("workflowId" in ref && !isUuid(ref.workflowId)) throw new NotFoundError(`Workflow ${refName} was not found.`);
  if ("versionId" in selector && !isUuid(selector.versionId)) throw new NotFoundError(`Version ${selector.versionId} was not found.`);
  const versionCondition =
    "tag" in selector
      ? "v.version_id = (SELECT t.version_id FROM workflow_tags t WHERE t.workflow_id = w.workflow_id AND t.tag = ?3)"
      : "versionId" in selector
        ? "v.version_id = ?3"
        : "v.version_number = ?3";
  const selectorValue = "tag" in selector ? selector.tag : "versionId" in selector ? selector.versionId : selector.versionNumber;
  const row = await db
    .prepare(
      `SELECT w.workflow_id, w.name, w.created_at, v.version_id, v.version_number, v.definition
       FROM workflows w LEFT JOIN workflow_versions v ON v.workflow_id = w.workflow_id AND ${versionCondition}
       WHERE w.organization_id = ?1 AND ${"workflowId" in ref ? "w.workflow_id" : "w.name"} = ?2`,
    )
    .bind(organizationId, refName, selectorValue)
    .first<TargetRow>();
  if (!row) throw new NotFoundError(`Workflow ${refName} was not found.`);

  const workflow: Workflow = { workflowId: row.workflow_id, name: row.name, createdAt: row.created_at };
  workflows.set(workflowKey(organizationId, ref), workflow, now);
  if (row.version_id === null || row.version_number === null || row.definition === null) {
    if ("tag" in selector) throw new NotFoundError(`Tag ${selector.tag} is not set on workflow ${workflow.workflowId}.`);
    if ("versionId" in selector) throw new NotFoundError(`Version ${selector.versionId} was not found.`);
    throw new NotFoundError(`Version number ${selector.versionNumber} was not found.`);
  }
  const version: PinnedVersion = { versionId: row.version_id, versionNumber: row.version_number, definition: row.definition };
  if ("tag" in selector) tags.set(tagKey(workflow.workflowId, selector.tag), version.versionId, now);
  if (version.definition.length <= MAX_CACHED_DEFINITION_CHARS) {
    versions.set(versionKey(workflow.workflowId, { versionId: version.versionId }), version, now);
    versions.set(versionKey(workflow.workflowId, { versionNumber: version.versionNumber }), version, now);
  }
  return { workflow, version };
}
