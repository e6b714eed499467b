-- Schedules: each schedule's Durable Object (ScheduleObject) owns its spec and firing state and
-- writes this row, the searchable copy that ListSchedules reads. `index_seq` only grows, so a late
-- retry of an older write never overwrites a newer one.
CREATE TABLE schedules (
  schedule_id     TEXT PRIMARY KEY,
  organization_id TEXT NOT NULL,
  workflow_id     TEXT NOT NULL,
  spec            TEXT NOT NULL,
  paused          INTEGER NOT NULL DEFAULT 0,
  note            TEXT,
  created_at      TEXT NOT NULL,
  updated_at      TEXT NOT NULL,
  index_seq       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX schedules_org_created ON schedules(organization_id, created_at, schedule_id);

-- Jobs started by a schedule carry its id; ListJobs filters on it.
ALTER TABLE jobs ADD COLUMN schedule_id TEXT;
CREATE INDEX jobs_org_schedule ON jobs(organization_id, schedule_id, created_at DESC, job_id DESC) WHERE schedule_id IS NOT NULL;
