-- Organization secrets: credentials executors read at call time (AWS keys, a Google service-account
-- key, HTTP auth headers). The value is stored sealed (AES-GCM with the SECRETS_KEY Worker secret,
-- associated data naming the organization and key), never in plain text, and no route returns it.
CREATE TABLE organization_secrets (
  organization_id TEXT NOT NULL REFERENCES organizations(organization_id),
  key             TEXT NOT NULL,
  description     TEXT,
  sealed_value    TEXT NOT NULL,
  created_at      TEXT NOT NULL,
  updated_at      TEXT NOT NULL,
  PRIMARY KEY (organization_id, key)
);
