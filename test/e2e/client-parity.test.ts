// The JustWorkflowIt client's operations against a real `npm start`, spoken exactly as the client's
// serializers speak them (test/e2e/client-wire.ts). Each step is one `it`, run in order on shared
// state; to cover another operation, add its row to OPERATIONS and a step to STEPS.
import { beforeAll, describe, expect, it } from "vitest";
import { ENGINE_PERMISSIONS } from "../../src/api/permissions";
import { step, workflow } from "../helpers/jobs";
import { waitFor } from "./server";
import { SharedServer } from "./shared-server";
import { WireClient, isClientTimestamp, type WireResponse } from "./client-wire";

interface Scenario {
  admin: WireClient;
  /** A token with every engine permission, made by the admin, expiring in a day. */
  owner: WireClient;
  ownerExpiresAt: Date;
  orgId: string;
  ids: Record<string, string>;
}

const DEFINITION = workflow("Order-Approval", [
  step("record", "/justworkflowit/noop", {}, "approve"),
  step("approve", "/justworkflowit/waitForEventIds", { config: { eventIds: ["approved"] } }),
]);

function expectError(res: WireResponse, status: number, errorType: string): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.errorType).toBe(errorType);
}

async function jobStatus(s: Scenario, jobId: string): Promise<string> {
  return (await s.owner.ok("GetJob", { organizationId: s.orgId, jobId })).job.status;
}

const STEPS: [string, (s: Scenario) => Promise<void>][] = [
  [
    "CreateOrganization without a key, GetOrganization, UpdateOrganization",
    async (s) => {
      const org = await s.admin.ok("CreateOrganization", { name: "Parity_Test-Org", displayName: "Parity test" });
      expect(org).toMatchObject({ name: "Parity_Test-Org", key: "parity_test-org", displayName: "Parity test", marketplaceAllowlistRequired: false });
      expect(isClientTimestamp(org.createdAt)).toBe(true);
      s.orgId = org.organizationId;
      expect(await s.admin.ok("GetOrganization", { organizationId: s.orgId })).toEqual(org);
      const updated = await s.admin.ok("UpdateOrganization", { organizationId: s.orgId, displayName: "Parity, renamed" });
      expect(updated).toEqual({ ...org, displayName: "Parity, renamed" });
    },
  ],
  [
    "CreateApiAuthToken with permissions and expiresAt; GetMyPermissions; ListOrganizations as the token",
    async (s) => {
      s.ownerExpiresAt = new Date(Math.floor(Date.now() / 1000) * 1000 + 86_400_000);
      const created = await s.admin.ok("CreateApiAuthToken", {
        organizationId: s.orgId,
        name: "owner",
        expiresAt: s.ownerExpiresAt,
        permissions: [...ENGINE_PERMISSIONS],
      });
      expect(created).toMatchObject({ name: "owner", token: expect.stringMatching(/^cnp_/) });
      expect(Date.parse(created.expiresAt)).toBe(s.ownerExpiresAt.getTime());
      s.owner = s.admin.as(created.token);
      s.ids.ownerTokenId = created.apiAuthTokenId;
      expect((await s.owner.ok("GetMyPermissions", { organizationId: s.orgId })).permissions).toEqual([...ENGINE_PERMISSIONS]);
      const { organizations } = await s.owner.ok("ListOrganizations");
      expect(organizations.map((o: any) => o.organizationId)).toEqual([s.orgId]);
    },
  ],
  [
    "ListApiAuthTokens answers {tokens}; GetApiAuthToken; a token mints only within its bounds; UpdateApiAuthToken; RevokeApiAuthToken",
    async (s) => {
      const { tokens } = await s.owner.ok("ListApiAuthTokens", { organizationId: s.orgId });
      expect(tokens).toHaveLength(1);
      const owner = tokens[0];
      expect(owner).toMatchObject({ apiAuthTokenId: s.ids.ownerTokenId, name: "owner", permissions: [...ENGINE_PERMISSIONS] });
      expect(isClientTimestamp(owner.createdAt) && isClientTimestamp(owner.expiresAt)).toBe(true);
      expect(await s.owner.ok("GetApiAuthToken", { organizationId: s.orgId, apiAuthTokenId: s.ids.ownerTokenId })).toEqual(owner);

      const later = await s.owner.send("CreateApiAuthToken", {
        organizationId: s.orgId,
        name: "reader",
        expiresAt: new Date(s.ownerExpiresAt.getTime() + 1000),
        permissions: ["job:read"],
      });
      expectError(later, 403, "AuthorizationError");
      const reader = await s.owner.ok("CreateApiAuthToken", { organizationId: s.orgId, name: "reader", expiresAt: s.ownerExpiresAt, permissions: ["job:read"] });
      const asReader = s.owner.as(reader.token);
      const listRefused = await asReader.send("ListJobs", { organizationId: s.orgId });
      expectError(listRefused, 403, "AuthorizationError");
      expect(listRefused.body.message).toContain("job:list");

      const updated = await s.owner.ok("UpdateApiAuthToken", { organizationId: s.orgId, apiAuthTokenId: reader.apiAuthTokenId, permissions: ["job:read", "job:list"] });
      expect(updated).toMatchObject({ apiAuthTokenId: reader.apiAuthTokenId, name: "reader", permissions: ["job:read", "job:list"] });
      expect(isClientTimestamp(updated.expiresAt)).toBe(true);
      expect((await asReader.ok("ListJobs", { organizationId: s.orgId })).jobs).toEqual([]);
      expectError(await asReader.send("RegisterWorkflow", { organizationId: s.orgId, name: "x" }), 403, "AuthorizationError");

      const revoked = await s.owner.send("RevokeApiAuthToken", { organizationId: s.orgId, apiAuthTokenId: reader.apiAuthTokenId });
      expect(revoked.status).toBe(200);
      expectError(await asReader.send("ListJobs", { organizationId: s.orgId }), 401, "AuthenticationError");
    },
  ],
  [
    "Organization secrets by secretId: Create, List, Get, Update, Resolve, Delete",
    async (s) => {
      const base = { organizationId: s.orgId };
      const created = await s.owner.ok("CreateOrganizationSecret", { ...base, key: "PAYMENTS_TOKEN", value: "v1-secret", description: "payments" });
      expect(created).toMatchObject({ secretId: expect.stringMatching(/^[0-9a-f-]{36}$/), key: "PAYMENTS_TOKEN" });
      const { secrets } = await s.owner.ok("ListOrganizationSecrets", base);
      expect(secrets).toEqual([expect.objectContaining({ secretId: created.secretId, key: "PAYMENTS_TOKEN", description: "payments" })]);
      expect(JSON.stringify(secrets)).not.toContain("v1-secret");
      const got = await s.owner.ok("GetOrganizationSecret", { ...base, secretId: created.secretId });
      expect(got).toMatchObject({ secretId: created.secretId, key: "PAYMENTS_TOKEN", description: "payments" });
      expect(isClientTimestamp(got.createdAt) && isClientTimestamp(got.updatedAt)).toBe(true);
      const updated = await s.owner.ok("UpdateOrganizationSecret", { ...base, secretId: created.secretId, value: "v2-secret" });
      expect(updated).toMatchObject({ secretId: created.secretId, key: "PAYMENTS_TOKEN", description: "payments" });
      expect(await s.owner.ok("ResolveOrganizationSecret", { ...base, key: "PAYMENTS_TOKEN" })).toEqual({ key: "PAYMENTS_TOKEN", value: "v2-secret" });
      expect((await s.owner.send("DeleteOrganizationSecret", { ...base, secretId: created.secretId })).status).toBe(200);
      expectError(await s.owner.send("GetOrganizationSecret", { ...base, secretId: created.secretId }), 404, "NotFoundError");
    },
  ],
  [
    "RegisterWorkflow, ValidateWorkflowVersion, RegisterWorkflowVersion, List/Get versions, SetWorkflowVersionTag, GetTaggedWorkflowVersion",
    async (s) => {
      const base = { organizationId: s.orgId };
      const { workflowId } = await s.owner.ok("RegisterWorkflow", { ...base, name: "Order-Approval" });
      s.ids.workflowId = workflowId;
      expect((await s.owner.ok("ListWorkflows", base)).workflows.map((w: any) => w.workflowId)).toEqual([workflowId]);
      expect(await s.owner.ok("GetWorkflow", { ...base, workflowId })).toMatchObject({ workflowId, name: "Order-Approval" });
      const definition = JSON.stringify(DEFINITION);
      expect(await s.owner.ok("ValidateWorkflowVersion", { ...base, workflowId, definition })).toMatchObject({ valid: true, errors: [] });
      const version = await s.owner.ok("RegisterWorkflowVersion", { ...base, workflowId, definition });
      expect(version).toMatchObject({ workflowId, versionNumber: 1 });
      s.ids.versionId = version.versionId;
      expect((await s.owner.ok("ListWorkflowVersions", { ...base, workflowId })).versions.map((v: any) => v.versionId)).toEqual([version.versionId]);
      expect(await s.owner.ok("GetWorkflowVersion", { ...base, workflowId, versionId: version.versionId })).toMatchObject({ versionNumber: 1, definition });
      const tagged = await s.owner.send("SetWorkflowVersionTag", { ...base, workflowId, tag: "$LIVE", versionId: version.versionId });
      expect(tagged.request.url).toContain("/tags/%24LIVE");
      expect(tagged.status).toBe(200);
      expect(await s.owner.ok("GetTaggedWorkflowVersion", { ...base, workflowId, tag: "$LIVE" })).toEqual({ versionId: version.versionId, versionNumber: 1 });
    },
  ],
  [
    "SubmitJob, GetJob, ListJobs by a part of the name, SendJobEvent, GetWorkflowState, GetWorkflowStateMetadata",
    async (s) => {
      const base = { organizationId: s.orgId };
      const { jobId } = await s.owner.ok("SubmitJob", { ...base, workflowId: s.ids.workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: { order: 7 } });
      await waitFor(async () => (await jobStatus(s, jobId)) === "RUNNING");
      const { job } = await s.owner.ok("GetJob", { ...base, jobId });
      expect(job).toMatchObject({ jobId, workflowId: s.ids.workflowId, workflowName: "Order-Approval", workflowVersion: { versionId: s.ids.versionId, versionNumber: 1 } });
      expect(isClientTimestamp(job.createdAt)).toBe(true);
      const listed = await s.owner.ok("ListJobs", { ...base, workflowName: "order-APP", jobHierarchy: "TOP_LEVEL_ONLY", pageSize: 10 });
      expect(listed.jobs.map((j: any) => j.jobId)).toEqual([jobId]);
      expect(listed.totalCount).toBe(1);
      expect((await s.owner.ok("ListJobs", { ...base, workflowName: "nothing-like-it" })).totalCount).toBe(0);

      expect(await s.owner.ok("SendJobEvent", { ...base, jobId, eventId: "approved", payload: { by: "ops" } })).toEqual({ jobId, eventId: "approved" });
      await waitFor(async () => (await jobStatus(s, jobId)) === "SUCCEEDED");
      const { state } = await s.owner.ok("GetWorkflowState", { ...base, jobId });
      for (const item of state.executionHistory) {
        expect(item).toHaveProperty("input");
        expect(isClientTimestamp(item.startTimestamp) && isClientTimestamp(item.endTimestamp)).toBe(true);
      }
      expect(state.executionHistory.find((h: any) => h.historySource === "external")).toMatchObject({ input: null, eventId: "approved" });
      expect(state.executionHistory[0]).toMatchObject({ stepName: "record", input: { order: 7 } });
      expect((await s.owner.ok("GetWorkflowStateMetadata", { ...base, jobId })).contentLengthBytes).toBeGreaterThan(0);
    },
  ],
  [
    "CancelJob and ResumeJob",
    async (s) => {
      const base = { organizationId: s.orgId };
      const { jobId } = await s.owner.ok("SubmitJob", { ...base, workflowId: s.ids.workflowId, workflowVersion: { versionNumber: 1 } });
      await waitFor(async () => (await jobStatus(s, jobId)) === "RUNNING");
      expect(await s.owner.ok("CancelJob", { ...base, jobId })).toEqual({ jobId });
      await waitFor(async () => (await jobStatus(s, jobId)) === "CANCELLED");
      expectError(await s.owner.send("CancelJob", { ...base, jobId }), 409, "ConflictError");
      expect(await s.owner.ok("ResumeJob", { ...base, jobId })).toEqual({ jobId });
      await waitFor(async () => (await jobStatus(s, jobId)) === "RUNNING");
      await s.owner.ok("SendJobEvent", { ...base, jobId, eventId: "approved" });
      await waitFor(async () => (await jobStatus(s, jobId)) === "SUCCEEDED");
      // Left running for the deletion step.
      s.ids.runningJobId = (await s.owner.ok("SubmitJob", { ...base, workflowId: s.ids.workflowId, workflowVersion: { tag: "$LIVE" } })).jobId;
    },
  ],
  [
    "GetWorkflowMetricTimeSeries; a failed job's notification through ListNotifications, MarkNotificationRead, MarkAllNotificationsRead",
    async (s) => {
      const base = { organizationId: s.orgId };
      const { workflowId } = await s.owner.ok("RegisterWorkflow", { ...base, name: "Always-Fails" });
      const failing = workflow("Always-Fails", [step("check", "/justworkflowit/noop", { output: "strict" })], { strict: { type: "object", required: ["never"] } });
      const version = await s.owner.ok("RegisterWorkflowVersion", { ...base, workflowId, definition: JSON.stringify(failing) });
      await s.owner.ok("SetWorkflowVersionTag", { ...base, workflowId, tag: "$LIVE", versionId: version.versionId });
      const { jobId } = await s.owner.ok("SubmitJob", { ...base, workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: {} });
      await waitFor(async () => (await jobStatus(s, jobId)) === "FAILED");

      // The client's serializeDateTime: RFC 3339, no zero milliseconds.
      const at = (ms: number) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
      const series = (metric: string, aggregation: string) =>
        s.owner.ok("GetWorkflowMetricTimeSeries", { ...base, metric, aggregation, bucket: "hour", since: at(Date.now() - 3_600_000), until: at(Date.now() + 3_600_000) });
      const sum = async (metric: string, aggregation = "count") => ((await series(metric, aggregation)).results as { value: number }[]).reduce((n, p) => n + p.value, 0);
      // Four top-level jobs so far: the approved one, the cancelled and resumed one, the one left running, this one.
      await waitFor(async () => (await sum("jobs_submitted")) === 4 && (await sum("jobs_failed")) === 1);
      for (const point of (await series("jobs_submitted", "count")).results) {
        expect(Object.keys(point).sort()).toEqual(["timestamp", "value"]);
        expect(Number.isNaN(Date.parse(point.timestamp))).toBe(false);
      }
      expect(await sum("jobs_completed_successfully")).toBe(2);

      await waitFor(async () => (await s.owner.ok("ListNotifications", base)).notifications.length === 1);
      const listed = await s.owner.ok("ListNotifications", base);
      expect(listed.unreadCount).toBe(1);
      const [notification] = listed.notifications;
      expect(notification).toMatchObject({ severity: "ERROR", read: false, type: "JOB_FAILED", resourceId: jobId });
      expect(Number.isNaN(Date.parse(notification.createdAt))).toBe(false);
      expect(await s.owner.ok("MarkNotificationRead", { ...base, notificationId: notification.notificationId })).toEqual({ notificationId: notification.notificationId });
      expect((await s.owner.ok("ListNotifications", base)).unreadCount).toBe(0);
      expect(await s.owner.ok("MarkAllNotificationsRead", base)).toEqual({ markedCount: 0 });
      expectError(await s.owner.send("MarkNotificationRead", { ...base, notificationId: crypto.randomUUID() }), 404, "NotFoundError");
    },
  ],
  [
    "CreateResourcePool, GetResourcePool, ListResourcePools, UpdateResourcePool: one job at a time, the next PENDING until a slot frees, DeleteResourcePool",
    async (s) => {
      const base = { organizationId: s.orgId };
      const { poolId } = await s.owner.ok("CreateResourcePool", { ...base, name: "approvals", workerLimit: 1, targetsAllWorkflows: false, targetedWorkflowIds: [s.ids.workflowId] });
      expect((await s.owner.ok("ListResourcePools", base)).resourcePools).toEqual([
        expect.objectContaining({ poolId, name: "approvals", workerLimit: 1, targetsAllWorkflows: false, targetedWorkflowIds: [s.ids.workflowId] }),
      ]);
      const submit = async () => (await s.owner.ok("SubmitJob", { ...base, workflowId: s.ids.workflowId, workflowVersion: { tag: "$LIVE" } })).jobId as string;
      const first = await submit();
      await waitFor(async () => (await jobStatus(s, first)) === "RUNNING");
      const second = await submit();
      await waitFor(async () => (await s.owner.ok("GetResourcePool", { ...base, poolId })).resourcePool.queuedJobs === 1);
      const waiting = (await s.owner.ok("GetJob", { ...base, jobId: second })).job;
      expect(waiting).toMatchObject({ status: "PENDING", waitingForResourcePool: { poolId } });
      // A raised limit admits the waiting job at once.
      expect(await s.owner.ok("UpdateResourcePool", { ...base, poolId, name: "approvals", workerLimit: 2, targetsAllWorkflows: false, targetedWorkflowIds: [s.ids.workflowId] })).toEqual({ poolId });
      await waitFor(async () => (await jobStatus(s, second)) === "RUNNING");
      for (const jobId of [first, second]) {
        await s.owner.ok("SendJobEvent", { ...base, jobId, eventId: "approved" });
        await waitFor(async () => (await jobStatus(s, jobId)) === "SUCCEEDED");
      }
      expect(await s.owner.ok("DeleteResourcePool", { ...base, poolId })).toEqual({ poolId });
      expectError(await s.owner.send("GetResourcePool", { ...base, poolId }), 404, "NotFoundError");
    },
  ],
  [
    "an operation Canopy does not have answers 404 UnknownOperation; an unknown id answers NotFoundError",
    async (s) => {
      expectError(await s.owner.send("ListRoles", { organizationId: s.orgId }), 404, "UnknownOperation");
      expectError(await s.owner.send("GetJob", { organizationId: s.orgId, jobId: crypto.randomUUID() }), 404, "NotFoundError");
    },
  ],
  [
    "DeleteOrganization: nothing readable afterwards, the token revoked",
    async (s) => {
      expect((await s.owner.send("DeleteOrganization", { organizationId: s.orgId })).status).toBe(200);
      expectError(await s.admin.send("GetOrganization", { organizationId: s.orgId }), 404, "NotFoundError");
      expectError(await s.admin.send("GetJob", { organizationId: s.orgId, jobId: s.ids.runningJobId! }), 404, "NotFoundError");
      expectError(await s.owner.send("GetOrganization", { organizationId: s.orgId }), 401, "AuthenticationError");
      expect((await s.admin.ok("ListOrganizations")).organizations.some((o: any) => o.organizationId === s.orgId)).toBe(false);
      expectError(await s.admin.send("DeleteOrganization", { organizationId: s.orgId }), 404, "NotFoundError");
    },
  ],
];

describe("the JustWorkflowIt client's wire format against npm start", () => {
  const server = new SharedServer();
  const scenario = { ids: {} } as Scenario;
  beforeAll(async () => {
    await server.connect();
    scenario.admin = new WireClient(server.baseUrl, server.adminToken);
  });

  for (const [name, run] of STEPS) it(name, () => run(scenario), 120_000);

  it("sent every request with the bare Authorization header the client's API-key scheme writes", async () => {
    const res = await scenario.admin.send("ListOrganizations");
    expect(res.request.headers).toEqual({ Authorization: server.adminToken });
    // The server is shared (test/e2e/shared-server.ts): the line must name this scenario's organization.
    const deleted = server.logs.split("\n").filter((line) => line.includes('"event":"organization.deleted"'));
    expect(deleted.some((line) => line.includes(`"organizationId":"${scenario.orgId}"`))).toBe(true);
  });
});
