/** Webhook triggers (an extension): create, list, delete, and the unauthenticated delivery route. */
import { createRoute, z } from "@hono/zod-openapi";
import { checkTransformerSyntax, type InputTransformer } from "../../definition/transformer";
import { NotFoundError, PayloadTooLargeError, ValidationError } from "../../errors";
import { newId } from "../../ids";
import { refuseOversizedJson } from "../../json-size";
import { MAX_BODY_BYTES, MAX_TRIGGER_TRANSFORMER_BYTES, WEBHOOK_DEFAULT_RATE_PER_SECOND, WEBHOOK_MAX_RATE_PER_SECOND } from "../../limits";
import { getOrganization } from "../../registry/organizations";
import { resolveVersion } from "../../registry/versions";
import { findWorkflow } from "../../registry/workflows";
import { admitWebhookRequest, WebhookThrottled } from "../../webhooks/admission";
import { deliver } from "../../webhooks/delivery";
import { generateSecret, SCHEMES } from "../../webhooks/signatures";
import { createTrigger, deleteTrigger, listTriggers, type WebhookTrigger } from "../../webhooks/triggers";
import { requireOrganization } from "../auth";
import type { App } from "../context";
import { OrgParams, SuccessSchema, VersionSelectorSchema, errorResponses, json, jsonBody } from "../schemas";
import { actorOf, audited } from "../../audit/record";

const TriggerSchema = z
  .object({
    triggerId: z.string(),
    name: z.string(),
    workflowId: z.string(),
    workflowVersion: VersionSelectorSchema,
    scheme: z.enum(SCHEMES),
    url: z.string().openapi({ description: "Where the sender delivers: `<origin>/hooks/<triggerId>`." }),
    inputTransformer: z.record(z.string(), z.unknown()).optional(),
    rateLimitPerSecond: z.number().int(),
    createdAt: z.string(),
  })
  .openapi("WebhookTrigger");

const CreateTriggerBody = z
  .object({
    name: z.string().min(1).max(200),
    workflowId: z.string().min(1).max(100),
    workflowVersion: VersionSelectorSchema,
    scheme: z.enum(SCHEMES),
    inputTransformer: z.record(z.string(), z.unknown()).optional().openapi({
      description:
        "A json-xform fieldset mapping `{body, deliveryId}` (the parsed delivery and its id) to the job's input, " +
        'e.g. {"fieldset":[{"from":"body.order.id","to":"orderId"}]}. Without it, the body is the input.',
    }),
    rateLimitPerSecond: z
      .number()
      .int()
      .min(1)
      .max(WEBHOOK_MAX_RATE_PER_SECOND)
      .optional()
      .openapi({ description: `Extension: deliveries per second before 429 (default ${WEBHOOK_DEFAULT_RATE_PER_SECOND}).` }),
  })
  .openapi("CreateWebhookTriggerRequest");

const TriggerParams = OrgParams.extend({
  triggerId: z.string().min(1).max(100).openapi({ param: { name: "triggerId", in: "path" } }),
});
const HookParams = z.object({
  triggerId: z.string().min(1).max(100).openapi({ param: { name: "triggerId", in: "path" } }),
});

const security = [{ Bearer: [] }];
const orgErrors = ["AuthenticationError", "AuthorizationError", "NotFoundError"] as const;

/** The API view of a trigger: its delivery URL, never its secret. */
function view(trigger: WebhookTrigger, origin: string): z.infer<typeof TriggerSchema> {
  return {
    triggerId: trigger.triggerId,
    name: trigger.name,
    workflowId: trigger.workflowId,
    workflowVersion: trigger.workflowVersion,
    scheme: trigger.scheme,
    url: `${origin}/hooks/${trigger.triggerId}`,
    ...(trigger.inputTransformer ? { inputTransformer: trigger.inputTransformer } : {}),
    rateLimitPerSecond: trigger.rateLimitPerSecond ?? WEBHOOK_DEFAULT_RATE_PER_SECOND,
    createdAt: trigger.createdAt,
  };
}

/** Registers the webhook trigger routes and the delivery route. */
export function registerWebhookRoutes(app: App): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/organizations/{organizationId}/webhook-triggers",
      operationId: "CreateWebhookTrigger",
      security,
      request: { params: OrgParams, ...jsonBody(CreateTriggerBody) },
      responses: {
        200: json(TriggerSchema.extend({ secret: z.string().openapi({ description: "The signing secret, shown only here." }) })),
        ...errorResponses("ValidationError", "ConflictError", "PayloadTooLarge", ...orgErrors),
      },
    }),
    async (c) => {
      const { organizationId } = c.req.valid("param");
      const caller = requireOrganization(c, organizationId);
      await getOrganization(c.env.DB, organizationId);
      const body = c.req.valid("json");
      if (body.inputTransformer !== undefined) {
        // Stored in the trigger's row, read on every delivery, listed with every trigger.
        refuseOversizedJson(body.inputTransformer, "The inputTransformer", MAX_TRIGGER_TRANSFORMER_BYTES);
        const problems = checkTransformerSyntax(body.inputTransformer);
        if (problems.length > 0) throw new ValidationError("The inputTransformer is invalid.", problems);
      }
      const workflow = await findWorkflow(c.env.DB, organizationId, { workflowId: body.workflowId });
      if (!workflow) throw new NotFoundError(`Workflow ${body.workflowId} was not found.`);
      // Resolved now so that a typo is refused here rather than on every delivery.
      await resolveVersion(c.env.DB, workflow.workflowId, body.workflowVersion);
      const secret = generateSecret(body.scheme);
      const triggerId = newId();
      // The signing secret never enters the entry.
      const entry = {
        actor: actorOf(caller),
        action: "trigger.create" as const,
        target: { type: "trigger", id: triggerId },
        detail: { name: body.name, workflowId: workflow.workflowId, scheme: body.scheme },
      };
      const trigger = await audited(c.env, organizationId, entry, () => createTrigger(
        c.env,
        {
          triggerId,
          organizationId,
          name: body.name,
          workflowId: workflow.workflowId,
          workflowVersion: body.workflowVersion,
          scheme: body.scheme,
          secret,
          ...(body.inputTransformer !== undefined ? { inputTransformer: body.inputTransformer as InputTransformer } : {}),
          ...(body.rateLimitPerSecond !== undefined ? { rateLimitPerSecond: body.rateLimitPerSecond } : {}),
        },
        Date.now(),
      ));
      return c.json({ ...view(trigger, new URL(c.req.url).origin), secret }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/organizations/{organizationId}/webhook-triggers",
      operationId: "ListWebhookTriggers",
      security,
      request: { params: OrgParams },
      responses: { 200: json(z.object({ webhookTriggers: z.array(TriggerSchema) })), ...errorResponses(...orgErrors) },
    }),
    async (c) => {
      const { organizationId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      const origin = new URL(c.req.url).origin;
      return c.json({ webhookTriggers: (await listTriggers(c.env.DB, organizationId)).map((t) => view(t, origin)) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/organizations/{organizationId}/webhook-triggers/{triggerId}",
      operationId: "DeleteWebhookTrigger",
      security,
      request: { params: TriggerParams },
      responses: { 200: json(SuccessSchema), ...errorResponses(...orgErrors) },
    }),
    async (c) => {
      const { organizationId, triggerId } = c.req.valid("param");
      const caller = requireOrganization(c, organizationId);
      const entry = { actor: actorOf(caller), action: "trigger.delete" as const, target: { type: "trigger", id: triggerId } };
      await audited(c.env, organizationId, entry, () => deleteTrigger(c.env.DB, organizationId, triggerId, Date.now()));
      return c.json({ success: true as const }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/hooks/{triggerId}",
      operationId: "DeliverWebhook",
      description:
        "A sender's delivery: any JSON body, signed per the trigger's scheme over the raw bytes. No bearer token. " +
        "202 starts a job; a repeated delivery id (or, for GitHub, a byte-identical body within 24 h) answers 200 " +
        "with the first job's id. A request without a well-formed signature header is refused with 401, and one from " +
        "an address that sent this trigger too many requests whose signatures did not verify (or replays), or too many " +
        "requests to triggers that do not exist, with 429, before the trigger is looked up.",
      security: [],
      request: { params: HookParams },
      responses: {
        200: json(z.object({ jobId: z.string() }), "A replay: the job the first delivery started."),
        202: json(z.object({ jobId: z.string() }), "The job was started."),
        ...errorResponses("ValidationError", "AuthenticationError", "NotFoundError", "PayloadTooLarge", "ThrottlingError"),
      },
    }),
    async (c) => {
      try {
        // Before the body is read or the trigger looked up: a request that cannot be a delivery,
        // or one more from an address over its limit, costs no D1 read and no crypto.
        const now = Date.now();
        const triggerId = c.req.valid("param").triggerId;
        const admission = await admitWebhookRequest(c.env, c.req.raw.headers, triggerId, now);
        // The body is read as bytes, never parsed by a validator first: signatures are over the raw bytes.
        // The app's body limit has already refused a declared or streamed size over the limit.
        const body = new Uint8Array(await c.req.arrayBuffer());
        if (body.byteLength > MAX_BODY_BYTES) throw new PayloadTooLargeError(`The request body exceeds ${MAX_BODY_BYTES} bytes.`);
        const result = await deliver(
          c.env,
          { triggerId, headers: c.req.raw.headers, body },
          now,
          (p) => c.executionCtx.waitUntil(p),
          admission,
        );
        return c.json({ jobId: result.jobId }, result.status);
      } catch (e) {
        if (e instanceof WebhookThrottled) c.header("retry-after", String(e.retryAfterSeconds));
        throw e;
      }
    },
  );
}
