-- Webhook triggers and their deliveries.

-- A trigger binds a workflow and a version selector to a signature scheme. The signing secret is
-- stored sealed (AES-GCM, associated data naming the trigger), never in plain text. Deleting a
-- trigger sets deleted_at: deliveries to it are refused from then on.
CREATE TABLE webhook_triggers (
  trigger_id            TEXT PRIMARY KEY,
  organization_id       TEXT NOT NULL REFERENCES organizations(organization_id),
  name                  TEXT NOT NULL,
  workflow_id           TEXT NOT NULL REFERENCES workflows(workflow_id),
  workflow_version      TEXT NOT NULL,                 -- the version selector, JSON
  scheme                TEXT NOT NULL CHECK (scheme IN ('standard-webhooks', 'github')),
  sealed_secret         TEXT NOT NULL,
  input_transformer     TEXT,                          -- JSON, or NULL: the body is the input
  rate_limit_per_second INTEGER,                       -- NULL: the default rate
  created_at            TEXT NOT NULL,
  deleted_at            TEXT
);
CREATE INDEX webhook_triggers_org ON webhook_triggers(organization_id, created_at);

-- One row per accepted delivery. The primary key decides replays: the first INSERT wins, a
-- repeated (trigger, delivery id) conflicts and is answered with the stored job id.
-- Rows are kept at least 24 h, then pruned (created_at is epoch milliseconds).
CREATE TABLE webhook_deliveries (
  trigger_id  TEXT NOT NULL,
  delivery_id TEXT NOT NULL,
  job_id      TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  PRIMARY KEY (trigger_id, delivery_id)
);
CREATE INDEX webhook_deliveries_created ON webhook_deliveries(created_at);
