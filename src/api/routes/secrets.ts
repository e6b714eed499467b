/** Organization secrets: write-only values, readable metadata. No route ever returns a value. */
import { createRoute, z } from "@hono/zod-openapi";
import { hostPatternCovers, hostPatternProblem } from "../../host-patterns";
import { MAX_HOST_PATTERN_CHARS, MAX_SECRET_ALLOWED_HOSTS, MAX_SECRET_VALUE_CHARS, SECRET_KEY_PATTERN } from "../../limits";
import { AuthorizationError } from "../../errors";
import { getOrganization } from "../../registry/organizations";
import {
  deleteOrganizationSecret,
  getOrganizationSecretMetadata,
  listOrganizationSecrets,
  putOrganizationSecret,
  updateOrganizationSecretMetadata,
} from "../../registry/secrets";
import { requireOrganization } from "../auth";
import type { App } from "../context";
import { OrgParams, SuccessSchema, errorResponses, json, jsonBody } from "../schemas";

const SecretKey = z.string().regex(SECRET_KEY_PATTERN, "A key is a letter or _ then up to 127 letters, digits, _, . or -.");

/** The hosts a secret may be sent to: 1 to 50 distinct patterns (src/host-patterns.ts), or null for any host. */
const AllowedHosts = z
  .array(z.string().max(MAX_HOST_PATTERN_CHARS))
  .min(1, "allowedHosts names at least one host; null unbinds the secret.")
  .max(MAX_SECRET_ALLOWED_HOSTS, `allowedHosts names at most ${MAX_SECRET_ALLOWED_HOSTS} hosts.`)
  .superRefine((hosts, ctx) => {
    hosts.forEach((host, i) => {
      const problem = hostPatternProblem(host);
      if (problem) ctx.addIssue({ code: "custom", path: [i], message: problem });
      else if (hosts.indexOf(host) !== i) ctx.addIssue({ code: "custom", path: [i], message: `"${host}" is listed twice.` });
    });
  })
  .nullable()
  .openapi({
    description:
      "Host patterns the secret may be sent to: `api.example.com`, `*.example.com` (subdomains only), either with an optional `:port` " +
      "(without one, any port). A call toward any other host fails with SECRET_HOST_DENIED and sends nothing. " +
      "Left out: unchanged (unbound for a new secret); null: unbound, any host, each first use toward a host recorded.",
    example: ["api.example.com", "*.example.com"],
  });

const Description = z.string().max(1000);

const SecretMetadataSchema = z
  .object({
    key: z.string(),
    description: z.string().optional(),
    allowedHosts: z.array(z.string()).optional().openapi({ description: "Absent: the secret is not bound to hosts." }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("SecretMetadata");

const PutSecretBody = z
  .object({
    key: SecretKey,
    value: z.string().min(1).max(MAX_SECRET_VALUE_CHARS),
    description: Description.optional(),
    allowedHosts: AllowedHosts.optional(),
  })
  .strict()
  .openapi("CreateSecretRequest");

const UpdateSecretBody = z
  .object({ description: Description.nullable().optional(), allowedHosts: AllowedHosts.optional() })
  .strict()
  .refine((body) => body.description !== undefined || body.allowedHosts !== undefined, "Name description or allowedHosts to change.")
  .openapi("UpdateSecretRequest");

const SecretParams = OrgParams.extend({
  key: SecretKey.openapi({ param: { name: "key", in: "path" }, example: "AWS_ACCESS_KEY_ID" }),
});

const security = [{ Bearer: [] }];

/**
 * Throws 403 unless `next` only narrows the binding `current` (undefined: unbound). Permissions are
 * not per token, so a binding guards itself: a change without the value may bind an unbound secret
 * or keep to hosts the current patterns already match, never unbind or widen, which would let any
 * token send the secret to a host of its own. Widening takes the value again (CreateSecret), which
 * replaces the one that was guarded.
 */
function requireNarrowing(key: string, current: string[] | undefined, next: string[] | null): void {
  if (current === undefined) return;
  const widen = "To widen or unbind it, send the value again with CreateSecret (POST /organizations/{organizationId}/secrets).";
  if (next === null) {
    throw new AuthorizationError(`allowedHosts: null would unbind secret "${key}", and without the value a binding can only be narrowed. ${widen}`);
  }
  const outside = next.find((pattern) => !current.some((allowed) => hostPatternCovers(allowed, pattern)));
  if (outside !== undefined) {
    throw new AuthorizationError(
      `"${outside}" is not covered by the allowedHosts of secret "${key}", and without the value a binding can only be narrowed. ${widen}`,
    );
  }
}

/** Registers the organization secret routes. */
export function registerSecretRoutes(app: App): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/organizations/{organizationId}/secrets",
      operationId: "CreateSecret",
      description:
        "Creates a secret or replaces its value. The value is encrypted at rest and never returned. " +
        "allowedHosts given here may widen or unbind a binding: the value that binding guarded is replaced in the same write.",
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
      method: "patch",
      path: "/organizations/{organizationId}/secrets/{key}",
      operationId: "UpdateSecret",
      description:
        "Changes a secret's description or allowedHosts, without its value (so a secret can be bound without knowing it). " +
        "allowedHosts may only be narrowed here: every pattern must be one the current patterns already cover (any list binds an " +
        "unbound secret); null or a wider list is refused with AuthorizationError, except for the admin token. " +
        "To widen or unbind, send the value again with CreateSecret.",
      security,
      request: { params: SecretParams, ...jsonBody(UpdateSecretBody) },
      responses: {
        200: json(SecretMetadataSchema),
        ...errorResponses("ValidationError", "AuthenticationError", "AuthorizationError", "NotFoundError", "ConflictError"),
      },
    }),
    async (c) => {
      const { organizationId, key } = c.req.valid("param");
      const caller = requireOrganization(c, organizationId);
      const change = c.req.valid("json");
      if (change.allowedHosts === undefined || caller.kind === "admin") {
        return c.json(await updateOrganizationSecretMetadata(c.env.DB, organizationId, key, change, Date.now()), 200);
      }
      const { allowedHosts } = await getOrganizationSecretMetadata(c.env.DB, organizationId, key);
      requireNarrowing(key, allowedHosts, change.allowedHosts);
      // Written only over the binding just checked: one changed meanwhile is a 409, never widened.
      const updated = await updateOrganizationSecretMetadata(c.env.DB, organizationId, key, change, Date.now(), { ifAllowedHosts: allowedHosts });
      return c.json(updated, 200);
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
