/**
 * Token permissions: the JustWorkflowIt client's `PermissionEnum` values that concern a workflow
 * engine, and the one table that says which permission each route needs. The `authorize`
 * middleware (src/api/auth.ts) enforces the table on every route under /organizations, so a route
 * missing from it is refused to every token (fail closed) and `test/integration/api/permissions.test.ts`
 * names it.
 *
 * What a token's stored `permissions` mean:
 * - absent (NULL: every token created before permissions were enforced, and any created without the
 *   field by the admin or by an unrestricted token): all of ENGINE_PERMISSIONS except
 *   `secret:resolve` and `organization:delete`, so nothing that worked before stops working, no old
 *   token can read a secret's value, and none can delete its organization;
 * - a list: exactly those permissions (values Canopy does not know are kept, shown, and grant nothing);
 * - the admin token: every permission, `secret:resolve` included.
 */

/** The permissions Canopy knows and enforces, as the client spells them. */
export const ENGINE_PERMISSIONS = [
  "organization:read",
  "organization:update",
  "organization:delete",
  "apitoken:create",
  "apitoken:read",
  "apitoken:update",
  "apitoken:revoke",
  "workflow:create",
  "workflow:read",
  "workflow:update",
  "workflow:version:create",
  "workflow:version:read",
  "job:submit",
  "job:read",
  "job:list",
  "job:cancel",
  "job:delete",
  "job:update",
  "job:event:send",
  "secret:create",
  "secret:read",
  "secret:list",
  "secret:update",
  "secret:delete",
  "secret:resolve",
  "resourcepool:create",
  "resourcepool:read",
  "resourcepool:list",
  "resourcepool:update",
  "resourcepool:delete",
  "metrics:read",
  "notification:list",
  "notification:update",
] as const;

export type Permission = (typeof ENGINE_PERMISSIONS)[number];

/**
 * The client's PermissionEnum values that name nothing a self-hosted engine does (billing,
 * marketplace, staff, subscriptions): accepted on a token so a client can
 * send them, and they grant nothing.
 */
export const FOREIGN_PERMISSIONS = [
  "billing:manage",
  "marketplace:allowlist",
  "marketplace:grant",
  "marketplace:publish",
  "marketplace:unpublish",
  "staff:read",
  "staff:write",
  "subscription:read",
] as const;

/** Every value a token's `permissions` may hold: the client's whole PermissionEnum. */
export const KNOWN_PERMISSIONS: readonly string[] = [...ENGINE_PERMISSIONS, ...FOREIGN_PERMISSIONS];

/**
 * Granted only by name (or to the admin token), never to a token without a list:
 * `secret:resolve` returns secret values in clear, which no token could do before it existed, and
 * `organization:delete` deletes the organization with its tokens, triggers and secrets and cancels
 * its jobs, which cannot be undone and came after every token made without a list.
 */
export const NAMED_ONLY_PERMISSIONS: readonly Permission[] = ["secret:resolve", "organization:delete"];

/** What a token without a `permissions` list may do. */
export const DEFAULT_TOKEN_PERMISSIONS: readonly Permission[] = ENGINE_PERMISSIONS.filter((p) => !NAMED_ONLY_PERMISSIONS.includes(p));

/** What a route needs: a permission, the admin token, or only an authenticated caller. */
export type RouteRequirement = Permission | "admin" | "authenticated";

/**
 * Every route under /organizations, by `METHOD path` as written in /openapi.json. Routes of
 * resource pools, metrics, notifications, schedules and batch submission are listed ahead of
 * their code, with the paths the client (or API.md) gives them, so those routes are guarded the
 * moment they exist.
 */
export const ROUTE_PERMISSIONS: Record<string, RouteRequirement> = {
  // The operator's: a SECRETS_KEY rotation (src/api/routes/admin.ts).
  "GET /admin/secrets-key": "admin",
  "POST /admin/reseal-secrets": "admin",
  // Copying the job index D1 held into the JobIndex objects (src/job-index/migrate.ts).
  "POST /admin/migrate-job-index": "admin",

  // Organizations
  "POST /organizations": "admin",
  "GET /organizations": "organization:read",
  "GET /organizations/{organizationId}": "organization:read",
  "PATCH /organizations/{organizationId}": "organization:update",
  "DELETE /organizations/{organizationId}": "organization:delete",
  "GET /organizations/{organizationId}/users/me/permissions": "authenticated",
  // Extension: who the token is (the console's sign-in finds a token's organization with it).
  "GET /users/me": "authenticated",
  "GET /organizations/{organizationId}/egress-policy": "organization:read",
  // Who did what in the organization (src/audit/): reading the organization.
  "GET /organizations/{organizationId}/audit-log": "organization:read",
  "PUT /organizations/{organizationId}/egress-policy": "organization:update",
  // Retention is an organization setting, read and changed like the egress policy.
  "GET /organizations/{organizationId}/retention": "organization:read",
  "PUT /organizations/{organizationId}/retention": "organization:update",

  // API tokens
  "POST /organizations/{organizationId}/api-auth-tokens": "apitoken:create",
  "GET /organizations/{organizationId}/api-auth-tokens": "apitoken:read",
  "GET /organizations/{organizationId}/api-auth-tokens/{apiAuthTokenId}": "apitoken:read",
  "PATCH /organizations/{organizationId}/api-auth-tokens/{apiAuthTokenId}": "apitoken:update",
  "DELETE /organizations/{organizationId}/api-auth-tokens/{apiAuthTokenId}": "apitoken:revoke",

  // Workflows, versions, tags. Validating is authoring: it needs what registering needs.
  "POST /organizations/{organizationId}/workflows": "workflow:create",
  "GET /organizations/{organizationId}/workflows": "workflow:read",
  "GET /organizations/{organizationId}/workflows/{workflowId}": "workflow:read",
  "POST /organizations/{organizationId}/workflows/{workflowId}/versions": "workflow:version:create",
  "POST /organizations/{organizationId}/workflows/{workflowId}/versions/validate": "workflow:version:create",
  "GET /organizations/{organizationId}/workflows/{workflowId}/versions": "workflow:version:read",
  "GET /organizations/{organizationId}/workflows/{workflowId}/versions/{versionId}": "workflow:version:read",
  // Moving a tag changes what new jobs run: a change to the workflow.
  "PUT /organizations/{organizationId}/workflows/{workflowId}/tags/{tag}": "workflow:update",
  "GET /organizations/{organizationId}/workflows/{workflowId}/tags/{tag}": "workflow:version:read",

  // Jobs. Resuming restarts a finished job where it stopped: `job:update`, not a new submission.
  "POST /organizations/{organizationId}/jobs": "job:submit",
  "POST /organizations/{organizationId}/jobs/batch": "job:submit",
  "GET /organizations/{organizationId}/jobs": "job:list",
  "GET /organizations/{organizationId}/jobs/{jobId}": "job:read",
  "DELETE /organizations/{organizationId}/jobs/{jobId}": "job:delete",
  "POST /organizations/{organizationId}/jobs/{jobId}/cancel": "job:cancel",
  "POST /organizations/{organizationId}/jobs/{jobId}/resume": "job:update",
  "POST /organizations/{organizationId}/jobs/{jobId}/events": "job:event:send",
  "GET /organizations/{organizationId}/jobs/{jobId}/state": "job:read",
  "GET /organizations/{organizationId}/jobs/{jobId}/state/metadata": "job:read",
  // Time travel. A rerun starts a new job: submitting. Pausing changes a job, as resuming does.
  "POST /organizations/{organizationId}/jobs/{jobId}/rerun": "job:submit",
  "POST /organizations/{organizationId}/jobs/rerun": "job:submit",
  "POST /organizations/{organizationId}/jobs/{jobId}/pause": "job:update",
  "POST /organizations/{organizationId}/jobs/{jobId}/unpause": "job:update",
  "GET /organizations/{organizationId}/jobs/{jobId}/state/data/{key}": "job:read",
  "GET /organizations/{organizationId}/jobs/{jobId}/state/history/{itemId}/{part}": "job:read",

  // Organization secrets. `{secretId}` is the secret's id or its key.
  "POST /organizations/{organizationId}/secrets": "secret:create",
  "GET /organizations/{organizationId}/secrets": "secret:list",
  "POST /organizations/{organizationId}/secrets/resolve": "secret:resolve",
  "GET /organizations/{organizationId}/secrets/{secretId}": "secret:read",
  "PUT /organizations/{organizationId}/secrets/{secretId}": "secret:update",
  "PATCH /organizations/{organizationId}/secrets/{secretId}": "secret:update",
  "DELETE /organizations/{organizationId}/secrets/{secretId}": "secret:delete",

  // Webhook triggers start jobs for whoever holds their signing secret: creating or deleting one
  // is submitting, listing one is reading the organization's workflows.
  "POST /organizations/{organizationId}/webhook-triggers": "job:submit",
  "GET /organizations/{organizationId}/webhook-triggers": "workflow:read",
  "DELETE /organizations/{organizationId}/webhook-triggers/{triggerId}": "job:submit",

  // Schedules (API.md's additions) start jobs: writing one is submitting, reading one is reading jobs.
  "POST /organizations/{organizationId}/schedules": "job:submit",
  "GET /organizations/{organizationId}/schedules": "job:list",
  "GET /organizations/{organizationId}/schedules/{scheduleId}": "job:read",
  "PUT /organizations/{organizationId}/schedules/{scheduleId}": "job:submit",
  "DELETE /organizations/{organizationId}/schedules/{scheduleId}": "job:submit",
  "POST /organizations/{organizationId}/schedules/{scheduleId}/pause": "job:submit",
  "POST /organizations/{organizationId}/schedules/{scheduleId}/unpause": "job:submit",
  "POST /organizations/{organizationId}/schedules/{scheduleId}/trigger": "job:submit",
  "POST /organizations/{organizationId}/schedules/{scheduleId}/backfill": "job:submit",

  // Resource pools, metrics and notifications, with the client's paths.
  "POST /organizations/{organizationId}/resource-pools": "resourcepool:create",
  "GET /organizations/{organizationId}/resource-pools": "resourcepool:list",
  "GET /organizations/{organizationId}/resource-pools/{poolId}": "resourcepool:read",
  "PUT /organizations/{organizationId}/resource-pools/{poolId}": "resourcepool:update",
  "DELETE /organizations/{organizationId}/resource-pools/{poolId}": "resourcepool:delete",
  "GET /organizations/{organizationId}/workflow-metrics/timeseries": "metrics:read",
  "GET /organizations/{organizationId}/notifications": "notification:list",
  "PUT /organizations/{organizationId}/notifications/read-all": "notification:update",
  "PUT /organizations/{organizationId}/notifications/{notificationId}/read": "notification:update",
  // The outbound notification URL sends the organization's notifications off the engine, like the
  // egress policy shapes what leaves it: changing it is updating the organization.
  "PUT /organizations/{organizationId}/notification-settings": "organization:update",
  "GET /organizations/{organizationId}/notification-settings": "organization:read",
  "DELETE /organizations/{organizationId}/notification-settings": "organization:update",
};

/** `GET /organizations/:organizationId` (Hono's route path) → `GET /organizations/{organizationId}`. */
export function routeKey(method: string, honoPath: string): string {
  return `${method.toUpperCase()} ${honoPath.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, "{$1}")}`;
}

/** What a route needs, or undefined when the table does not name it. */
export function requirementOf(method: string, honoPath: string): RouteRequirement | undefined {
  return ROUTE_PERMISSIONS[routeKey(method, honoPath)];
}

/** The permissions a stored list (null: none given) grants. */
export function grantedBy(stored: readonly string[] | null): ReadonlySet<string> {
  return new Set(stored ?? DEFAULT_TOKEN_PERMISSIONS);
}

/** Every permission the admin token has. */
export const ADMIN_PERMISSIONS: readonly Permission[] = ENGINE_PERMISSIONS;
