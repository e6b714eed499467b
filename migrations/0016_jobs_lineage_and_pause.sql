-- Time travel in the job index (docs/time-travel.md), for the console's job list and tree:
-- - A rerun's source and the step it began at (RerunJob, RerunJobs), so ListJobs can list a job's
--   reruns (`rerunOf`) and each listed rerun says what it reruns. Written once, when the rerun is
--   created.
-- - Whether the job is paused now (PauseJob, or a paused ancestor): 1 or NULL. Written again when
--   the pause changes, as at a status change.
-- NULL for jobs indexed before this migration, and where it does not apply.
ALTER TABLE jobs ADD COLUMN rerun_of_job_id TEXT;
ALTER TABLE jobs ADD COLUMN rerun_from_step TEXT;
ALTER TABLE jobs ADD COLUMN paused INTEGER;
-- A job's reruns: without it, ListJobs rerunOf scans every row of the organization.
CREATE INDEX jobs_rerun_of ON jobs(rerun_of_job_id, created_at) WHERE rerun_of_job_id IS NOT NULL;
