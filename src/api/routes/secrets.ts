/**
 * Organization secrets: sealed values, readable metadata. Only ResolveOrganizationSecret returns a
 * value, to a token granted `secret:resolve` and for a secret not bound to hosts, and it is logged.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { hostPatternCovers, hostPatternProblem } from "../../host-patterns";
import { MAX_HOST_PATTERN_CHARS, MAX_SECRET_ALLOWED_HOSTS, MAX_SECRET_VALUE_CHARS, SECRET_KEY_PATTERN } from "../../limits";
import { AuthorizationError, NotFoundError } from "../../errors";
import { isUuid } from "../../ids";
import { logEvent } from "../../log";
import { getOrganization } from "../../registry/organizations";
import {
  deleteOrganizationSecret,
  getOrganizationSecretMetadata,
  listOrganizationSecrets,
  putOrganizationSecret,
  readSecretForUse,
  replaceOrganizationSecretValue,
  updateOrganizationSecretMetadata,
  type SecretMetadata,
  type SecretMetadataChange,
} from "../../registry/secrets";
import { actorOf, audited, recordAudit } from "../../audit/record";
import { requireOrganization } from "../auth";
import type { AppEnv, App } from "../context";
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
    secretId: z.string(),
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

/** UpdateOrganizationSecret (PUT, the client's): a new value, or only metadata (then as UpdateSecret). */
const ReplaceSecretBody = z
  .object({
    value: z.string().min(1).max(MAX_SECRET_VALUE_CHARS).optional(),
    description: Description.nullable().optional(),
    allowedHosts: AllowedHosts.optional(),
  })
  .strict()
  .refine((b) => b.value !== undefined || b.description !== undefined || b.allowedHosts !== undefined, "Name value, description or allowedHosts to change.")
  .openapi("UpdateOrganizationSecretRequest");

const ResolveSecretBody = z.object({ key: SecretKey }).strict().openapi("ResolveOrganizationSecretRequest");

const SecretParams = OrgParams.extend({
  secretId: z
    .string()
    .min(1)
    .max(128)
    .refine((ref) => isUuid(ref) || SECRET_KEY_PATTERN.test(ref), "A secretId (a UUID) or a key (a letter or _ then up to 127 letters, digits, _, . or -).")
    .openapi({ param: { name: "secretId", in: "path" }, description: "The secret's secretId, or its key.", example: "AWS_ACCESS_KEY_ID" }),
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
      responses: { 200: json(SecretMetadataSchema), ...errorResponses("ValidationError", "ConflictError", "AuthenticationError", "AuthorizationError", "NotFoundError") },
    }),
    async (c) => {
      const { organizationId } = c.req.valid("param");
      const caller = requireOrganization(c, organizationId);
      await getOrganization(c.env.DB, organizationId);
      const body = c.req.valid("json");
      const entry = { actor: actorOf(caller), action: "secret.create" as const, target: { type: "secret", id: "" }, detail: { key: body.key } };
      // The value never enters the entry: the key names the secret, `replacedValue` says whether it existed.
      const stored = await audited(c.env, organizationId, entry, () => putOrganizationSecret(c.env, organizationId, body, Date.now()), (s) => ({
        target: { type: "secret", id: s.secretId },
        detail: { replacedValue: s.createdAt !== s.updatedAt },
      }));
      return c.json(stored, 200);
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
      method: "post",
      path: "/organizations/{organizationId}/secrets/resolve",
      operationId: "ResolveOrganizationSecret",
      description:
        "Returns a secret's value. Only for tokens granted secret:resolve (never a default token) and the admin token; every call is logged " +
        "(secret.resolved, without the value). A secret bound to hosts (allowedHosts) is refused to tokens: its binding promises the value " +
        "travels only to those hosts, and the caller is not one of them.",
      security,
      request: { params: OrgParams, ...jsonBody(ResolveSecretBody) },
      responses: {
        200: json(z.object({ key: z.string(), value: z.string() }).openapi("ResolvedSecret")),
        ...errorResponses("ValidationError", "AuthenticationError", "AuthorizationError", "NotFoundError"),
      },
    }),
    async (c) => {
      const { organizationId } = c.req.valid("param");
      const caller = requireOrganization(c, organizationId);
      const { key } = c.req.valid("json");
      const secret = await readSecretForUse(c.env, organizationId, key);
      if (!secret) throw new NotFoundError(`Secret "${key}" was not found.`);
      const by = caller.kind === "admin" ? "admin" : caller.apiAuthTokenId;
      if (secret.allowedHosts !== undefined && caller.kind !== "admin") {
        logEvent("secret.resolveRefused", { organizationId, key, by, reason: "bound to hosts" });
        throw new AuthorizationError(
          `Secret "${key}" is bound to hosts (allowedHosts), so its value goes only to them and is not resolved. Unbind it with CreateSecret to resolve it.`,
        );
      }
      logEvent("secret.resolved", { organizationId, key, by });
      // Recorded before the value is returned: a log that cannot be written returns no value.
      await recordAudit(c.env, organizationId, { actor: actorOf(caller), action: "secret.resolve", target: { type: "secret", id: secret.secretId }, detail: { key } });
      return c.json({ key, value: secret.value }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/organizations/{organizationId}/secrets/{secretId}",
      operationId: "GetOrganizationSecret",
      description: "A secret's metadata, by its secretId or its key; never its value.",
      security,
      request: { params: SecretParams },
      responses: { 200: json(SecretMetadataSchema), ...errorResponses("ValidationError", "AuthenticationError", "AuthorizationError", "NotFoundError") },
    }),
    async (c) => {
      const { organizationId, secretId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      return c.json(await getOrganizationSecretMetadata(c.env.DB, organizationId, secretId), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/organizations/{organizationId}/secrets/{secretId}",
      operationId: "UpdateOrganizationSecret",
      description:
        "Replaces a secret's value (then allowedHosts may widen or unbind, as with CreateSecret: the guarded value is replaced) " +
        "or, without a value, changes its description or narrows its allowedHosts (as UpdateSecret).",
      security,
      request: { params: SecretParams, ...jsonBody(ReplaceSecretBody) },
      responses: {
        200: json(SecretMetadataSchema),
        ...errorResponses("ValidationError", "AuthenticationError", "AuthorizationError", "NotFoundError", "ConflictError"),
      },
    }),
    async (c) => {
      const { organizationId, secretId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      const { value, ...change } = c.req.valid("json");
      if (value !== undefined) {
        return c.json(await auditedUpdate(c, organizationId, secretId, ["value", ...Object.keys(change)], () => replaceOrganizationSecretValue(c.env, organizationId, secretId, { value, ...change }, Date.now())), 200);
      }
      return c.json(await auditedUpdate(c, organizationId, secretId, Object.keys(change), () => changeMetadata(c, organizationId, secretId, change)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/organizations/{organizationId}/secrets/{secretId}",
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
      const { organizationId, secretId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      const change = c.req.valid("json");
      return c.json(await auditedUpdate(c, organizationId, secretId, Object.keys(change), () => changeMetadata(c, organizationId, secretId, change)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/organizations/{organizationId}/secrets/{secretId}",
      operationId: "DeleteOrganizationSecret",
      description: "Deletes a secret named by its secretId or its key.",
      security,
      request: { params: SecretParams },
      responses: { 200: json(SuccessSchema), ...errorResponses("ValidationError", "AuthenticationError", "AuthorizationError", "NotFoundError") },
    }),
    async (c) => {
      const { organizationId, secretId } = c.req.valid("param");
      const caller = requireOrganization(c, organizationId);
      const entry = { actor: actorOf(caller), action: "secret.delete" as const, target: { type: "secret", id: secretId } };
      await audited(c.env, organizationId, entry, () => deleteOrganizationSecret(c.env.DB, organizationId, secretId), (s) => ({
        target: { type: "secret", id: s.secretId },
        detail: { key: s.key },
      }));
      return c.json({ success: true as const }, 200);
    },
  );
}

/** An update of a secret, recorded as `secret.update` naming the fields changed (never the value). */
function auditedUpdate(c: Context<AppEnv>, organizationId: string, ref: string, changed: string[], update: () => Promise<SecretMetadata>): Promise<SecretMetadata> {
  const entry = { actor: actorOf(c.get("caller")), action: "secret.update" as const, target: { type: "secret", id: ref }, detail: { changed } };
  return audited(c.env, organizationId, entry, update, (s) => ({ target: { type: "secret", id: s.secretId }, detail: { key: s.key } }));
}

/** A change without the value: a binding is only narrowed, and written over the binding checked (else 409), except by the admin. */
async function changeMetadata(c: Context<AppEnv>, organizationId: string, ref: string, change: SecretMetadataChange) {
  if (change.allowedHosts === undefined || c.get("caller").kind === "admin") {
    return updateOrganizationSecretMetadata(c.env.DB, organizationId, ref, change, Date.now());
  }
  const { key, allowedHosts } = await getOrganizationSecretMetadata(c.env.DB, organizationId, ref);
  requireNarrowing(key, allowedHosts, change.allowedHosts);
  return updateOrganizationSecretMetadata(c.env.DB, organizationId, key, change, Date.now(), { ifAllowedHosts: allowedHosts });
}
