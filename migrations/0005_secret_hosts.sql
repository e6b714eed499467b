-- Secrets bound to hosts (issue 14).

-- The host patterns a secret may be sent to, as a JSON array of strings (`["api.example.com",
-- "*.example.com:443"]`); NULL: the secret is not bound and may go to any host, each first use
-- toward a host being recorded below.
ALTER TABLE organization_secrets ADD COLUMN allowed_hosts TEXT;

-- The first use of an unbound secret toward each host (`hostname:port`). The primary key makes the
-- record once across isolates: the INSERT that adds the row is the one that logs it. Deleting the
-- secret deletes its rows; a secret created again under the same key starts afresh.
CREATE TABLE secret_unbound_uses (
  organization_id TEXT NOT NULL,
  key             TEXT NOT NULL,
  host            TEXT NOT NULL,
  first_used_at   TEXT NOT NULL,
  job_id          TEXT NOT NULL,
  step_name       TEXT NOT NULL,
  PRIMARY KEY (organization_id, key, host),
  FOREIGN KEY (organization_id, key) REFERENCES organization_secrets(organization_id, key) ON DELETE CASCADE
);
