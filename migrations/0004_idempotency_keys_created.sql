-- SubmitJob prunes expired idempotency keys (created_at is epoch milliseconds) a bounded batch at a
-- time, oldest first: this index makes that a short range scan instead of a scan of the table.
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);
