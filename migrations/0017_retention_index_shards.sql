-- Issue 21. The job index, SubmitJob's idempotency keys and the metric rollups move off D1 into
-- per-organization JobIndex Durable Objects (src/job-index/); D1 keeps the registry. The old tables
-- (jobs, idempotency_keys, metric_rollups, metric_events) stay until an operator has copied them
-- over (POST /admin/migrate-job-index, docs/operating.md#moving-the-job-index-off-d1): code still reads them.
--
-- An organization's job index has a fixed number of shards, chosen when it is created (1 unless
-- said otherwise): a job's row lives in the shard of its root job, so the count can never change.
ALTER TABLE organizations ADD COLUMN job_index_shards INTEGER NOT NULL DEFAULT 1;
-- GetRetention/PutRetention: JSON {succeededSeconds, failedSeconds, cancelledSeconds}; NULL: the defaults.
ALTER TABLE organizations ADD COLUMN retention TEXT;
