/** D1 access for immutable workflow versions and their tags. */
import { NotFoundError } from "../errors";
import { isoTime, isUuid, newId } from "../ids";

export interface WorkflowVersion {
  workflowId: string;
  versionId: string;
  versionNumber: number;
  /** The definition exactly as stored: a JSON string. */
  definition: string;
  createdAt: string;
  tags: string[];
}

/** How a caller names a version (API.md: exactly one of tag, versionId, versionNumber). */
export type VersionSelector = { tag: string } | { versionId: string } | { versionNumber: number };

interface VersionRow {
  version_id: string;
  workflow_id: string;
  version_number: number;
  definition: string;
  created_at: string;
  tags: string | null;
}

const toVersion = (row: VersionRow): WorkflowVersion => ({
  workflowId: row.workflow_id,
  versionId: row.version_id,
  versionNumber: row.version_number,
  definition: row.definition,
  createdAt: row.created_at,
  tags: row.tags ? row.tags.split(",").sort() : [],
});

const SELECT_VERSION = `
  SELECT v.*, (SELECT group_concat(t.tag) FROM workflow_tags t WHERE t.version_id = v.version_id) AS tags
  FROM workflow_versions v`;

/**
 * Stores a new version. The number is computed inside the INSERT itself, so two concurrent
 * registrations cannot take the same number (and the UNIQUE constraint backs that up).
 */
export async function createVersion(
  db: D1Database,
  workflowId: string,
  definition: string,
  now: number,
): Promise<WorkflowVersion> {
  const row = await db
    .prepare(
      `INSERT INTO workflow_versions (version_id, workflow_id, version_number, definition, created_at)
       SELECT ?1, ?2, COALESCE(MAX(version_number), 0) + 1, ?3, ?4 FROM workflow_versions WHERE workflow_id = ?2
       RETURNING *, NULL AS tags`,
    )
    .bind(newId(), workflowId, definition, isoTime(now))
    .first<VersionRow>();
  return toVersion(row!);
}

/**
 * A page of a workflow's versions, oldest first, after version number `after`: at most `limit`
 * versions and, past the first, no more than `maxChars` characters of definitions in all (each is
 * up to 1 MiB, so a page of them is bounded by bytes, not by count). The sizes are read first and
 * only the definitions that fit are read. `next`: the number to page on from, when more are left.
 */
export async function listVersions(
  db: D1Database,
  workflowId: string,
  page: { after: number; limit: number; maxChars: number },
): Promise<{ versions: WorkflowVersion[]; next?: number }> {
  const { results } = await db
    .prepare(
      `WITH page AS (
         SELECT version_id, version_number, length(definition) AS size FROM workflow_versions
         WHERE workflow_id = ?1 AND version_number > ?2 ORDER BY version_number LIMIT ?3 + 1),
       sized AS (
         SELECT version_id, ROW_NUMBER() OVER (ORDER BY version_number) AS n,
           SUM(size) OVER (ORDER BY version_number ROWS UNBOUNDED PRECEDING) AS running FROM page)
       SELECT v.*, (SELECT group_concat(t.tag) FROM workflow_tags t WHERE t.version_id = v.version_id) AS tags,
         (SELECT count(*) FROM page) AS listed
       FROM sized JOIN workflow_versions v ON v.version_id = sized.version_id
       WHERE sized.n <= ?3 AND (sized.n = 1 OR sized.running <= ?4) ORDER BY v.version_number`,
    )
    .bind(workflowId, page.after, page.limit, page.maxChars)
    .all<VersionRow & { listed: number }>();
  const versions = results.map(toVersion);
  const more = results.length > 0 && results[0]!.listed > results.length;
  return more ? { versions, next: versions[versions.length - 1]!.versionNumber } : { versions };
}

/** Resolves a selector to a version of this workflow, or throws NotFoundError. */
export async function resolveVersion(
  db: D1Database,
  workflowId: string,
  selector: VersionSelector,
): Promise<WorkflowVersion> {
  let row: VersionRow | null;
  if ("tag" in selector) {
    row = await db
      .prepare(
        `${SELECT_VERSION} JOIN workflow_tags wt ON wt.version_id = v.version_id
         WHERE wt.workflow_id = ? AND wt.tag = ?`,
      )
      .bind(workflowId, selector.tag)
      .first<VersionRow>();
    if (!row) throw new NotFoundError(`Tag ${selector.tag} is not set on workflow ${workflowId}.`);
  } else if ("versionId" in selector) {
    row = isUuid(selector.versionId)
      ? await db
          .prepare(`${SELECT_VERSION} WHERE v.workflow_id = ? AND v.version_id = ?`)
          .bind(workflowId, selector.versionId)
          .first<VersionRow>()
      : null;
    if (!row) throw new NotFoundError(`Version ${selector.versionId} was not found.`);
  } else {
    row = await db
      .prepare(`${SELECT_VERSION} WHERE v.workflow_id = ? AND v.version_number = ?`)
      .bind(workflowId, selector.versionNumber)
      .first<VersionRow>();
    if (!row) throw new NotFoundError(`Version number ${selector.versionNumber} was not found.`);
  }
  return toVersion(row);
}

/**
 * Points a tag at a version of the same workflow in one statement: the upsert either moves the
 * tag or, when the version is not this workflow's, changes nothing. Returns false in that case.
 * The caller forgets the tag's cached target (`forgetTag`): this module knows nothing of caches.
 */
export async function setTag(
  db: D1Database,
  workflowId: string,
  tag: string,
  versionId: string,
  now: number,
): Promise<boolean> {
  if (!isUuid(versionId)) return false;
  const result = await db
    .prepare(
      `INSERT INTO workflow_tags (workflow_id, tag, version_id, updated_at)
       SELECT workflow_id, ?1, version_id, ?2 FROM workflow_versions WHERE version_id = ?3 AND workflow_id = ?4
       ON CONFLICT (workflow_id, tag) DO UPDATE SET version_id = excluded.version_id, updated_at = excluded.updated_at`,
    )
    .bind(tag, isoTime(now), versionId, workflowId)
    .run();
  return result.meta.changes > 0;
}
