-- The console's job list and tree.
-- - The step a job is at: a running top-level job's row is written again at each new step it stops
--   at (one coalesced write per alarm); a child's row as its status changes.
-- - Where a top-level job came from besides a schedule: the webhook trigger whose delivery started
--   it, or the API token that submitted it.
-- - A child's key in its parent's step (its `id`, or its forEach index) and its place there:
--   ListJobs with parentJobId lists a job's children in that order, as the step listed them.
-- NULL where it does not apply, and for jobs indexed before this migration.
ALTER TABLE jobs ADD COLUMN current_step_name TEXT;
ALTER TABLE jobs ADD COLUMN trigger_id TEXT;
ALTER TABLE jobs ADD COLUMN api_auth_token_id TEXT;
ALTER TABLE jobs ADD COLUMN child_key TEXT;
ALTER TABLE jobs ADD COLUMN child_index INTEGER;
CREATE INDEX jobs_parent_order ON jobs(parent_job_id, child_index, job_id) WHERE parent_job_id IS NOT NULL;
