/** ListAuditLog: an organization's audit log, newest first (src/audit/). */
import { createRoute, z } from "@hono/zod-openapi";
import { auditLogStub } from "../../audit/record";
import { AUDIT_ACTIONS, type AuditPage } from "../../audit/types";
import { ValidationError } from "../../errors";
import { AUDIT_DEFAULT_PAGE_SIZE, AUDIT_MAX_PAGE_SIZE, AUDIT_RETENTION_MS } from "../../limits";
import { getOrganization } from "../../registry/organizations";
import { requireOrganization } from "../auth";
import type { App } from "../context";
import { OrgParams, errorResponses, json } from "../schemas";

const ActorSchema = z
  .object({ type: z.enum(["admin", "token"]), apiAuthTokenId: z.string().optional() })
  .openapi("AuditActor", { description: "The admin token, or an API token of the organization by its id (never the token itself)." });

const AuditEntrySchema = z
  .object({
    at: z.string(),
    actor: ActorSchema,
    action: z.enum(AUDIT_ACTIONS),
    target: z.object({ type: z.string(), id: z.string() }).openapi({ description: "What was acted on: a token, secret, job, workflow, trigger, schedule or the organization." }),
    detail: z.record(z.string(), z.unknown()).optional().openapi({
      description:
        'Names and settings that say what the action was (a secret\'s key, a token\'s name and permissions, a tag); never a secret\'s value or a token. `outcome: "unknown"` marks an action whose outcome never came back.',
    }),
  })
  .openapi("AuditEntry");

const ListAuditLogQuery = z.object({
  pageSize: z.coerce.number().int().min(1).max(AUDIT_MAX_PAGE_SIZE).default(AUDIT_DEFAULT_PAGE_SIZE),
  pageToken: z.string().min(1).max(500).optional(),
  action: z.enum(AUDIT_ACTIONS).optional(),
  targetId: z.string().min(1).max(200).optional().openapi({ description: "Extension: only entries about this target (a job's id, a secret's id, …)." }),
});

/** Registers ListAuditLog. */
export function registerAuditLogRoutes(app: App): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/organizations/{organizationId}/audit-log",
      operationId: "ListAuditLog",
      description: `Who did what, newest first: token, secret, organization, egress policy, tag, trigger, schedule and job actions. Entries are kept ${AUDIT_RETENTION_MS / 86_400_000} days.`,
      security: [{ Bearer: [] }],
      request: { params: OrgParams, query: ListAuditLogQuery },
      responses: {
        200: json(z.object({ entries: z.array(AuditEntrySchema), nextPageToken: z.string().optional() }).openapi("AuditLogPage")),
        ...errorResponses("ValidationError", "AuthenticationError", "AuthorizationError", "NotFoundError"),
      },
    }),
    async (c) => {
      const { organizationId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      await getOrganization(c.env.DB, organizationId);
      const q = c.req.valid("query");
      const page = (await auditLogStub(c.env, organizationId).list({
        pageSize: q.pageSize,
        ...(q.pageToken !== undefined ? { pageToken: q.pageToken } : {}),
        ...(q.action !== undefined ? { action: q.action } : {}),
        ...(q.targetId !== undefined ? { targetId: q.targetId } : {}),
      })) as { ok: true; value: AuditPage } | { ok: false; error: string };
      if (!page.ok) throw new ValidationError(page.error, [`pageToken: ${page.error}`], { pageToken: page.error });
      return c.json(page.value, 200);
    },
  );
}
