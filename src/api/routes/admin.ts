/**
 * Operations only the admin token may call, outside any organization. Each is authenticated here,
 * path by path (the tenant routes are guarded by their /organizations prefix).
 */
import { createRoute, z } from "@hono/zod-openapi";
import { migrateLegacyIndex } from "../../job-index/migrate";
import { LEGACY_INDEX_MIGRATION_BATCH } from "../../limits";
import { authenticate, requireAdmin } from "../auth";
import type { App } from "../context";
import { errorResponses, json } from "../schemas";

const Counts = z.object({ jobs: z.number().int(), rollups: z.number().int(), keys: z.number().int() });

/** Registers the admin routes. */
export function registerAdminRoutes(app: App): void {
  app.use("/admin/migrate-job-index", authenticate, async (c, next) => {
    requireAdmin(c);
    await next();
  });
  app.openapi(
    createRoute({
      method: "post",
      path: "/admin/migrate-job-index",
      operationId: "MigrateJobIndex",
      description:
        `Admin token only. Copies up to ${LEGACY_INDEX_MIGRATION_BATCH} rows of each table of the job index D1 held before it moved to per-organization ` +
        "Durable Objects (jobs, idempotency keys, metric rollups) into those objects, deletes them from D1, and says how many remain. " +
        "Call it until every `remaining` count is 0 (docs/operating.md#moving-the-job-index-off-d1). Safe to repeat.",
      security: [{ Bearer: [] }],
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
