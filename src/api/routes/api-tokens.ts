/** API tokens of an organization, and the calling token's own permissions. */
import { createRoute, z } from "@hono/zod-openapi";
import { actorOf, audited } from "../../audit/record";
import { isoTime } from "../../ids";
import { getOrganization } from "../../registry/organizations";
import { ConflictError } from "../../errors";
import { boundsOf, createApiToken, getApiToken, listApiTokens, revokeApiToken, updateApiTokenIfUnchanged, type ApiAuthToken } from "../../registry/tokens";
import { permissionsOf, requireOrganization, requireTokenWithinBounds, requireWithinBounds } from "../auth";
import type { App, Caller } from "../context";
import { DEFAULT_TOKEN_PERMISSIONS, KNOWN_PERMISSIONS } from "../permissions";
import { OrgParams, SuccessSchema, errorResponses, json, jsonBody } from "../schemas";

const PermissionsList = z
  .array(z.string().refine((p) => KNOWN_PERMISSIONS.includes(p), { message: "Not a permission of the JustWorkflowIt client's PermissionEnum." }))
  .max(KNOWN_PERMISSIONS.length)
  .transform((list) => [...new Set(list)])
  .openapi({ description: "PermissionEnum values, e.g. job:submit, job:read. See docs/security.md#permissions for what each allows.", example: ["job:submit", "job:read"] });

/** A timestamp as the client sends it (RFC 3339, UTC), stored in the one spelling `isoTime` writes. */
const Timestamp = z.iso.datetime().transform((s) => isoTime(Date.parse(s)));

const TokenSchema = z
  .object({
    apiAuthTokenId: z.string(),
    name: z.string(),
    createdAt: z.string(),
    expiresAt: z.string().optional(),
    permissions: z.array(z.string()).openapi({ description: "What the token may do; a token created without a list has the defaults." }),
  })
  .openapi("ApiAuthToken");

const CreatedTokenSchema = z
  .object({
    apiAuthTokenId: z.string(),
    name: z.string(),
    createdAt: z.string(),
    expiresAt: z.string().optional(),
    permissions: z.array(z.string()).optional(),
    token: z.string().openapi({ description: "Shown once." }),
  })
  .openapi("CreatedApiAuthToken");

const CreateTokenBody = z
  .object({
    name: z.string().min(1).max(200),
    expiresAt: Timestamp.optional().openapi({ description: "Left out: never, or the expiry of the calling token if it has one." }),
    permissions: PermissionsList.optional().openapi({
      description: "Left out: the defaults (every engine permission but secret:resolve and organization:delete), or the calling token's own list if it has one.",
    }),
  })
  .openapi("CreateApiAuthTokenRequest");

const UpdateTokenBody = z
  .object({ permissions: PermissionsList.optional(), expiresAt: Timestamp.optional() })
  .refine((b) => b.permissions !== undefined || b.expiresAt !== undefined, "Name permissions or expiresAt to change.")
  .openapi("UpdateApiAuthTokenRequest");

const TokenParams = OrgParams.extend({
  apiAuthTokenId: z.string().min(1).max(100).openapi({ param: { name: "apiAuthTokenId", in: "path" } }),
});

const security = [{ Bearer: [] }];
const orgErrors = ["AuthenticationError", "AuthorizationError", "NotFoundError"] as const;

/** A token as Get/List/Update show it: `permissions` always, the defaults for a token created without a list. */
function view(token: ApiAuthToken): z.infer<typeof TokenSchema> {
  return { ...token, permissions: token.permissions ?? [...DEFAULT_TOKEN_PERMISSIONS] };
}

/**
 * A new token's permissions and expiry: given, or inherited from a calling token that has them,
 * so a token never mints one that outlives it or does more than it may.
 */
function boundedCreate(caller: Caller, body: { permissions?: string[]; expiresAt?: string }): { permissions?: string[]; expiresAt?: string } {
  const inherited =
    caller.kind === "token"
      ? { ...(caller.permissions !== null ? { permissions: caller.permissions } : {}), ...(caller.expiresAt !== null ? { expiresAt: caller.expiresAt } : {}) }
      : {};
  const wanted = { ...inherited, ...body };
  requireWithinBounds(caller, wanted);
  return wanted;
}

/** Reads of a token a PATCH makes before it gives up on a token that keeps changing under it. */
const UPDATE_TRIES = 3;

/**
 * UpdateApiAuthToken's change, checked by the token it would leave: the token is read, the change
 * applied to it, the result checked against the caller's bounds (403), and written only if the
 * token is still as read (else read and checked again). Self-contained, so an audit record can be
 * written around it.
 */
export async function boundedUpdate(
  db: D1Database,
  caller: Caller,
  organizationId: string,
  tokenId: string,
  change: { permissions?: string[]; expiresAt?: string },
): Promise<ApiAuthToken> {
  for (let i = 0; i < UPDATE_TRIES; i++) {
    const current = boundsOf(await getApiToken(db, organizationId, tokenId));
    const result = { permissions: change.permissions ?? current.permissions, expiresAt: change.expiresAt ?? current.expiresAt };
    requireTokenWithinBounds(caller, result);
    const updated = await updateApiTokenIfUnchanged(db, organizationId, tokenId, result, current);
    if (updated) return updated;
  }
  throw new ConflictError(`API token ${tokenId} kept changing while this change was checked; send it again.`);
}

/** Registers the API token routes and GetMyPermissions. */
export function registerApiTokenRoutes(app: App): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/organizations/{organizationId}/api-auth-tokens",
      operationId: "CreateApiAuthToken",
      description: "A token cannot create a token with a permission it lacks or a later expiry than its own (403).",
      security,
      request: { params: OrgParams, ...jsonBody(CreateTokenBody) },
      responses: { 200: json(CreatedTokenSchema), ...errorResponses("ValidationError", "ConflictError", ...orgErrors) },
    }),
    async (c) => {
      const { organizationId } = c.req.valid("param");
      const caller = requireOrganization(c, organizationId);
      const body = c.req.valid("json");
      const bounded = boundedCreate(caller, { ...(body.permissions ? { permissions: body.permissions } : {}), ...(body.expiresAt ? { expiresAt: body.expiresAt } : {}) });
      await getOrganization(c.env.DB, organizationId);
      const created = await audited(
        c.env,
        organizationId,
        { actor: actorOf(caller), action: "apitoken.create", target: { type: "apitoken", id: "" }, detail: { name: body.name, ...bounded } },
        () => createApiToken(c.env.DB, organizationId, { name: body.name, ...bounded }, Date.now()),
        (t) => ({ target: { type: "apitoken", id: t.apiAuthTokenId } }),
      );
      return c.json(created, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/organizations/{organizationId}/api-auth-tokens",
      operationId: "ListApiAuthTokens",
      security,
      request: { params: OrgParams },
      responses: { 200: json(z.object({ tokens: z.array(TokenSchema) })), ...errorResponses(...orgErrors) },
    }),
    async (c) => {
      const { organizationId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      return c.json({ tokens: (await listApiTokens(c.env.DB, organizationId)).map(view) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/organizations/{organizationId}/api-auth-tokens/{apiAuthTokenId}",
      operationId: "GetApiAuthToken",
      security,
      request: { params: TokenParams },
      responses: { 200: json(TokenSchema), ...errorResponses(...orgErrors) },
    }),
    async (c) => {
      const { organizationId, apiAuthTokenId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      return c.json(view(await getApiToken(c.env.DB, organizationId, apiAuthTokenId)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/organizations/{organizationId}/api-auth-tokens/{apiAuthTokenId}",
      operationId: "UpdateApiAuthToken",
      description:
        "Replaces a token's permissions or expiry. The token as it would be after the change (the fields not named keep their values) must be within the calling token's own bounds, as for CreateApiAuthToken (403): no permission the caller lacks, no later expiry than the caller's, and no token that never expires from a caller that does.",
      security,
      request: { params: TokenParams, ...jsonBody(UpdateTokenBody) },
      responses: { 200: json(TokenSchema), ...errorResponses("ValidationError", "ConflictError", ...orgErrors) },
    }),
    async (c) => {
      const { organizationId, apiAuthTokenId } = c.req.valid("param");
      const caller = requireOrganization(c, organizationId);
      const change = c.req.valid("json");
      requireWithinBounds(caller, change);
      const entry = { actor: actorOf(caller), action: "apitoken.update" as const, target: { type: "apitoken", id: apiAuthTokenId }, detail: { ...change } };
      return c.json(view(await audited(c.env, organizationId, entry, () => boundedUpdate(c.env.DB, caller, organizationId, apiAuthTokenId, change))), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/organizations/{organizationId}/api-auth-tokens/{apiAuthTokenId}",
      operationId: "RevokeApiAuthToken",
      security,
      request: { params: TokenParams },
      responses: { 200: json(SuccessSchema), ...errorResponses(...orgErrors) },
    }),
    async (c) => {
      const { organizationId, apiAuthTokenId } = c.req.valid("param");
      const caller = requireOrganization(c, organizationId);
      const entry = { actor: actorOf(caller), action: "apitoken.revoke" as const, target: { type: "apitoken", id: apiAuthTokenId } };
      await audited(c.env, organizationId, entry, () => revokeApiToken(c.env.DB, organizationId, apiAuthTokenId, Date.now()));
      return c.json({ success: true as const }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/organizations/{organizationId}/users/me/permissions",
      operationId: "GetMyPermissions",
      description: "The calling token's permissions (the admin token: every permission Canopy knows). Needs no permission itself.",
      security,
      request: { params: OrgParams },
      responses: { 200: json(z.object({ permissions: z.array(z.string()) }).openapi("MyPermissions")), ...errorResponses(...orgErrors) },
    }),
    async (c) => {
      const { organizationId } = c.req.valid("param");
      const caller = requireOrganization(c, organizationId);
      return c.json({ permissions: permissionList(caller) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/users/me",
      operationId: "GetCaller",
      description:
        "Extension: who the bearer token is: the admin, or an organization's API token (its organization, id, name and expiry), with its permissions. Needs no permission: it is how a client that holds only a token finds its organization (a token may lack organization:read).",
      security,
      responses: {
        200: json(
          z
            .object({
              caller: z.discriminatedUnion("type", [
                z.object({ type: z.literal("admin") }),
                z.object({ type: z.literal("token"), organizationId: z.string(), apiAuthTokenId: z.string(), name: z.string(), expiresAt: z.string().optional() }),
              ]),
              permissions: z.array(z.string()),
            })
            .openapi("Caller"),
        ),
        ...errorResponses("AuthenticationError"),
      },
    }),
    async (c) => {
      const caller = c.get("caller");
      const who =
        caller.kind === "admin"
          ? { type: "admin" as const }
          : {
              type: "token" as const,
              organizationId: caller.organizationId,
              apiAuthTokenId: caller.apiAuthTokenId,
              name: caller.name,
              ...(caller.expiresAt !== null ? { expiresAt: caller.expiresAt } : {}),
            };
      return c.json({ caller: who, permissions: permissionList(caller) }, 200);
    },
  );
}

/** A caller's permissions as GetMyPermissions lists them: a token's own list (unknown values kept), or what it is granted. */
function permissionList(caller: Caller): string[] {
  return caller.kind === "token" && caller.permissions !== null ? [...new Set(caller.permissions)] : [...permissionsOf(caller)];
}
