-- Secrets key rotation (src/crypto/seal.ts, src/crypto/reseal.ts): each sealed value names the key
-- it was sealed under (`v2.<keyId>.…`); values sealed before that (`v1.…`) name none ('').
-- A virtual generated column per sealed column, indexed, so that ResealSecrets finds and counts the
-- values under old keys by index ranges instead of reading every row of every table on every call.
ALTER TABLE organization_secrets ADD COLUMN sealed_key_id TEXT
  GENERATED ALWAYS AS (CASE WHEN substr(sealed_value, 1, 3) = 'v2.' THEN substr(sealed_value, 4, 16) ELSE '' END) VIRTUAL;
CREATE INDEX organization_secrets_sealed_key_id ON organization_secrets (sealed_key_id);

ALTER TABLE webhook_triggers ADD COLUMN sealed_key_id TEXT
  GENERATED ALWAYS AS (CASE WHEN substr(sealed_secret, 1, 3) = 'v2.' THEN substr(sealed_secret, 4, 16) ELSE '' END) VIRTUAL;
CREATE INDEX webhook_triggers_sealed_key_id ON webhook_triggers (sealed_key_id);

ALTER TABLE notification_settings ADD COLUMN sealed_key_id TEXT
  GENERATED ALWAYS AS (CASE WHEN substr(sealed_secret, 1, 3) = 'v2.' THEN substr(sealed_secret, 4, 16) ELSE '' END) VIRTUAL;
CREATE INDEX notification_settings_sealed_key_id ON notification_settings (sealed_key_id);
