/** Zod schemas shared by several routes. They validate requests and generate /openapi.json. */
import { z } from "@hono/zod-openapi";
import { STATUS_BY_CODE, type ErrorCode } from "../errors";

export const ErrorSchema = z
  .object({
    code: z.string().openapi({ example: "ValidationError" }),
    message: z.string(),
    errors: z.array(z.string()).optional(),
    fields: z.record(z.string(), z.string()).optional(),
  })
  .openapi("Error");

/** OpenAPI response entries for the error codes a route can answer. */
export function errorResponses(...codes: ErrorCode[]) {
  const out: Record<number, { description: string; content: { "application/json": { schema: typeof ErrorSchema } } }> = {};
  for (const code of codes) {
    out[STATUS_BY_CODE[code]] = { description: code, content: { "application/json": { schema: ErrorSchema } } };
  }
  return out;
}

/** A JSON response entry. */
export function json<T extends z.ZodType>(schema: T, description = "OK") {
  return { description, content: { "application/json": { schema } } };
}

/** A JSON request body entry. */
export function jsonBody<T extends z.ZodType>(schema: T) {
  return { body: { required: true, content: { "application/json": { schema } } } };
}

export const OrgParams = z.object({
  organizationId: z.string().min(1).max(100).openapi({ param: { name: "organizationId", in: "path" } }),
});

export const WorkflowParams = OrgParams.extend({
  workflowId: z.string().min(1).max(100).openapi({ param: { name: "workflowId", in: "path" } }),
});

export const SuccessSchema = z.object({ success: z.literal(true) }).openapi("Success");

/** A tag name: `$` then upper-case letters and underscores (`$LIVE`, `$STAGING`). */
export const TagName = z.string().regex(/^\$[A-Z_]+$/, "A tag is $ followed by A-Z or _, such as $LIVE.");

/** API.md: exactly one of tag, versionId, versionNumber. */
export const VersionSelectorSchema = z
  .union([
    z.object({ tag: TagName }).strict(),
    z.object({ versionId: z.string().min(1).max(100) }).strict(),
    z.object({ versionNumber: z.number().int().min(1) }).strict(),
  ])
  .openapi("WorkflowVersionSelector");

/** Turns zod issues into the API's `errors` list and `fields` map. */
export function zodProblems(issues: readonly { path: readonly PropertyKey[]; message: string }[]) {
  const errors: string[] = [];
  const fields: Record<string, string> = {};
  for (const issue of issues) {
    const path = issue.path.map(String).join(".");
    errors.push(path ? `${path}: ${issue.message}` : issue.message);
    if (path && !(path in fields)) fields[path] = issue.message;
  }
  return { errors, fields };
}
