/** Organizations and their API tokens. */
import { createRoute, z } from "@hono/zod-openapi";
import { createOrganization, getOrganization, listOrganizations } from "../../registry/organizations";
import { createApiToken, listApiTokens, revokeApiToken } from "../../registry/tokens";
import { requireAdmin, requireOrganization } from "../auth";
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
    key: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "A key is 1-63 lower-case letters, digits or dashes."),
    displayName: z.string().min(1).max(200),
  })
  .openapi("CreateOrganizationRequest");

const TokenSchema = z
  .object({
    apiAuthTokenId: z.string(),
    name: z.string(),
    createdAt: z.string(),
    expiresAt: z.string().optional(),
    permissions: z.array(z.string()).optional(),
  })
  .openapi("ApiAuthToken");

const CreateTokenBody = z
  .object({
    name: z.string().min(1).max(200),
    expiresAt: z.iso.datetime().optional(),
    permissions: z.array(z.string().max(100)).max(50).optional(),
  })
  .openapi("CreateApiAuthTokenRequest");

const TokenParams = OrgParams.extend({
  apiAuthTokenId: z.string().min(1).max(100).openapi({ param: { name: "apiAuthTokenId", in: "path" } }),
});

const security = [{ Bearer: [] }];

/** Registers the organization and token routes. */
export function registerOrganizationRoutes(app: App): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/organizations",
      operationId: "CreateOrganization",
      security,
      request: jsonBody(CreateOrganizationBody),
      responses: { 200: json(OrganizationSchema), ...errorResponses("ValidationError", "AuthenticationError", "AuthorizationError", "ConflictError") },
    }),
    async (c) => {
      requireAdmin(c);
      return c.json(await createOrganization(c.env.DB, c.req.valid("json"), Date.now()), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/organizations",
      operationId: "ListOrganizations",
      security,
      responses: { 200: json(z.object({ organizations: z.array(OrganizationSchema) })), ...errorResponses("AuthenticationError") },
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
      method: "post",
      path: "/organizations/{organizationId}/api-auth-tokens",
      operationId: "CreateApiAuthToken",
      security,
      request: { params: OrgParams, ...jsonBody(CreateTokenBody) },
      responses: {
        200: json(TokenSchema.extend({ token: z.string() })),
        ...errorResponses("ValidationError", "AuthenticationError", "AuthorizationError", "NotFoundError"),
      },
    }),
    async (c) => {
      const { organizationId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      await getOrganization(c.env.DB, organizationId);
      return c.json(await createApiToken(c.env.DB, organizationId, c.req.valid("json"), Date.now()), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/organizations/{organizationId}/api-auth-tokens",
      operationId: "ListApiAuthTokens",
      security,
      request: { params: OrgParams },
      responses: {
        200: json(z.object({ apiAuthTokens: z.array(TokenSchema) })),
        ...errorResponses("AuthenticationError", "AuthorizationError", "NotFoundError"),
      },
    }),
    async (c) => {
      const { organizationId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      await getOrganization(c.env.DB, organizationId);
      return c.json({ apiAuthTokens: await listApiTokens(c.env.DB, organizationId) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/organizations/{organizationId}/api-auth-tokens/{apiAuthTokenId}",
      operationId: "RevokeApiAuthToken",
      security,
      request: { params: TokenParams },
      responses: { 200: json(SuccessSchema), ...errorResponses("AuthenticationError", "AuthorizationError", "NotFoundError") },
    }),
    async (c) => {
      const { organizationId, apiAuthTokenId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      await revokeApiToken(c.env.DB, organizationId, apiAuthTokenId, Date.now());
      return c.json({ success: true as const }, 200);
    },
  );
}
