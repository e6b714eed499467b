-- Resource pools (JustWorkflowIt's concurrency limits): at most `worker_limit` running jobs of the
-- pool's workflows at once, across the organization. This row is the pool's configuration; its
-- leases and queue live in the pool's Durable Object (ResourcePool), named by `pool_id`.
CREATE TABLE resource_pools (
  pool_id               TEXT PRIMARY KEY,
  organization_id       TEXT NOT NULL REFERENCES organizations(organization_id),
  name                  TEXT NOT NULL,
  worker_limit          INTEGER NOT NULL,
  -- 1: every workflow of the organization; 0: only those in targeted_workflow_ids.
  targets_all_workflows INTEGER NOT NULL,
  -- A JSON array of workflow ids.
  targeted_workflow_ids TEXT NOT NULL,
  created_at            TEXT NOT NULL,
  updated_at            TEXT NOT NULL,
  UNIQUE (organization_id, name)
);
