/**
 * GetRetention/PutRetention (API.md, "Job lifecycle"): how long a top-level job and its whole tree
 * are kept once the root has ended, per status. A change applies to jobs that end from then on.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { actorOf, audited } from "../../audit/record";
import { ValidationError } from "../../errors";
import { DEFAULT_RETENTION_SECONDS, MAX_RETENTION_SECONDS, MIN_RETENTION_SECONDS } from "../../limits";
import { getRetention, putRetention } from "../../registry/retention";
import { requireOrganization } from "../auth";
import type { App } from "../context";
import { OrgParams, errorResponses, json, jsonBody } from "../schemas";

const Seconds = z.number().int().min(MIN_RETENTION_SECONDS).max(MAX_RETENTION_SECONDS);

const RetentionSchema = z
  .object({
    succeededSeconds: Seconds,
    failedSeconds: Seconds,
    cancelledSeconds: Seconds,
  })
  .openapi("Retention", {
    description: `Seconds a top-level job and its tree are kept after the root ended, per status (${MIN_RETENTION_SECONDS} to ${MAX_RETENTION_SECONDS}; default ${DEFAULT_RETENTION_SECONDS}, 30 days). Metric rollups stay.`,
  });

const PutRetentionBody = RetentionSchema.partial().strict().openapi("PutRetentionRequest");

const security = [{ Bearer: [] }];

/** Registers the retention routes. */
export function registerRetentionRoutes(app: App): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/organizations/{organizationId}/retention",
      operationId: "GetRetention",
      security,
      request: { params: OrgParams },
      responses: { 200: json(RetentionSchema), ...errorResponses("AuthenticationError", "AuthorizationError", "NotFoundError") },
    }),
    async (c) => {
      const { organizationId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      return c.json(await getRetention(c.env.DB, organizationId), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/organizations/{organizationId}/retention",
      operationId: "PutRetention",
      description: "Changes any of the three periods and answers the whole setting. It applies to jobs that end from then on; a job that ended before keeps the deadline it got then.",
      security,
      request: { params: OrgParams, ...jsonBody(PutRetentionBody) },
      responses: { 200: json(RetentionSchema), ...errorResponses("ValidationError", "AuthenticationError", "AuthorizationError", "NotFoundError") },
    }),
    async (c) => {
      const { organizationId } = c.req.valid("param");
      const caller = requireOrganization(c, organizationId);
      const change = c.req.valid("json");
      if (Object.keys(change).length === 0) {
        throw new ValidationError("Give at least one of succeededSeconds, failedSeconds, cancelledSeconds.", ["body: empty"]);
      }
      // The entry is written ahead of the D1 write and says what changed (src/audit/record.ts).
      const entry = { actor: actorOf(caller), action: "retention.update" as const, target: { type: "organization", id: organizationId }, detail: { ...change } };
      return c.json(await audited(c.env, organizationId, entry, () => putRetention(c.env.DB, organizationId, change)), 200);
    },
  );
}
