-- An organization's egress allowlist: a JSON array of host patterns ("api.example.com",
-- "*.example.com") every executor call must match, or NULL for no allowlist (any public https host).
-- Executors read it at call time, so a change applies to the next call of every running job.
ALTER TABLE organizations ADD COLUMN egress_allowed_hosts TEXT;
