-- GitHub replay protection. GitHub signs only the body (X-GitHub-Delivery is not signed), so a
-- captured delivery resent with a fresh delivery id verifies. One row per accepted GitHub body: a
-- signed body whose SHA-256 is already here for the trigger, and younger than the window, is a
-- replay and is answered with the stored job. The primary key decides between racing duplicates
-- (INSERT … ON CONFLICT); an expired row is taken over by the next claim, and rows are pruned a
-- bounded batch at a time (created_at is epoch milliseconds).
CREATE TABLE webhook_bodies (
  trigger_id  TEXT NOT NULL,
  body_sha256 TEXT NOT NULL,                           -- lower-case hex of the raw body's SHA-256
  job_id      TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  PRIMARY KEY (trigger_id, body_sha256)
);
CREATE INDEX webhook_bodies_created ON webhook_bodies(created_at);
