/** D1 access for workflows (a named container of immutable versions, unique per organization). */
import { ConflictError, NotFoundError } from "../errors";
import { isoTime, isUuid, newId } from "../ids";
import { MAX_WORKFLOWS_PER_ORGANIZATION } from "../limits";

export interface Workflow {
  workflowId: string;
  name: string;
  createdAt: string;
}

interface WorkflowRow {
  workflow_id: string;
  organization_id: string;
  name: string;
  created_at: string;
}

const toWorkflow = (row: WorkflowRow): Workflow => ({
  workflowId: row.workflow_id,
  name: row.name,
  createdAt: row.created_at,
});

/**
 * Registers a workflow name; the database refuses a duplicate name in the organization, and one
 * past MAX_WORKFLOWS_PER_ORGANIZATION (counted in the same statement, so concurrent creations
 * cannot pass it together).
 */
export async function createWorkflow(db: D1Database, organizationId: string, name: string, now: number): Promise<Workflow> {
  const row = await db
    .prepare(
      `INSERT INTO workflows (workflow_id, organization_id, name, created_at)
       SELECT ?1, ?2, ?3, ?4 WHERE (SELECT count(*) FROM workflows WHERE organization_id = ?2) < ?5
       ON CONFLICT (organization_id, name) DO NOTHING RETURNING *`,
    )
    .bind(newId(), organizationId, name, isoTime(now), MAX_WORKFLOWS_PER_ORGANIZATION)
    .first<WorkflowRow>();
  if (row) return toWorkflow(row);
  if (await findWorkflow(db, organizationId, { workflowName: name })) throw new ConflictError(`A workflow named "${name}" already exists in this organization.`);
  throw new ConflictError(`An organization has at most ${MAX_WORKFLOWS_PER_ORGANIZATION} workflows.`);
}

/** Lists an organization's workflows. */
export async function listWorkflows(db: D1Database, organizationId: string): Promise<Workflow[]> {
  const { results } = await db
    .prepare(`SELECT * FROM workflows WHERE organization_id = ? ORDER BY created_at, workflow_id`)
    .bind(organizationId)
    .all<WorkflowRow>();
  return results.map(toWorkflow);
}

/** Reads a workflow of this organization by id, or throws NotFoundError (also for another tenant's id). */
export async function getWorkflow(db: D1Database, organizationId: string, workflowId: string): Promise<Workflow> {
  const row = await db
    .prepare(`SELECT * FROM workflows WHERE workflow_id = ? AND organization_id = ?`)
    .bind(workflowId, organizationId)
    .first<WorkflowRow>();
  if (!row) throw new NotFoundError(`Workflow ${workflowId} was not found.`);
  return toWorkflow(row);
}

/** Finds a workflow by id or name; null when neither matches. */
export async function findWorkflow(
  db: D1Database,
  organizationId: string,
  ref: { workflowId?: string; workflowName?: string },
): Promise<Workflow | null> {
  if (ref.workflowId !== undefined) {
    if (!isUuid(ref.workflowId)) return null;
    return getWorkflow(db, organizationId, ref.workflowId).catch((e: unknown) => {
      if (e instanceof NotFoundError) return null;
      throw e;
    });
  }
  if (ref.workflowName === undefined) return null;
  const row = await db
    .prepare(`SELECT * FROM workflows WHERE name = ? AND organization_id = ?`)
    .bind(ref.workflowName, organizationId)
    .first<WorkflowRow>();
  return row ? toWorkflow(row) : null;
}
