-- JustWorkflowIt parity (issue 13): organizations that can be deleted, secrets addressed by id.

-- A deleted organization is unreadable at once: every lookup filters on deleted_at IS NULL, its
-- tokens are revoked and its triggers deleted in the same batch, and an OrganizationReaper Durable
-- Object cancels its running jobs afterwards. Its key is renamed so that the key can be used again.
ALTER TABLE organizations ADD COLUMN deleted_at TEXT;

-- Secrets get the id the client addresses them by. Existing secrets get a random v4 UUID here;
-- new ones get theirs from the Worker. Replacing a value keeps the id; delete and create gives a new one.
ALTER TABLE organization_secrets ADD COLUMN secret_id TEXT;
UPDATE organization_secrets SET secret_id =
  lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-' ||
  substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))
WHERE secret_id IS NULL;
CREATE UNIQUE INDEX organization_secrets_id ON organization_secrets(secret_id);

-- The reaper of a deleted organization reads its unfinished top-level jobs in this order, a page at a time.
CREATE INDEX jobs_org_unfinished ON jobs(organization_id, created_at, job_id) WHERE parent_job_id IS NULL AND status IN ('PENDING', 'RUNNING');
