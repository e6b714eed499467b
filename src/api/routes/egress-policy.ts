/**
 * An organization's egress policy: the host patterns its executor calls may reach. It narrows the
 * engine's own policy (public https hosts, see src/egress) and never widens it.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { hostPatternProblem } from "../../host-patterns";
import { MAX_EGRESS_ALLOWED_HOSTS } from "../../limits";
import { getEgressAllowedHosts, putEgressAllowedHosts } from "../../registry/egress-policy";
import { actorOf, audited } from "../../audit/record";
import { requireOrganization } from "../auth";
import type { App } from "../context";
import { OrgParams, errorResponses, json, jsonBody } from "../schemas";

const HostPattern = z
  .string()
  .superRefine((pattern, ctx) => {
    const problem = hostPatternProblem(pattern);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  })
  .openapi({ example: "*.example.com" });

const EgressPolicySchema = z
  .object({
    allowedHosts: z
      .array(HostPattern)
      .max(MAX_EGRESS_ALLOWED_HOSTS)
      .nullable()
      .openapi({
        description:
          "Host patterns every executor call (and each redirect it follows) must match: `api.example.com`, `*.example.com` (names below it), optionally `:port`. null: no allowlist; [] allows no egress at all.",
      }),
  })
  .strict()
  .openapi("EgressPolicy");

const security = [{ Bearer: [] }];

/** Registers the egress policy routes. */
export function registerEgressPolicyRoutes(app: App): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/organizations/{organizationId}/egress-policy",
      operationId: "GetEgressPolicy",
      security,
      request: { params: OrgParams },
      responses: { 200: json(EgressPolicySchema), ...errorResponses("AuthenticationError", "AuthorizationError", "NotFoundError") },
    }),
    async (c) => {
      const { organizationId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      return c.json({ allowedHosts: await getEgressAllowedHosts(c.env.DB, organizationId) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/organizations/{organizationId}/egress-policy",
      operationId: "PutEgressPolicy",
      description: "Replaces the allowlist. It applies from the next executor call of every job, running ones included.",
      security,
      request: { params: OrgParams, ...jsonBody(EgressPolicySchema) },
      responses: {
        200: json(EgressPolicySchema),
        ...errorResponses("ValidationError", "AuthenticationError", "AuthorizationError", "NotFoundError"),
      },
    }),
    async (c) => {
      const { organizationId } = c.req.valid("param");
      const caller = requireOrganization(c, organizationId);
      const { allowedHosts } = c.req.valid("json");
      // Duplicates say nothing more; the stored list is the distinct patterns in the order given.
      const distinct = allowedHosts === null ? null : [...new Set(allowedHosts)];
      const entry = { actor: actorOf(caller), action: "egresspolicy.update" as const, target: { type: "organization", id: organizationId }, detail: { allowedHosts: distinct } };
      return c.json({ allowedHosts: await audited(c.env, organizationId, entry, () => putEgressAllowedHosts(c.env.DB, organizationId, distinct)) }, 200);
    },
  );
}
