/** Organizations: create, read, list, update and delete. */
import { createRoute, z } from "@hono/zod-openapi";
import { unwrap } from "../../errors";
import { MAX_JOB_INDEX_SHARDS } from "../../limits";
import { ORGANIZATION_KEY_PATTERN, createOrganization, getOrganization, listOrganizations, updateOrganization } from "../../registry/organizations";
import { forgetOrganizationTokens } from "../../registry/tokens";
import { reaperFor } from "../../organizations/reaper";
import { actorOf, audited } from "../../audit/record";
import { requireOrganization } from "../auth";
import type { App } from "../context";
import { OrgParams, SuccessSchema, errorResponses, json, jsonBody } from "../schemas";

const OrganizationSchema = z
  .object({
    organizationId: z.string(),
    name: z.string(),
    key: z.string(),
    displayName: z.string(),
    createdAt: z.string(),
    marketplaceAllowlistRequired: z.literal(false),
  })
  .openapi("Organization");

const CreateOrganizationBody = z
  .object({
    name: z.string().min(1).max(200),
    key: z
      .string()
      .regex(ORGANIZATION_KEY_PATTERN, "A key is 1-63 lower-case letters, digits, dashes or underscores, starting with a letter or digit.")
      .optional()
      .openapi({ description: "Unique across Canopy. Left out: derived from the name (`Acme Inc` → `acme-inc`, then `acme-inc-2`… when taken)." }),
    displayName: z.string().min(1).max(200),
    jobIndexShards: z
      .number()
      .int()
      .min(1)
      .max(MAX_JOB_INDEX_SHARDS)
      .optional()
      .openapi({
        description: `Extension: how many Durable Objects hold the organization's job index (1 to ${MAX_JOB_INDEX_SHARDS}; default 1). Fixed for the organization's life: see docs/store-design.md#the-job-index.`,
      }),
  })
  .openapi("CreateOrganizationRequest");

const UpdateOrganizationBody = z
  .object({
    displayName: z.string().min(1).max(200),
    marketplaceAllowlistRequired: z
      .literal(false, "Canopy has no marketplace: marketplaceAllowlistRequired can only be false.")
      .optional(),
  })
  .openapi("UpdateOrganizationRequest");

const security = [{ Bearer: [] }];

/** Registers the organization routes. */
export function registerOrganizationRoutes(app: App): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/organizations",
      operationId: "CreateOrganization",
      description: "Admin token only.",
      security,
      request: jsonBody(CreateOrganizationBody),
      responses: { 200: json(OrganizationSchema), ...errorResponses("ValidationError", "AuthenticationError", "AuthorizationError", "ConflictError") },
    }),
    async (c) => c.json(await createOrganization(c.env.DB, c.req.valid("json"), Date.now()), 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/organizations",
      operationId: "ListOrganizations",
      security,
      responses: { 200: json(z.object({ organizations: z.array(OrganizationSchema) })), ...errorResponses("AuthenticationError", "AuthorizationError") },
    }),
    async (c) => {
      const caller = c.get("caller");
      const only = caller.kind === "token" ? caller.organizationId : undefined;
      return c.json({ organizations: await listOrganizations(c.env.DB, only) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/organizations/{organizationId}",
      operationId: "GetOrganization",
      security,
      request: { params: OrgParams },
      responses: { 200: json(OrganizationSchema), ...errorResponses("AuthenticationError", "AuthorizationError", "NotFoundError") },
    }),
    async (c) => {
      const { organizationId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      return c.json(await getOrganization(c.env.DB, organizationId), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/organizations/{organizationId}",
      operationId: "UpdateOrganization",
      description: "Changes the display name. The name and key are immutable.",
      security,
      request: { params: OrgParams, ...jsonBody(UpdateOrganizationBody) },
      responses: { 200: json(OrganizationSchema), ...errorResponses("ValidationError", "AuthenticationError", "AuthorizationError", "NotFoundError") },
    }),
    async (c) => {
      const { organizationId } = c.req.valid("param");
      const caller = requireOrganization(c, organizationId);
      const { displayName } = c.req.valid("json");
      const entry = { actor: actorOf(caller), action: "organization.update" as const, target: { type: "organization", id: organizationId }, detail: { displayName } };
      return c.json(await audited(c.env, organizationId, entry, () => updateOrganization(c.env.DB, organizationId, { displayName })), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/organizations/{organizationId}",
      operationId: "DeleteOrganization",
      description:
        "Deletes the organization at once: every route answers 404 for it from then on (its tokens 401), its API tokens are revoked, " +
        "its webhook triggers and secrets deleted. Its running jobs are then cancelled, with their descendants, by a durable sweep.",
      security,
      request: { params: OrgParams },
      responses: { 200: json(SuccessSchema), ...errorResponses("AuthenticationError", "AuthorizationError", "NotFoundError") },
    }),
    async (c) => {
      const { organizationId } = c.req.valid("param");
      const caller = requireOrganization(c, organizationId);
      // Kept in the organization's log, which ListAuditLog no longer shows (the organization is gone) and
      // its retention deletes in time.
      const entry = { actor: actorOf(caller), action: "organization.delete" as const, target: { type: "organization", id: organizationId } };
      await audited(c.env, organizationId, entry, async () => unwrap(await reaperFor(c.env, organizationId).deleteOrganization(organizationId)));
      // Its tokens were revoked in D1; this isolate stops honouring them at once (others within 5 s).
      forgetOrganizationTokens(organizationId);
      return c.json({ success: true as const }, 200);
    },
  );
}
