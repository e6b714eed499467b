-- Canopy registry: organizations, API tokens, workflows, immutable versions, tags, and the job index.
-- Uniqueness lives here, not only in code: D1 enforces it under concurrency.

CREATE TABLE organizations (
  organization_id TEXT PRIMARY KEY,
  name            TEXT NOT NULL,
  key             TEXT NOT NULL UNIQUE,
  display_name    TEXT NOT NULL,
  created_at      TEXT NOT NULL
);

-- Only the SHA-256 of a token is stored; the token itself is shown once at creation.
CREATE TABLE api_tokens (
  api_auth_token_id TEXT PRIMARY KEY,
  organization_id   TEXT NOT NULL REFERENCES organizations(organization_id),
  name              TEXT NOT NULL,
  token_hash        TEXT NOT NULL UNIQUE,
  permissions       TEXT,
  created_at        TEXT NOT NULL,
  expires_at        TEXT,
  revoked_at        TEXT
);
CREATE INDEX api_tokens_org ON api_tokens(organization_id);

CREATE TABLE workflows (
  workflow_id     TEXT PRIMARY KEY,
  organization_id TEXT NOT NULL REFERENCES organizations(organization_id),
  name            TEXT NOT NULL,
  created_at      TEXT NOT NULL,
  UNIQUE (organization_id, name)
);

CREATE TABLE workflow_versions (
  version_id     TEXT PRIMARY KEY,
  workflow_id    TEXT NOT NULL REFERENCES workflows(workflow_id),
  version_number INTEGER NOT NULL,
  definition     TEXT NOT NULL,
  created_at     TEXT NOT NULL,
  UNIQUE (workflow_id, version_number)
);

-- Versions are immutable: the database refuses any change to a stored one.
CREATE TRIGGER workflow_versions_immutable BEFORE UPDATE ON workflow_versions
BEGIN
  SELECT RAISE(ABORT, 'workflow versions are immutable');
END;

CREATE TABLE workflow_tags (
  workflow_id TEXT NOT NULL REFERENCES workflows(workflow_id),
  tag         TEXT NOT NULL,
  version_id  TEXT NOT NULL REFERENCES workflow_versions(version_id),
  updated_at  TEXT NOT NULL,
  PRIMARY KEY (workflow_id, tag)
);

-- The searchable job index. Each job's Durable Object is the source of truth and writes its row
-- at every status change; `index_seq` only grows, so a late retry never overwrites newer facts.
CREATE TABLE jobs (
  job_id                 TEXT PRIMARY KEY,
  organization_id        TEXT NOT NULL,
  workflow_id            TEXT NOT NULL,
  workflow_name          TEXT NOT NULL,
  version_id             TEXT NOT NULL,
  version_number         INTEGER NOT NULL,
  status                 TEXT NOT NULL,
  submitted_by_user      TEXT NOT NULL,
  parent_job_id          TEXT,
  parent_step_name       TEXT,
  root_job_id            TEXT NOT NULL,
  run_number             INTEGER NOT NULL DEFAULT 1,
  created_at             TEXT NOT NULL,
  updated_at             TEXT NOT NULL,
  started_at             TEXT,
  finished_at            TEXT,
  billable_units         INTEGER NOT NULL DEFAULT 0,
  error                  TEXT,
  index_seq              INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jobs_org_created ON jobs(organization_id, created_at DESC, job_id DESC);
CREATE INDEX jobs_org_status ON jobs(organization_id, status, created_at DESC);
CREATE INDEX jobs_parent ON jobs(parent_job_id);

-- SubmitJob idempotency: one job per (organization, key) within the window.
CREATE TABLE idempotency_keys (
  organization_id TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  job_id          TEXT NOT NULL,
  created_at      INTEGER NOT NULL,
  PRIMARY KEY (organization_id, idempotency_key)
);
