/** Organization secrets: write-only values, readable metadata. No route ever returns a value. */
import { createRoute, z } from "@hono/zod-openapi";
import { MAX_SECRET_VALUE_CHARS, SECRET_KEY_PATTERN } from "../../limits";
import { getOrganization } from "../../registry/organizations";
import {
  deleteOrganizationSecret,
  getOrganizationSecretMetadata,
  listOrganizationSecrets,
  putOrganizationSecret,
} from "../../registry/secrets";
import { requireOrganization } from "../auth";
import type { App } from "../context";
import { OrgParams, SuccessSchema, errorResponses, json, jsonBody } from "../schemas";

const SecretKey = z.string().regex(SECRET_KEY_PATTERN, "A key is a letter or _ then up to 127 letters, digits, _, . or -.");

const SecretMetadataSchema = z
  .object({ key: z.string(), description: z.string().optional(), createdAt: z.string(), updatedAt: z.string() })
  .openapi("SecretMetadata");

const PutSecretBody = z
  .object({
    key: SecretKey,
    value: z.string().min(1).max(MAX_SECRET_VALUE_CHARS),
    description: z.string().max(1000).optional(),
  })
  .strict()
  .openapi("CreateSecretRequest");

const SecretParams = OrgParams.extend({
  key: SecretKey.openapi({ param: { name: "key", in: "path" }, example: "AWS_ACCESS_KEY_ID" }),
});

const security = [{ Bearer: [] }];

/** Registers the organization secret routes. */
export function registerSecretRoutes(app: App): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/organizations/{organizationId}/secrets",
      operationId: "CreateSecret",
      description: "Creates a secret or replaces its value. The value is encrypted at rest and never returned.",
      security,
      request: { params: OrgParams, ...jsonBody(PutSecretBody) },
      responses: { 200: json(SecretMetadataSchema), ...errorResponses("ValidationError", "AuthenticationError", "AuthorizationError", "NotFoundError") },
    }),
    async (c) => {
      const { organizationId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      await getOrganization(c.env.DB, organizationId);
      return c.json(await putOrganizationSecret(c.env, organizationId, c.req.valid("json"), Date.now()), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/organizations/{organizationId}/secrets",
      operationId: "ListSecrets",
      security,
      request: { params: OrgParams },
      responses: {
        200: json(z.object({ secrets: z.array(SecretMetadataSchema) })),
        ...errorResponses("AuthenticationError", "AuthorizationError", "NotFoundError"),
      },
    }),
    async (c) => {
      const { organizationId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      await getOrganization(c.env.DB, organizationId);
      return c.json({ secrets: await listOrganizationSecrets(c.env.DB, organizationId) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/organizations/{organizationId}/secrets/{key}",
      operationId: "GetSecret",
      description: "A secret's metadata; never its value.",
      security,
      request: { params: SecretParams },
      responses: { 200: json(SecretMetadataSchema), ...errorResponses("ValidationError", "AuthenticationError", "AuthorizationError", "NotFoundError") },
    }),
    async (c) => {
      const { organizationId, key } = c.req.valid("param");
      requireOrganization(c, organizationId);
      return c.json(await getOrganizationSecretMetadata(c.env.DB, organizationId, key), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/organizations/{organizationId}/secrets/{key}",
      operationId: "DeleteSecret",
      security,
      request: { params: SecretParams },
      responses: { 200: json(SuccessSchema), ...errorResponses("ValidationError", "AuthenticationError", "AuthorizationError", "NotFoundError") },
    }),
    async (c) => {
      const { organizationId, key } = c.req.valid("param");
      requireOrganization(c, organizationId);
      await deleteOrganizationSecret(c.env.DB, organizationId, key);
      return c.json({ success: true as const }, 200);
    },
  );
}
