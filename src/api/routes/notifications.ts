/**
 * Notifications: ListNotifications, MarkNotificationRead, MarkAllNotificationsRead (the client's
 * shapes, with `type` and `resourceId` as extensions), and the organization's outbound
 * notification URL (an extension: PUT/GET/DELETE …/notification-settings).
 */
import { createRoute, z } from "@hono/zod-openapi";
import { checkDestination, egressPolicy } from "../../egress/policy";
import { NotFoundError, ValidationError } from "../../errors";
import { getEgressAllowedHosts } from "../../registry/egress-policy";
import { getOrganization } from "../../registry/organizations";
import { deleteNotificationSettings, getNotificationSettings, listNotifications, markAllNotificationsRead, markNotificationRead, putNotificationSettings } from "../../notifications/store";
import { NOTIFICATION_TYPES, SEVERITIES } from "../../notifications/types";
import { generateSecret } from "../../webhooks/signatures";
import { requireOrganization } from "../auth";
import type { App } from "../context";
import { OrgParams, SuccessSchema, errorResponses, json, jsonBody } from "../schemas";

const NotificationSchema = z
  .object({
    notificationId: z.string(),
    severity: z.enum(SEVERITIES),
    title: z.string(),
    message: z.string(),
    read: z.boolean(),
    createdAt: z.string(),
    type: z.enum(NOTIFICATION_TYPES).openapi({ description: "Extension: what raised it." }),
    resourceId: z.string().optional().openapi({ description: "Extension: the job, trigger or pool it is about." }),
  })
  .openapi("NotificationSummary");

const NotificationParams = OrgParams.extend({
  notificationId: z.string().min(1).max(100).openapi({ param: { name: "notificationId", in: "path" } }),
});

const SettingsSchema = z.object({ url: z.string(), updatedAt: z.string() }).openapi("NotificationSettings");
const PutSettingsBody = z
  .object({ url: z.string().min(1).max(2048).openapi({ example: "https://hooks.example.com/canopy" }) })
  .strict()
  .openapi("PutNotificationSettingsRequest");

const security = [{ Bearer: [] }];
const orgErrors = ["AuthenticationError", "AuthorizationError", "NotFoundError"] as const;

/** Registers the notification routes. */
export function registerNotificationRoutes(app: App): void {
  app.openapi(
    createRoute({
      method: "get",
      path: "/organizations/{organizationId}/notifications",
      operationId: "ListNotifications",
      description: "The newest 100 notifications, newest first, and how many of all are unread.",
      security,
      request: { params: OrgParams },
      responses: { 200: json(z.object({ notifications: z.array(NotificationSchema), unreadCount: z.number().int() }).openapi("ListNotificationsOutput")), ...errorResponses(...orgErrors) },
    }),
    async (c) => {
      const { organizationId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      return c.json(await listNotifications(c.env.DB, organizationId), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/organizations/{organizationId}/notifications/read-all",
      operationId: "MarkAllNotificationsRead",
      security,
      request: { params: OrgParams },
      responses: { 200: json(z.object({ markedCount: z.number().int() }).openapi("MarkAllNotificationsReadOutput")), ...errorResponses(...orgErrors) },
    }),
    async (c) => {
      const { organizationId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      return c.json({ markedCount: await markAllNotificationsRead(c.env.DB, organizationId) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/organizations/{organizationId}/notifications/{notificationId}/read",
      operationId: "MarkNotificationRead",
      security,
      request: { params: NotificationParams },
      responses: { 200: json(z.object({ notificationId: z.string() }).openapi("MarkNotificationReadOutput")), ...errorResponses(...orgErrors) },
    }),
    async (c) => {
      const { organizationId, notificationId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      await markNotificationRead(c.env.DB, organizationId, notificationId);
      return c.json({ notificationId }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/organizations/{organizationId}/notification-settings",
      operationId: "PutNotificationSettings",
      description:
        "Extension: Canopy POSTs every new notification to `url`, signed with Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature). " +
        "Each PUT issues a new `whsec_` secret, shown only in this answer; deliveries still queued are signed with the new one.",
      security,
      request: { params: OrgParams, ...jsonBody(PutSettingsBody) },
      responses: {
        200: json(SettingsSchema.extend({ secret: z.string().openapi({ description: "The signing secret, shown only here." }) })),
        ...errorResponses("ValidationError", ...orgErrors),
      },
    }),
    async (c) => {
      const { organizationId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      const { url } = c.req.valid("json");
      await getOrganization(c.env.DB, organizationId);
      // The URL must be one deliveries may reach now: the engine's policy narrowed by the organization's.
      const verdict = checkDestination(url, egressPolicy(c.env, await getEgressAllowedHosts(c.env.DB, organizationId)));
      if (!verdict.ok) throw new ValidationError(`url: deliveries to ${verdict.host} are refused: ${verdict.reason}.`, [`url: ${verdict.reason}`], { url: verdict.reason });
      const secret = generateSecret("standard-webhooks");
      const settings = await putNotificationSettings(c.env, organizationId, verdict.url.href, secret, Date.now());
      return c.json({ ...settings, secret }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/organizations/{organizationId}/notification-settings",
      operationId: "GetNotificationSettings",
      description: "Extension: the outbound notification URL (never its secret); 404 when none is set.",
      security,
      request: { params: OrgParams },
      responses: { 200: json(SettingsSchema), ...errorResponses(...orgErrors) },
    }),
    async (c) => {
      const { organizationId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      const settings = await getNotificationSettings(c.env.DB, organizationId);
      if (!settings) throw new NotFoundError("This organization has no notification URL.");
      return c.json(settings, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/organizations/{organizationId}/notification-settings",
      operationId: "DeleteNotificationSettings",
      description: "Extension: stops outbound deliveries; those still queued are dropped.",
      security,
      request: { params: OrgParams },
      responses: { 200: json(SuccessSchema), ...errorResponses(...orgErrors) },
    }),
    async (c) => {
      const { organizationId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      if (!(await deleteNotificationSettings(c.env.DB, organizationId))) throw new NotFoundError("This organization has no notification URL.");
      return c.json({ success: true as const }, 200);
    },
  );
}
