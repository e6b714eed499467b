-- Workflow metrics: hour rollups written by jobs' Durable Objects as jobs and steps end, and the
-- keys of the events already counted (a retried flush counts nothing twice). Day buckets are sums
-- of hour rows. Values are seconds, units or 1 (a count); avg = total / n.
CREATE TABLE metric_rollups (
  organization_id TEXT NOT NULL,
  metric TEXT NOT NULL,
  hour_start INTEGER NOT NULL, -- epoch ms, a multiple of 3,600,000
  workflow_id TEXT NOT NULL,
  n INTEGER NOT NULL,
  total REAL NOT NULL,
  peak REAL NOT NULL,
  PRIMARY KEY (organization_id, metric, hour_start, workflow_id)
) WITHOUT ROWID;

CREATE TABLE metric_events (
  event_key TEXT PRIMARY KEY,
  recorded_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX metric_events_by_time ON metric_events (recorded_at);

-- Notifications (ListNotifications). A raise with a dedupe key makes one row however often it is
-- raised: the id derives from (organization, dedupe key).
CREATE TABLE notifications (
  notification_id TEXT PRIMARY KEY,
  organization_id TEXT NOT NULL,
  type TEXT NOT NULL,
  severity TEXT NOT NULL,
  title TEXT NOT NULL,
  message TEXT NOT NULL,
  resource_id TEXT,
  dedupe_key TEXT,
  read INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL
);
CREATE INDEX notifications_by_org ON notifications (organization_id, created_at);
CREATE INDEX notifications_unread ON notifications (organization_id, read);

-- An organization's outbound notification URL and its Standard Webhooks secret (sealed).
CREATE TABLE notification_settings (
  organization_id TEXT PRIMARY KEY,
  url TEXT NOT NULL,
  sealed_secret TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
