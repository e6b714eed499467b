/** Workflows, their immutable versions, and tags. */
import { createRoute, z } from "@hono/zod-openapi";
import { checkDefinition } from "../../definition/check";
import { NotFoundError, PayloadTooLargeError, ValidationError } from "../../errors";
import { utf8Length } from "../../json-size";
import { LIST_VERSIONS_MAX_CHARS, MAX_DEFINITION_BYTES, MAX_LISTED_VERSIONS } from "../../limits";
import { getOrganization } from "../../registry/organizations";
import { createVersion, listVersions, resolveVersion, setTag } from "../../registry/versions";
import { forgetTag } from "../../registry/submission-target";
import { createWorkflow, findWorkflow, getWorkflow, listWorkflows } from "../../registry/workflows";
import { requireOrganization } from "../auth";
import type { App } from "../context";
import { OrgParams, SuccessSchema, TagName, WorkflowParams, errorResponses, json, jsonBody } from "../schemas";
import { actorOf, audited } from "../../audit/record";

const WorkflowSchema = z
  .object({ workflowId: z.string(), name: z.string(), createdAt: z.string() })
  .openapi("Workflow");

const VersionSchema = z
  .object({
    workflowId: z.string(),
    versionId: z.string(),
    versionNumber: z.number().int(),
    definition: z.string().openapi({ description: "The definition as the JSON string that was stored." }),
    createdAt: z.string(),
    tags: z.array(z.string()),
  })
  .openapi("WorkflowVersion");

const DefinitionBody = z
  .object({
    definition: z
      .union([z.string().min(1), z.record(z.string(), z.unknown())])
      .openapi({ description: "The workflow definition: a JSON string, as the JustWorkflowIt client sends it, or an object." }),
  })
  .openapi("WorkflowDefinitionRequest");

const VersionParams = WorkflowParams.extend({
  versionId: z.string().min(1).max(100).openapi({ param: { name: "versionId", in: "path" } }),
});
const TagParams = WorkflowParams.extend({
  tag: TagName.openapi({ param: { name: "tag", in: "path" }, example: "$LIVE" }),
});

/** ListWorkflowVersions' paging (extension): a version number as the token. */
const VersionsQuery = z.object({
  pageSize: z.coerce.number().int().min(1).max(MAX_LISTED_VERSIONS).optional(),
  pageToken: z.string().regex(/^\d{1,9}$/, "is not a token this API issued").optional(),
});

const security = [{ Bearer: [] }];
const orgErrors = ["AuthenticationError", "AuthorizationError", "NotFoundError"] as const;

/**
 * Runs every static check of DEFINITIONS.md; child workflows are looked up in the same organization.
 * A definition over MAX_DEFINITION_BYTES is refused first: a definition sent as an object is stored
 * as its JSON text, which can be longer than the request (`1e20` becomes 21 digits).
 */
async function check(db: D1Database, organizationId: string, definition: string | Record<string, unknown>) {
  const text = typeof definition === "string" ? definition : JSON.stringify(definition);
  const bytes = utf8Length(text);
  if (bytes > MAX_DEFINITION_BYTES) {
    throw new PayloadTooLargeError(`The workflow definition is ${bytes} bytes of JSON; the limit is ${MAX_DEFINITION_BYTES} bytes.`);
  }
  const result = await checkDefinition(text, {
    workflowExists: async (ref) => (await findWorkflow(db, organizationId, ref)) !== null,
  });
  return { text, result };
}

/** Registers the workflow, version and tag routes. */
export function registerWorkflowRoutes(app: App): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/organizations/{organizationId}/workflows",
      operationId: "RegisterWorkflow",
      security,
      request: { params: OrgParams, ...jsonBody(z.object({ name: z.string().min(1).max(200) }).openapi("RegisterWorkflowRequest")) },
      responses: { 200: json(z.object({ workflowId: z.string() })), ...errorResponses("ValidationError", ...orgErrors, "ConflictError") },
    }),
    async (c) => {
      const { organizationId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      await getOrganization(c.env.DB, organizationId);
      const workflow = await createWorkflow(c.env.DB, organizationId, c.req.valid("json").name, Date.now());
      return c.json({ workflowId: workflow.workflowId }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/organizations/{organizationId}/workflows",
      operationId: "ListWorkflows",
      security,
      request: { params: OrgParams },
      responses: { 200: json(z.object({ workflows: z.array(WorkflowSchema) })), ...errorResponses(...orgErrors) },
    }),
    async (c) => {
      const { organizationId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      return c.json({ workflows: await listWorkflows(c.env.DB, organizationId) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/organizations/{organizationId}/workflows/{workflowId}",
      operationId: "GetWorkflow",
      security,
      request: { params: WorkflowParams },
      responses: { 200: json(WorkflowSchema), ...errorResponses(...orgErrors) },
    }),
    async (c) => {
      const { organizationId, workflowId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      return c.json(await getWorkflow(c.env.DB, organizationId, workflowId), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/organizations/{organizationId}/workflows/{workflowId}/versions",
      operationId: "RegisterWorkflowVersion",
      security,
      request: { params: WorkflowParams, ...jsonBody(DefinitionBody) },
      responses: {
        200: json(z.object({ workflowId: z.string(), versionId: z.string(), versionNumber: z.number().int() })),
        ...errorResponses("ValidationError", ...orgErrors, "PayloadTooLarge"),
      },
    }),
    async (c) => {
      const { organizationId, workflowId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      await getWorkflow(c.env.DB, organizationId, workflowId);
      const { text, result } = await check(c.env.DB, organizationId, c.req.valid("json").definition);
      if (!result.valid) throw new ValidationError("The workflow definition is invalid.", result.errors);
      const version = await createVersion(c.env.DB, workflowId, text, Date.now());
      return c.json({ workflowId, versionId: version.versionId, versionNumber: version.versionNumber }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/organizations/{organizationId}/workflows/{workflowId}/versions/validate",
      operationId: "ValidateWorkflowVersion",
      security,
      request: { params: WorkflowParams, ...jsonBody(DefinitionBody) },
      responses: {
        200: json(z.object({ valid: z.boolean(), errors: z.array(z.string()), definition: z.string().optional() })),
        ...errorResponses("ValidationError", ...orgErrors, "PayloadTooLarge"),
      },
    }),
    async (c) => {
      const { organizationId, workflowId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      await getWorkflow(c.env.DB, organizationId, workflowId);
      const { text, result } = await check(c.env.DB, organizationId, c.req.valid("json").definition);
      return c.json(result.valid ? { valid: true, errors: [], definition: text } : { valid: false, errors: result.errors }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/organizations/{organizationId}/workflows/{workflowId}/versions",
      operationId: "ListWorkflowVersions",
      security,
      description: `Oldest first. Extension: a page holds at most pageSize versions (default and most ${MAX_LISTED_VERSIONS}) and, past its first, ${LIST_VERSIONS_MAX_CHARS} characters of definitions; \`nextPageToken\` is given when more are left.`,
      request: { params: WorkflowParams, query: VersionsQuery },
      responses: {
        200: json(z.object({ versions: z.array(VersionSchema.omit({ workflowId: true })), nextPageToken: z.string().optional() })),
        ...errorResponses("ValidationError", ...orgErrors),
      },
    }),
    async (c) => {
      const { organizationId, workflowId } = c.req.valid("param");
      const { pageSize, pageToken } = c.req.valid("query");
      requireOrganization(c, organizationId);
      await getWorkflow(c.env.DB, organizationId, workflowId);
      const after = pageToken === undefined ? 0 : Number(pageToken);
      const page = await listVersions(c.env.DB, workflowId, { after, limit: pageSize ?? MAX_LISTED_VERSIONS, maxChars: LIST_VERSIONS_MAX_CHARS });
      const versions = page.versions.map(({ workflowId: _w, ...v }) => v);
      return c.json({ versions, ...(page.next !== undefined ? { nextPageToken: String(page.next) } : {}) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/organizations/{organizationId}/workflows/{workflowId}/versions/{versionId}",
      operationId: "GetWorkflowVersion",
      security,
      request: { params: VersionParams },
      responses: { 200: json(VersionSchema), ...errorResponses(...orgErrors) },
    }),
    async (c) => {
      const { organizationId, workflowId, versionId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      await getWorkflow(c.env.DB, organizationId, workflowId);
      return c.json(await resolveVersion(c.env.DB, workflowId, { versionId }), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/organizations/{organizationId}/workflows/{workflowId}/tags/{tag}",
      operationId: "SetWorkflowVersionTag",
      security,
      request: { params: TagParams, ...jsonBody(z.object({ versionId: z.string().min(1).max(100) }).openapi("SetTagRequest")) },
      responses: { 200: json(SuccessSchema), ...errorResponses("ValidationError", ...orgErrors) },
    }),
    async (c) => {
      const { organizationId, workflowId, tag } = c.req.valid("param");
      const caller = requireOrganization(c, organizationId);
      await getWorkflow(c.env.DB, organizationId, workflowId);
      const { versionId } = c.req.valid("json");
      const entry = { actor: actorOf(caller), action: "workflow.tag" as const, target: { type: "workflow", id: workflowId }, detail: { tag, versionId } };
      await audited(c.env, organizationId, entry, async () => {
        const moved = await setTag(c.env.DB, workflowId, tag, versionId, Date.now());
        // Submissions through this isolate see the new target at once; other isolates within REGISTRY_CACHE_MS.
        forgetTag(workflowId, tag);
        if (!moved) {
          throw new NotFoundError(`Version ${versionId} was not found on workflow ${workflowId}.`);
        }
      });
      return c.json({ success: true as const }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/organizations/{organizationId}/workflows/{workflowId}/tags/{tag}",
      operationId: "GetTaggedWorkflowVersion",
      security,
      request: { params: TagParams },
      responses: {
        200: json(z.object({ versionId: z.string(), versionNumber: z.number().int() })),
        ...errorResponses("ValidationError", ...orgErrors),
      },
    }),
    async (c) => {
      const { organizationId, workflowId, tag } = c.req.valid("param");
      requireOrganization(c, organizationId);
      await getWorkflow(c.env.DB, organizationId, workflowId);
      const version = await resolveVersion(c.env.DB, workflowId, { tag });
      return c.json({ versionId: version.versionId, versionNumber: version.versionNumber }, 200);
    },
  );
}
