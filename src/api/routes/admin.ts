/**
 * Operator routes (admin token only, outside any organization): the encryption keys' ids and
 * ResealSecrets, the two steps of a SECRETS_KEY rotation that run inside the Worker
 * (docs/security.md#rotating-secrets_key), and MigrateJobIndex, which copies the job index D1 held
 * into the per-organization JobIndex objects (docs/operating.md#moving-the-job-index-off-d1).
 */
import { createRoute, z } from "@hono/zod-openapi";
import { sealingKeys } from "../../crypto/seal";
import { ConflictError } from "../../errors";
import { migrateLegacyIndex } from "../../job-index/migrate";
import { LEGACY_INDEX_MIGRATION_BATCH } from "../../limits";
import { resealSecrets } from "../../registry/reseal-secrets";
import type { App } from "../context";
import { errorResponses, json } from "../schemas";

const security = [{ Bearer: [] }];
const Counts = z.object({ jobs: z.number().int(), rollups: z.number().int(), keys: z.number().int() });
const KeyId = z.string().regex(/^[0-9a-f]{16}$/, "A key id is 16 lower-case hex digits (GET /admin/secrets-key).");

const ResealBody = z
  .object({
    keyId: KeyId.optional().openapi({
      description:
        "Extension: the id of the key the caller expects values to be sealed under. An isolate that still runs with another SECRETS_KEY " +
        "(a new secret takes moments to reach every isolate) answers 409 and reseals nothing.",
    }),
  })
  .strict()
  .openapi("ResealSecretsRequest");

const ResealAnswer = z
  .object({
    resealed: z.number().int().openapi({ description: "Values this call sealed again under the current key." }),
    remainingUnderOldKeys: z.number().int().openapi({ description: "Values still under an older key this deployment has: call again until 0." }),
    unreadable: z.number().int().openapi({
      description: "Extension: values under a key this deployment does not have. They stay as they are and cannot be read; their secrets must be set again.",
    }),
    keyId: z.string().openapi({ description: "Extension: the id of the current key (SECRETS_KEY)." }),
  })
  .openapi("ResealSecretsResult");

/** Registers /admin/secrets-key, /admin/reseal-secrets and /admin/migrate-job-index. */
export function registerAdminRoutes(app: App): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/admin/secrets-key",
      operationId: "GetSecretsKeyIds",
      description:
        "Extension, admin token only: the id of the key that seals (SECRETS_KEY) and of those that only open (SECRETS_KEY_PREVIOUS). " +
        "An id is an HMAC of the key, so it identifies a key without revealing it; `npm run deploy -- --rotate-secrets-key` checks keys by it.",
      security,
      responses: {
        200: json(z.object({ keyId: z.string(), previousKeyIds: z.array(z.string()) }).openapi("SecretsKeyIds")),
        ...errorResponses("AuthenticationError", "AuthorizationError"),
      },
    }),
    async (c) => {
      const { current, previous } = await sealingKeys(c.env);
      return c.json({ keyId: current.id, previousKeyIds: previous.map((k) => k.id) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/admin/reseal-secrets",
      operationId: "ResealSecrets",
      description:
        "Admin token only. Seals stored secrets (organization secrets, webhook signing secrets, notification secrets) again under the current " +
        "key, a bounded batch per call; call until remainingUnderOldKeys is 0, then SECRETS_KEY_PREVIOUS may be removed.",
      security,
      request: { body: { required: false, content: { "application/json": { schema: ResealBody } } } },
      responses: { 200: json(ResealAnswer), ...errorResponses("ValidationError", "AuthenticationError", "AuthorizationError", "ConflictError") },
    }),
    async (c) => {
      const { keyId } = (c.req.valid("json") ?? {}) as z.infer<typeof ResealBody>;
      if (keyId !== undefined) {
        const { current } = await sealingKeys(c.env);
        if (current.id !== keyId) {
          throw new ConflictError(`This isolate seals under key ${current.id}, not ${keyId}: a new SECRETS_KEY may still be reaching every isolate. Nothing was resealed; retry in a moment.`);
        }
      }
      return c.json(await resealSecrets(c.env), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/admin/migrate-job-index",
      operationId: "MigrateJobIndex",
      description:
        `Admin token only. Copies up to ${LEGACY_INDEX_MIGRATION_BATCH} rows of each table of the job index D1 held before it moved to per-organization ` +
        "Durable Objects (jobs, idempotency keys, metric rollups) into those objects, deletes them from D1, and says how many remain. " +
        "Call it until every `remaining` count is 0 (docs/operating.md#moving-the-job-index-off-d1). Safe to repeat.",
      security,
      request: {
        query: z.object({
          batch: z.coerce.number().int().min(1).max(LEGACY_INDEX_MIGRATION_BATCH).optional().openapi({ description: `Rows per table this call copies (default and at most ${LEGACY_INDEX_MIGRATION_BATCH}).` }),
        }),
      },
      responses: {
        200: json(
          z.object({
            copied: Counts,
            dropped: z.object({ deletedOrganizations: z.number().int(), eventKeys: z.number().int(), expiredKeys: z.number().int() }),
            remaining: Counts.extend({ eventKeys: z.number().int() }),
          }),
        ),
        ...errorResponses("ValidationError", "AuthenticationError", "AuthorizationError"),
      },
    }),
    async (c) => c.json(await migrateLegacyIndex(c.env, Date.now(), c.req.valid("query").batch), 200),
  );
}
