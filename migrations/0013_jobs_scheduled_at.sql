-- A job started by a schedule shows the firing's nominal fire time (`scheduledAt`) beside its
-- `scheduleId` in ListJobs, as GetJob does; the job's input no longer carries it. Written once, with
-- the job's first row, like schedule_id; NULL for every other job.
ALTER TABLE jobs ADD COLUMN scheduled_at TEXT;
