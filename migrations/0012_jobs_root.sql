-- A job's whole tree by its root: the console pages it (ListJobs rootJobId) and a schedule's
-- CANCEL_OTHER waits until no job of the cancelled tree is unfinished. Without this index both
-- scan every row of the organization.
CREATE INDEX jobs_root ON jobs(root_job_id, status);
