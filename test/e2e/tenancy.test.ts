// Tenancy over real HTTP: organization B's token tries every route on organization A's resources,
// by A's paths (403) and by B's own paths with A's ids (404). Nothing of A is readable or
// changeable: A reads back exactly what it had, and no answer carries A's data.
import { beforeAll, describe, expect, it } from "vitest";
import { deployWorkflow, newTenant, type ApiResponse, type TestClient } from "../helpers/client";
import { step, submit, waitForJob, workflow } from "../helpers/jobs";
import { createTrigger, githubHeaders, postHook } from "../helpers/webhooks";
import { listAllJobs, printServerLogsOnFailure, waitForCount } from "./jobs";
import { SharedServer } from "./shared-server";

// Every string of A's that must never reach B carries this marker.
const A = "tenant-a-private";

const child = workflow(`${A}-child`, [step("hold", "/justworkflowit/waitForEventIds", { config: { eventIds: ["go"] } })]);
const parent = workflow(`${A}-parent`, [
  step("fan", "/justworkflowit/runChildJob", {
    config: { children: [{ workflowName: child.workflowName, workflowVersion: { tag: "$LIVE" }, forEach: { arrayPath: "workflowInput.items" } }] },
  }),
]);
const failing = workflow(`${A}-failing`, [step("check", "/justworkflowit/noop", { output: "strict" })], {
  strict: { type: "object", required: ["never"] },
});
const own = workflow("b-own", [step("only", "/justworkflowit/noop")]);

const metricQuery = new URLSearchParams({
  metric: "jobs_failed",
  aggregation: "count",
  bucket: "hour",
  since: new Date(Date.now() - 3_600_000).toISOString(),
  until: new Date(Date.now() + 3_600_000).toISOString(),
}).toString();

interface Case {
  name: string;
  method: string;
  path: string;
  body?: unknown;
  status: 403 | 404 | 401;
}

describe("another organization's token", () => {
  const server = new SharedServer();
  let a: { orgId: string; client: TestClient; token: string };
  let b: { orgId: string; client: TestClient; token: string };
  let ids: Record<string, string>;
  let before: unknown;

  /** Everything of A's, as A reads it. */
  async function snapshotOfA() {
    const o = `/organizations/${a.orgId}`;
    const read = (path: string) => a.client.expect(200, a.client.get(path));
    const jobs = await listAllJobs(a.client, a.orgId);
    return {
      organizations: await read("/organizations"),
      organization: await read(o),
      tokens: await read(`${o}/api-auth-tokens`),
      workflows: await read(`${o}/workflows`),
      versions: await read(`${o}/workflows/${ids.parentWorkflow}/versions`),
      live: await read(`${o}/workflows/${ids.parentWorkflow}/tags/$LIVE`),
      secrets: await read(`${o}/secrets`),
      secret: await read(`${o}/secrets/A_SECRET`),
      triggers: await read(`${o}/webhook-triggers`),
      notifications: await read(`${o}/notifications`),
      notificationSettings: await read(`${o}/notification-settings`),
      schedule: await read(`${o}/schedules/${ids.schedule}`),
      pool: await read(`${o}/resource-pools/${ids.pool}`),
      egressPolicy: await read(`${o}/egress-policy`),
      retention: await read(`${o}/retention`),
      jobs,
      details: await Promise.all(jobs.map(async (j) => [await read(`${o}/jobs/${j.jobId}`), await read(`${o}/jobs/${j.jobId}/state`)])),
    };
  }

  beforeAll(async () => {
    await server.connect();
    a = await newTenant(server.admin);
    b = await newTenant(server.admin);
    const o = `/organizations/${a.orgId}`;
    await deployWorkflow(a.client, a.orgId, child);
    const p = await deployWorkflow(a.client, a.orgId, parent);
    const v2 = await a.client.expect(200, a.client.post(`${o}/workflows/${p.workflowId}/versions`, { definition: JSON.stringify(parent) }));
    const f = await deployWorkflow(a.client, a.orgId, failing);
    const spare = await a.client.expect(200, a.client.post(`${o}/api-auth-tokens`, { name: `${A}-spare` }));
    await a.client.expect(200, a.client.post(`${o}/secrets`, { key: "A_SECRET", value: `${A}-value`, description: `${A}-description`, allowedHosts: [`${A}.example.com`] }));
    // A yearly schedule (it fires in no test's lifetime) and a pool, for their routes.
    const schedule = await a.client.expect(200, a.client.post(`${o}/schedules`, { workflowId: p.workflowId, workflowVersion: { tag: "$LIVE" }, cron: "0 0 1 1 *", inputJson: { items: [] } }));
    const pool = await a.client.expect(200, a.client.post(`${o}/resource-pools`, { name: `${A}-pool`, workerLimit: 5, targetedWorkflowIds: [f.workflowId] }));
    const trigger = await createTrigger(a.client, a.orgId, { name: `${A}-hook`, workflowId: p.workflowId, workflowVersion: { tag: "$LIVE" }, scheme: "github" });
    const running = await submit(a.client, a.orgId, {
      workflowId: p.workflowId,
      workflowVersion: { tag: "$LIVE" },
      inputJson: { items: [{ salary: `${A}-1` }] },
      idempotencyKey: "shared-key",
    });
    const failed = await submit(a.client, a.orgId, { workflowId: f.workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: { note: `${A}-2` } });
    await waitForJob(a.client, a.orgId, failed, (j) => j.status === "FAILED", 30_000);
    await waitForCount(a.client, a.orgId, { jobHierarchy: "CHILD_JOBS_ONLY", status: "RUNNING" }, 1, 30_000);
    const [childJob] = await listAllJobs(a.client, a.orgId, { jobHierarchy: "CHILD_JOBS_ONLY" });
    await a.client.expect(200, a.client.put(`${o}/notification-settings`, { url: `https://${A}.example.com/hook` }));
    // The failed job raised A's notification (its alarm raises it just after the job ends).
    let notification: { notificationId: string } | undefined;
    for (let i = 0; i < 300 && !notification; i++) {
      [notification] = (await a.client.expect(200, a.client.get(`${o}/notifications`))).notifications;
      if (!notification) await new Promise((r) => setTimeout(r, 100));
    }
    ids = {
      parentWorkflow: p.workflowId,
      v1: p.versionId,
      v2: v2.versionId,
      token: spare.apiAuthTokenId,
      trigger: trigger.triggerId,
      triggerUrl: trigger.url,
      running,
      failed,
      child: childJob.jobId,
      notification: notification!.notificationId,
      schedule: schedule.scheduleId,
      pool: pool.poolId,
    };
    before = await snapshotOfA();
  });
  printServerLogsOnFailure(server);

  /** B's request; the answer is an error in the API's format and carries nothing of A's. */
  async function attempt(c: Case): Promise<ApiResponse> {
    const res = await b.client.call(c.method, c.path, c.body);
    const what = `${c.name}: ${c.method} ${c.path} -> ${res.status} ${JSON.stringify(res.body)}`;
    expect(res.status, what).toBe(c.status);
    expect(res.body?.code, what).toBeTypeOf("string");
    expect(res.headers.get("x-amzn-errortype"), what).toBe(res.body.code);
    // (A name B sent itself may come back in the message: that reveals nothing.)
    if (!JSON.stringify(c.body ?? "").includes(A)) expect(JSON.stringify(res.body), what).not.toContain(A);
    return res;
  }

  it("is refused on every route of A's organization (403)", async () => {
    const o = `/organizations/${a.orgId}`;
    const wf = `${o}/workflows/${ids.parentWorkflow}`;
    const definition = JSON.stringify(parent);
    const cases: Case[] = [
      { name: "CreateOrganization (admin only)", method: "POST", path: "/organizations", body: { name: "evil", key: "evil", displayName: "Evil" }, status: 403 },
      { name: "GetOrganization", method: "GET", path: o, status: 403 },
      { name: "UpdateOrganization", method: "PATCH", path: o, body: { displayName: "Evil" }, status: 403 },
      { name: "DeleteOrganization", method: "DELETE", path: o, status: 403 },
      { name: "GetMyPermissions", method: "GET", path: `${o}/users/me/permissions`, status: 403 },
      { name: "CreateApiAuthToken", method: "POST", path: `${o}/api-auth-tokens`, body: { name: "evil" }, status: 403 },
      { name: "ListApiAuthTokens", method: "GET", path: `${o}/api-auth-tokens`, status: 403 },
      { name: "GetApiAuthToken", method: "GET", path: `${o}/api-auth-tokens/${ids.token}`, status: 403 },
      { name: "UpdateApiAuthToken", method: "PATCH", path: `${o}/api-auth-tokens/${ids.token}`, body: { permissions: [] }, status: 403 },
      { name: "RevokeApiAuthToken", method: "DELETE", path: `${o}/api-auth-tokens/${ids.token}`, status: 403 },
      { name: "RegisterWorkflow", method: "POST", path: `${o}/workflows`, body: { name: "evil" }, status: 403 },
      { name: "ListWorkflows", method: "GET", path: `${o}/workflows`, status: 403 },
      { name: "GetWorkflow", method: "GET", path: wf, status: 403 },
      { name: "RegisterWorkflowVersion", method: "POST", path: `${wf}/versions`, body: { definition }, status: 403 },
      { name: "ValidateWorkflowVersion", method: "POST", path: `${wf}/versions/validate`, body: { definition }, status: 403 },
      { name: "ListWorkflowVersions", method: "GET", path: `${wf}/versions`, status: 403 },
      { name: "GetWorkflowVersion", method: "GET", path: `${wf}/versions/${ids.v1}`, status: 403 },
      { name: "SetWorkflowVersionTag", method: "PUT", path: `${wf}/tags/$LIVE`, body: { versionId: ids.v2 }, status: 403 },
      { name: "GetTaggedWorkflowVersion", method: "GET", path: `${wf}/tags/$LIVE`, status: 403 },
      { name: "SubmitJob", method: "POST", path: `${o}/jobs`, body: { workflowId: ids.parentWorkflow, workflowVersion: { tag: "$LIVE" }, inputJson: { items: [] } }, status: 403 },
      { name: "ListJobs", method: "GET", path: `${o}/jobs`, status: 403 },
      ...jobCases(o, 403),
      { name: "CreateSecret", method: "POST", path: `${o}/secrets`, body: { key: "A_SECRET", value: "evil" }, status: 403 },
      { name: "ListSecrets", method: "GET", path: `${o}/secrets`, status: 403 },
      { name: "GetSecret", method: "GET", path: `${o}/secrets/A_SECRET`, status: 403 },
      { name: "UpdateSecret", method: "PATCH", path: `${o}/secrets/A_SECRET`, body: { allowedHosts: null }, status: 403 },
      { name: "DeleteSecret", method: "DELETE", path: `${o}/secrets/A_SECRET`, status: 403 },
      { name: "UpdateOrganizationSecret", method: "PUT", path: `${o}/secrets/A_SECRET`, body: { value: "evil" }, status: 403 },
      { name: "ResolveOrganizationSecret", method: "POST", path: `${o}/secrets/resolve`, body: { key: "A_SECRET" }, status: 403 },
      { name: "CreateWebhookTrigger", method: "POST", path: `${o}/webhook-triggers`, body: { name: "evil", workflowId: ids.parentWorkflow, workflowVersion: { tag: "$LIVE" }, scheme: "github" }, status: 403 },
      { name: "ListWebhookTriggers", method: "GET", path: `${o}/webhook-triggers`, status: 403 },
      { name: "DeleteWebhookTrigger", method: "DELETE", path: `${o}/webhook-triggers/${ids.trigger}`, status: 403 },
      { name: "GetWorkflowMetricTimeSeries", method: "GET", path: `${o}/workflow-metrics/timeseries?${metricQuery}`, status: 403 },
      { name: "ListNotifications", method: "GET", path: `${o}/notifications`, status: 403 },
      { name: "MarkNotificationRead", method: "PUT", path: `${o}/notifications/${ids.notification}/read`, status: 403 },
      { name: "MarkAllNotificationsRead", method: "PUT", path: `${o}/notifications/read-all`, status: 403 },
      { name: "PutNotificationSettings", method: "PUT", path: `${o}/notification-settings`, body: { url: "https://evil.example.com/" }, status: 403 },
      { name: "GetNotificationSettings", method: "GET", path: `${o}/notification-settings`, status: 403 },
      { name: "DeleteNotificationSettings", method: "DELETE", path: `${o}/notification-settings`, status: 403 },
      { name: "RerunJobs", method: "POST", path: `${o}/jobs/rerun`, body: { filter: { status: "FAILED" } }, status: 403 },
      { name: "SubmitJobs (batch)", method: "POST", path: `${o}/jobs/batch`, body: { jobs: [{ workflowId: ids.parentWorkflow, workflowVersion: { tag: "$LIVE" }, inputJson: { items: [] } }] }, status: 403 },
      { name: "GetEgressPolicy", method: "GET", path: `${o}/egress-policy`, status: 403 },
      { name: "PutEgressPolicy", method: "PUT", path: `${o}/egress-policy`, body: { allowedHosts: ["evil.example.com"] }, status: 403 },
      ...poolCases(o, 403),
      ...scheduleCases(o, 403),
      { name: "ListAuditLog", method: "GET", path: `${o}/audit-log`, status: 403 },
      { name: "GetRetention", method: "GET", path: `${o}/retention`, status: 403 },
      { name: "PutRetention", method: "PUT", path: `${o}/retention`, body: { succeededSeconds: 60 }, status: 403 },
    ];
    for (const c of cases) await attempt(c);
    await expectEveryOrganizationRouteTried(cases);
  });

  /**
   * Every route under /organizations/{organizationId} in the API's own document was tried: a route
   * added later fails this test until it is in the list above.
   */
  async function expectEveryOrganizationRouteTried(cases: Case[]): Promise<void> {
    const doc = (await (await fetch(`${server.baseUrl}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const untried: string[] = [];
    for (const [template, operations] of Object.entries(doc.paths)) {
      if (!template.startsWith("/organizations/{organizationId}")) continue;
      const pattern = new RegExp(`^${template.replace(/[$]/g, "\\$").replace(/\{[^}]+\}/g, "[^/]+")}$`);
      for (const method of Object.keys(operations)) {
        if (!["get", "post", "put", "patch", "delete"].includes(method)) continue;
        const tried = cases.some((c) => c.method === method.toUpperCase() && pattern.test(c.path.split("?")[0]!));
        if (!tried) untried.push(`${method.toUpperCase()} ${template}`);
      }
    }
    expect(untried).toEqual([]);
  }

  /** A's resource pool's routes, on the path of the organization given. */
  function poolCases(o: string, status: 403 | 404): Case[] {
    const pool = `${o}/resource-pools/${ids.pool}`;
    return [
      ...(status === 403
        ? [
            { name: "CreateResourcePool", method: "POST", path: `${o}/resource-pools`, body: { name: "evil", workerLimit: 1 }, status },
            { name: "ListResourcePools", method: "GET", path: `${o}/resource-pools`, status },
          ]
        : []),
      { name: "GetResourcePool", method: "GET", path: pool, status },
      { name: "UpdateResourcePool", method: "PUT", path: pool, body: { workerLimit: 1 }, status },
      { name: "DeleteResourcePool", method: "DELETE", path: pool, status },
    ];
  }

  /** A's schedule's routes, on the path of the organization given. */
  function scheduleCases(o: string, status: 403 | 404): Case[] {
    const schedule = `${o}/schedules/${ids.schedule}`;
    const range = { startAt: "2026-01-01T00:00:00Z", endAt: "2026-01-02T00:00:00Z" };
    return [
      ...(status === 403
        ? [
            { name: "CreateSchedule", method: "POST", path: `${o}/schedules`, body: { workflowId: ids.parentWorkflow, workflowVersion: { tag: "$LIVE" }, cron: "* * * * *" }, status },
            { name: "ListSchedules", method: "GET", path: `${o}/schedules`, status },
          ]
        : []),
      { name: "GetSchedule", method: "GET", path: schedule, status },
      { name: "UpdateSchedule", method: "PUT", path: schedule, body: { workflowId: ids.parentWorkflow, workflowVersion: { tag: "$LIVE" }, cron: "* * * * *" }, status },
      { name: "DeleteSchedule", method: "DELETE", path: schedule, status },
      { name: "PauseSchedule", method: "POST", path: `${schedule}/pause`, status },
      { name: "UnpauseSchedule", method: "POST", path: `${schedule}/unpause`, status },
      { name: "TriggerScheduleNow", method: "POST", path: `${schedule}/trigger`, status },
      { name: "BackfillSchedule", method: "POST", path: `${schedule}/backfill`, body: range, status },
    ];
  }

  /** The job routes, for the running parent, its running child and the failed job. */
  function jobCases(o: string, status: 403 | 404): Case[] {
    return [ids.running!, ids.child!, ids.failed!].flatMap((jobId) => [
      { name: "GetJob", method: "GET", path: `${o}/jobs/${jobId}`, status },
      { name: "GetWorkflowState", method: "GET", path: `${o}/jobs/${jobId}/state`, status },
      { name: "GetWorkflowStateMetadata", method: "GET", path: `${o}/jobs/${jobId}/state/metadata`, status },
      { name: "SendJobEvent", method: "POST", path: `${o}/jobs/${jobId}/events`, body: { eventId: "go", payload: { evil: true } }, status },
      { name: "CancelJob", method: "POST", path: `${o}/jobs/${jobId}/cancel`, status },
      { name: "ResumeJob", method: "POST", path: `${o}/jobs/${jobId}/resume`, status },
      { name: "RerunJob", method: "POST", path: `${o}/jobs/${jobId}/rerun`, body: {}, status },
      { name: "PauseJob", method: "POST", path: `${o}/jobs/${jobId}/pause`, status },
      { name: "UnpauseJob", method: "POST", path: `${o}/jobs/${jobId}/unpause`, status },
      { name: "DeleteJob", method: "DELETE", path: `${o}/jobs/${jobId}`, status },
      { name: "GetExecutionDataValue", method: "GET", path: `${o}/jobs/${jobId}/state/data/workflowInput`, status },
      { name: "GetExecutionHistoryPayload", method: "GET", path: `${o}/jobs/${jobId}/state/history/1/output`, status },
    ]);
  }

  it("finds none of A's resources through its own organization's paths (404)", async () => {
    const o = `/organizations/${b.orgId}`;
    const wf = `${o}/workflows/${ids.parentWorkflow}`;
    const definition = JSON.stringify(parent);
    const cases: Case[] = [
      { name: "RevokeApiAuthToken (A's token id)", method: "DELETE", path: `${o}/api-auth-tokens/${ids.token}`, status: 404 },
      { name: "GetWorkflow", method: "GET", path: wf, status: 404 },
      { name: "RegisterWorkflowVersion", method: "POST", path: `${wf}/versions`, body: { definition }, status: 404 },
      { name: "ValidateWorkflowVersion", method: "POST", path: `${wf}/versions/validate`, body: { definition }, status: 404 },
      { name: "ListWorkflowVersions", method: "GET", path: `${wf}/versions`, status: 404 },
      { name: "GetWorkflowVersion", method: "GET", path: `${wf}/versions/${ids.v1}`, status: 404 },
      { name: "SetWorkflowVersionTag", method: "PUT", path: `${wf}/tags/$LIVE`, body: { versionId: ids.v2 }, status: 404 },
      { name: "GetTaggedWorkflowVersion", method: "GET", path: `${wf}/tags/$LIVE`, status: 404 },
      { name: "SubmitJob (A's workflow id)", method: "POST", path: `${o}/jobs`, body: { workflowId: ids.parentWorkflow, workflowVersion: { tag: "$LIVE" }, inputJson: { items: [] } }, status: 404 },
      { name: "SubmitJob (A's workflow name)", method: "POST", path: `${o}/jobs`, body: { workflowName: parent.workflowName, workflowVersion: { tag: "$LIVE" }, inputJson: { items: [] } }, status: 404 },
      ...jobCases(o, 404),
      { name: "GetSecret (A's key)", method: "GET", path: `${o}/secrets/A_SECRET`, status: 404 },
      { name: "UpdateSecret (A's key)", method: "PATCH", path: `${o}/secrets/A_SECRET`, body: { allowedHosts: null }, status: 404 },
      { name: "DeleteSecret (A's key)", method: "DELETE", path: `${o}/secrets/A_SECRET`, status: 404 },
      { name: "UpdateOrganizationSecret (A's key)", method: "PUT", path: `${o}/secrets/A_SECRET`, body: { value: "evil" }, status: 404 },
      { name: "GetApiAuthToken (A's token id)", method: "GET", path: `${o}/api-auth-tokens/${ids.token}`, status: 404 },
      { name: "UpdateApiAuthToken (A's token id)", method: "PATCH", path: `${o}/api-auth-tokens/${ids.token}`, body: { permissions: [] }, status: 404 },
      { name: "CreateWebhookTrigger (A's workflow)", method: "POST", path: `${o}/webhook-triggers`, body: { name: "evil", workflowId: ids.parentWorkflow, workflowVersion: { tag: "$LIVE" }, scheme: "github" }, status: 404 },
      { name: "DeleteWebhookTrigger (A's trigger)", method: "DELETE", path: `${o}/webhook-triggers/${ids.trigger}`, status: 404 },
      { name: "GetWorkflowMetricTimeSeries (A's workflow)", method: "GET", path: `${o}/workflow-metrics/timeseries?${metricQuery}&workflowId=${ids.parentWorkflow}`, status: 404 },
      { name: "MarkNotificationRead (A's notification)", method: "PUT", path: `${o}/notifications/${ids.notification}/read`, status: 404 },
      ...poolCases(o, 404),
      ...scheduleCases(o, 404),
    ];
    for (const c of cases) await attempt(c);
  });

  it("cannot reach A's versions or workflows from its own workflows", async () => {
    const { workflowId } = await deployWorkflow(b.client, b.orgId, own);
    const wf = `/organizations/${b.orgId}/workflows/${workflowId}`;
    await attempt({ name: "tag B's workflow with A's version", method: "PUT", path: `${wf}/tags/$STAGING`, body: { versionId: ids.v2 }, status: 404 });
    await attempt({ name: "read A's version under B's workflow", method: "GET", path: `${wf}/versions/${ids.v1}`, status: 404 });
    await attempt({
      name: "submit B's workflow pinned to A's version",
      method: "POST",
      path: `/organizations/${b.orgId}/jobs`,
      body: { workflowId, workflowVersion: { versionId: ids.v1 } },
      status: 404,
    });
    // The same idempotency key names B's own job, not A's.
    const keyed = await b.client.expect(200, b.client.post(`/organizations/${b.orgId}/jobs`, { workflowId, workflowVersion: { tag: "$LIVE" }, idempotencyKey: "shared-key" }));
    expect(keyed.jobId).not.toBe(ids.running);
    expect((await b.client.expect(200, b.client.get(`/organizations/${b.orgId}/jobs/${keyed.jobId}`))).job.workflowName).toBe("b-own");
    // A runChildJob naming A's workflow, by id or by name, names nothing in B.
    for (const ref of [{ workflowId: ids.parentWorkflow }, { workflowName: parent.workflowName }]) {
      const sneaky = workflow("b-sneaky", [step("fan", "/justworkflowit/runChildJob", { config: { children: [{ ...ref, workflowVersion: { tag: "$LIVE" } }] } })]);
      const res = await b.client.post(`${wf}/versions`, { definition: JSON.stringify(sneaky) });
      expect(res.status).toBe(400);
      expect(res.body.errors.join("\n")).toMatch(/which does not exist/);
    }
  });

  it("lists only its own organization, workflows and jobs", async () => {
    const o = `/organizations/${b.orgId}`;
    const orgs = await b.client.expect(200, b.client.get("/organizations"));
    expect(orgs.organizations.map((x: any) => x.organizationId)).toEqual([b.orgId]);
    const everything = JSON.stringify([
      orgs,
      await b.client.expect(200, b.client.get(`${o}/workflows`)),
      await b.client.expect(200, b.client.get(`${o}/jobs?jobHierarchy=ALL`)),
      await b.client.expect(200, b.client.get(`${o}/jobs?jobHierarchy=CHILD_JOBS_ONLY`)),
      await b.client.expect(200, b.client.get(`${o}/secrets`)),
      await b.client.expect(200, b.client.get(`${o}/webhook-triggers`)),
      await b.client.expect(200, b.client.get(`${o}/api-auth-tokens`)),
      await b.client.expect(200, b.client.get(`${o}/notifications`)),
      await b.client.expect(200, b.client.get(`${o}/workflow-metrics/timeseries?${metricQuery}`)),
    ]);
    for (const id of Object.values(ids)) expect(everything).not.toContain(id);
    expect(everything).not.toContain(A);
  });

  it("cannot deliver to A's webhook with its own credentials", async () => {
    const body = JSON.stringify({ items: [] });
    const asB = { authorization: `Bearer ${b.token}`, "content-type": "application/json" };
    expect((await postHook(fetch, ids.triggerUrl!, body, asB)).status).toBe(401);
    expect((await postHook(fetch, ids.triggerUrl!, body, { ...asB, ...githubHeaders("B's guess", body) })).status).toBe(401);
  });

  it("changed nothing of A's", async () => {
    expect(await snapshotOfA()).toEqual(before);
    // A's running jobs still run for A: its own event reaches the child, and the parent finishes.
    await a.client.expect(200, a.client.post(`/organizations/${a.orgId}/jobs/${ids.child}/events`, { eventId: "go", payload: { ok: true } }));
    const { job } = await waitForJob(a.client, a.orgId, ids.running!, undefined, 30_000);
    expect(job.status).toBe("SUCCEEDED");
  });
});
