// Retention and DeleteJob (API.md, "Job lifecycle"): a top-level job that has ended goes with its
// whole tree, every run and every record, once its retention has passed or when DeleteJob asks;
// from DeleteJob's answer on the API knows nothing of it. The deletion runs on the root's alarm,
// driven here with runDurableObjectAlarm instead of waiting for it.
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { tenantWith, type TestClient } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import { standardHeaders } from "../../helpers/webhooks";
import { triggerSetup } from "../webhooks/fixture";
import type { JobObject } from "../../../src/job/job-object";
import type { JobIndex } from "../../../src/job-index/job-index";
import { indexShard } from "../../../src/job-index/shards";
import { runObjectName } from "../../../src/job/naming";
import { DEFAULT_RETENTION_SECONDS, MAX_RETENTION_SECONDS, MIN_RETENTION_SECONDS } from "../../../src/limits";

const TIMEOUT = 120_000;
const waitEvents = "/justworkflowit/waitForEventIds";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const leaf = workflow("leaf", [step("hold", waitEvents, { config: { eventIds: ["go"] } })]);
const parent = workflow("parent", [
  step("fan", "/justworkflowit/runChildJob", {
    config: {
      children: [
        { id: "a", workflowName: "leaf", workflowVersion: { tag: "$LIVE" } },
        { id: "b", workflowName: "leaf", workflowVersion: { tag: "$LIVE" } },
      ],
    },
  }),
]);
/** Counts up by one per run, continuing as new until `i` reaches 3: three runs, three objects. */
const looper = workflow("looper", [
  step("work", "/canopy/transform", { config: { output: { i: { "+": [{ var: "workflowInput.i" }, 1] } } } }, { if: [{ "<": [{ var: "work.output.i" }, 3] }, "again", null] }),
  step("again", "/canopy/continueAsNew", { config: { nextStep: "work" } }),
]);
// Port 9 on loopback refuses connections: the job fails at once.
const failing = workflow("failing", [step("call", "/canopy/http", { retries: 0, config: { url: "http://127.0.0.1:9/x" } })]);

const runStub = (jobId: string, run = 1): DurableObjectStub<JobObject> => env.JOBS.get(env.JOBS.idFromName(runObjectName(jobId, run)));

/** The tables and alarm a run object still holds: nothing once it is deleted. */
async function leftIn(jobId: string, run = 1): Promise<{ tables: string[]; alarm: number | null }> {
  return runInDurableObject(runStub(jobId, run), async (_o: JobObject, state) => ({
    tables: state.storage.sql
      .exec<{ name: string }>(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'`)
      .toArray()
      .map((r) => r.name),
    alarm: await state.storage.getAlarm(),
  }));
}

/** Rows in the organization's index shard that name any of these jobs (hidden marks and keys included). */
async function indexRowsNaming(orgId: string, jobIds: string[]): Promise<number> {
  return runInDurableObject(indexShard(env, orgId, 0), (_o: JobIndex, state) => {
    const ids = JSON.stringify(jobIds);
    const count = (sql: string) => state.storage.sql.exec<{ n: number }>(sql, ids).one().n;
    return (
      count(`SELECT COUNT(*) AS n FROM job WHERE job_id IN (SELECT value FROM json_each(?)) OR root_job_id IN (SELECT value FROM json_each(?1))`) +
      count(`SELECT COUNT(*) AS n FROM hidden_tree WHERE root_job_id IN (SELECT value FROM json_each(?))`) +
      count(`SELECT COUNT(*) AS n FROM idempotency_key WHERE job_id IN (SELECT value FROM json_each(?))`)
    );
  });
}

/** Runs the root's alarm until its deletion is over (the root's object holds nothing). */
async function driveDeletion(rootJobId: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while ((await leftIn(rootJobId)).tables.length > 0) {
    if (Date.now() > deadline) throw new Error(`the deletion of ${rootJobId} did not finish: ${JSON.stringify(await runStub(rootJobId).retirement())}`);
    await runDurableObjectAlarm(runStub(rootJobId));
    await sleep(20);
  }
}

/** Makes the root's retention deadline now (as if its retention had passed) and arms its alarm. */
async function expireRetention(rootJobId: string): Promise<number> {
  return runInDurableObject(runStub(rootJobId), (o: JobObject) => {
    const due = o.store.tables.sql.exec<{ due_at: number }>(`SELECT due_at FROM work WHERE kind = 'retire'`).toArray();
    o.store.tables.sql.exec(`UPDATE work SET due_at = ? WHERE kind = 'retire'`, Date.now());
    o.armAlarm(Date.now());
    return due[0]?.due_at ?? 0;
  });
}

/** The children of a job as the index lists them, once it lists `n`. */
async function childrenOf(client: TestClient, orgId: string, jobId: string, n: number): Promise<any[]> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { jobs } = await client.expect(200, client.get(`/organizations/${orgId}/jobs?parentJobId=${jobId}`));
    if (jobs.length >= n || Date.now() > deadline) return jobs;
    await sleep(50);
  }
}

describe("DeleteJob", () => {
  it(
    "refuses a running job and a child, then deletes an ended tree at once from the API's view and frees every object",
    async () => {
      const { client, orgId, ids } = await tenantWith(admin, leaf, parent);
      const jobId = await submit(client, orgId, { workflowId: ids.parent, workflowVersion: { tag: "$LIVE" }, idempotencyKey: "once" });
      const children = await childrenOf(client, orgId, jobId, 2);
      expect(children.map((c) => c.childKey)).toEqual(["a", "b"]);
      for (const c of children) await waitForJob(client, orgId, c.jobId, (j) => j.status === "RUNNING");

      const running = await client.delete(`/organizations/${orgId}/jobs/${jobId}`);
      expect(running.status).toBe(409);
      expect(running.body.code).toBe("ConflictError");
      const child = await client.delete(`/organizations/${orgId}/jobs/${children[0].jobId}`);
      expect(child.status).toBe(409);
      expect(child.body.message).toContain(jobId);
      for (const c of children) await client.expect(200, client.post(`/organizations/${orgId}/jobs/${c.jobId}/events`, { eventId: "go" }));
      await waitForJob(client, orgId, jobId);
      expect((await childrenOf(client, orgId, jobId, 2)).length).toBe(2);

      expect(await client.expect(200, client.delete(`/organizations/${orgId}/jobs/${jobId.toUpperCase()}`))).toEqual({ jobId });
      // From the answer on, nothing of the tree is readable, whatever the sweep has done yet.
      for (const id of [jobId, ...children.map((c) => c.jobId)]) {
        expect((await client.get(`/organizations/${orgId}/jobs/${id}`)).status).toBe(404);
        expect((await client.get(`/organizations/${orgId}/jobs/${id}/state`)).status).toBe(404);
        expect((await client.post(`/organizations/${orgId}/jobs/${id}/resume`)).status).toBe(404);
      }
      const listed = await client.expect(200, client.get(`/organizations/${orgId}/jobs`));
      expect(listed.totalCount).toBe(0);
      expect((await client.expect(200, client.get(`/organizations/${orgId}/jobs?rootJobId=${jobId}`))).jobs).toEqual([]);
      expect((await client.delete(`/organizations/${orgId}/jobs/${jobId}`)).status).toBe(404);
      // Its idempotency key went with it: the same key starts a new job.
      const again = await submit(client, orgId, { workflowId: ids.parent, workflowVersion: { tag: "$LIVE" }, idempotencyKey: "once" });
      expect(again).not.toBe(jobId);

      await driveDeletion(jobId);
      for (const id of [jobId, ...children.map((c) => c.jobId)]) expect(await leftIn(id)).toEqual({ tables: [], alarm: null });
      expect(await indexRowsNaming(orgId, [jobId, ...children.map((c) => c.jobId)])).toBe(0);
      expect((await client.get(`/organizations/${orgId}/jobs/${jobId}`)).status).toBe(404);
    },
    TIMEOUT,
  );

  it("sends the root's own metrics still waiting in it to the index before deleting it: rollups stay", async () => {
    const { client, orgId, ids } = await tenantWith(admin, looper);
    const jobId = await submit(client, orgId, { workflowId: ids.looper, workflowVersion: { tag: "$LIVE" }, inputJson: { i: 0 } });
    await waitForJob(client, orgId, jobId);
    // Observations the job's alarm has not sent yet when DeleteJob comes (a deletion right after the end).
    await runInDurableObject(runStub(jobId), (o: JobObject) =>
      o.store.transaction(() =>
        o.store.metrics.record(
          [1, 2, 3].map((i) => ({ key: `late:${i}`, organizationId: orgId, workflowId: ids.looper!, metric: "step_failures" as const, at: Date.now(), value: 1 })),
          Date.now(),
          300_000,
        ),
      ),
    );
    await client.expect(200, client.delete(`/organizations/${orgId}/jobs/${jobId}`));
    await driveDeletion(jobId);
    const qs = new URLSearchParams({ metric: "step_failures", aggregation: "count", bucket: "hour", since: new Date(Date.now() - 3_600_000).toISOString(), until: new Date(Date.now() + 3_600_000).toISOString() });
    const series = await client.expect(200, client.get(`/organizations/${orgId}/workflow-metrics/timeseries?${qs}`));
    expect(series.results.reduce((n: number, p: any) => n + p.value, 0)).toBe(3);
  });

  it("needs job:delete, which tokens without a list have", async () => {
    const { client, orgId, ids } = await tenantWith(admin, looper);
    const jobId = await submit(client, orgId, { workflowId: ids.looper, workflowVersion: { tag: "$LIVE" }, inputJson: { i: 0 } });
    await waitForJob(client, orgId, jobId);
    const reader = await client.expect(200, client.post(`/organizations/${orgId}/api-auth-tokens`, { name: "reader", permissions: ["job:read"] }));
    const refused = await client.as(reader.token).delete(`/organizations/${orgId}/jobs/${jobId}`);
    expect(refused.status).toBe(403);
    expect(JSON.stringify(refused.body)).toContain("job:delete");
    const mine = await client.expect(200, client.get(`/organizations/${orgId}/users/me/permissions`));
    expect(mine.permissions).toContain("job:delete");
  });
});

describe("retention", () => {
  it("answers the defaults, changes any of the three, and refuses values out of bounds", async () => {
    const { client, orgId } = await tenantWith(admin);
    const base = `/organizations/${orgId}/retention`;
    const all = (s: number) => ({ succeededSeconds: s, failedSeconds: s, cancelledSeconds: s });
    expect(await client.expect(200, client.get(base))).toEqual(all(DEFAULT_RETENTION_SECONDS));
    expect(await client.expect(200, client.put(base, { failedSeconds: MIN_RETENTION_SECONDS }))).toEqual({ ...all(DEFAULT_RETENTION_SECONDS), failedSeconds: MIN_RETENTION_SECONDS });
    expect(await client.expect(200, client.put(base, { cancelledSeconds: MAX_RETENTION_SECONDS }))).toEqual({
      ...all(DEFAULT_RETENTION_SECONDS),
      failedSeconds: MIN_RETENTION_SECONDS,
      cancelledSeconds: MAX_RETENTION_SECONDS,
    });
    for (const bad of [{ succeededSeconds: MIN_RETENTION_SECONDS - 1 }, { failedSeconds: MAX_RETENTION_SECONDS + 1 }, { failedSeconds: 61.5 }, {}, { other: 60 }]) {
      const res = await client.put(base, bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
    }
    expect((await client.expect(200, client.get(base))).failedSeconds).toBe(MIN_RETENTION_SECONDS);
    const reader = await client.expect(200, client.post(`/organizations/${orgId}/api-auth-tokens`, { name: "r", permissions: ["organization:read"] }));
    expect((await client.as(reader.token).get(base)).status).toBe(200);
    expect((await client.as(reader.token).put(base, { failedSeconds: 60 })).status).toBe(403);
  });

  it(
    "deletes a job with every continueAsNew run, a FAILED job and a CANCELLED job once their retention has passed",
    async () => {
      const { client, orgId, ids } = await tenantWith(admin, looper, failing, leaf);
      await client.expect(200, client.put(`/organizations/${orgId}/retention`, { succeededSeconds: 60, failedSeconds: 120, cancelledSeconds: 180 }));
      const loop = await submit(client, orgId, { workflowId: ids.looper, workflowVersion: { tag: "$LIVE" }, inputJson: { i: 0 } });
      const failed = await submit(client, orgId, { workflowId: ids.failing, workflowVersion: { tag: "$LIVE" } });
      const cancelled = await submit(client, orgId, { workflowId: ids.leaf, workflowVersion: { tag: "$LIVE" } });
      await waitForJob(client, orgId, cancelled, (j) => j.status === "RUNNING");
      await client.expect(200, client.post(`/organizations/${orgId}/jobs/${cancelled}/cancel`));
      const ended = {
        [loop]: (await waitForJob(client, orgId, loop)).job,
        [failed]: (await waitForJob(client, orgId, failed)).job,
        [cancelled]: (await waitForJob(client, orgId, cancelled)).job,
      };
      expect(ended[loop]).toMatchObject({ status: "SUCCEEDED", runNumber: 3 });
      expect(ended[failed].status).toBe("FAILED");
      expect(ended[cancelled].status).toBe("CANCELLED");

      // Each root owes its deletion at its end plus its status's retention (kept by its head: the
      // loop's third run told its first).
      const seconds = { [loop]: 60, [failed]: 120, [cancelled]: 180 };
      for (const jobId of [loop, failed, cancelled]) {
        let due = 0;
        const deadline = Date.now() + 30_000;
        while (due === 0 && Date.now() < deadline) {
          due = await runInDurableObject(runStub(jobId), (o: JobObject) => o.store.tables.sql.exec<{ due_at: number }>(`SELECT due_at FROM work WHERE kind = 'retire'`).toArray()[0]?.due_at ?? 0);
          if (due === 0) await sleep(50);
        }
        expect(due).toBe(Date.parse(ended[jobId].finishedAt) + seconds[jobId]! * 1000);
        // Not yet due: the job is there.
        expect((await client.get(`/organizations/${orgId}/jobs/${jobId}`)).status).toBe(200);
        await expireRetention(jobId);
        await driveDeletion(jobId);
        expect((await client.get(`/organizations/${orgId}/jobs/${jobId}`)).status).toBe(404);
      }
      for (const run of [1, 2, 3]) expect(await leftIn(loop, run)).toEqual({ tables: [], alarm: null });
      expect(await leftIn(failed)).toEqual({ tables: [], alarm: null });
      expect(await leftIn(cancelled)).toEqual({ tables: [], alarm: null });
      expect(await indexRowsNaming(orgId, [loop, failed, cancelled])).toBe(0);
      expect((await client.expect(200, client.get(`/organizations/${orgId}/jobs`))).totalCount).toBe(0);
      // The FAILED job's notification named it: it went with the job.
      const { notifications } = await client.expect(200, client.get(`/organizations/${orgId}/notifications`));
      expect(notifications.filter((n: any) => n.resourceId === failed)).toEqual([]);
      // Metric rollups are aggregates: they stay.
      const qs = new URLSearchParams({ metric: "jobs_submitted", aggregation: "count", bucket: "hour", since: new Date(Date.now() - 3_600_000).toISOString(), until: new Date(Date.now() + 3_600_000).toISOString() });
      const series = await client.expect(200, client.get(`/organizations/${orgId}/workflow-metrics/timeseries?${qs}`));
      expect(series.results.reduce((n: number, p: any) => n + p.value, 0)).toBe(3);
    },
    TIMEOUT,
  );

  it(
    "never deletes a job that is running: a resumed job is kept and its next end sets a new deadline; a running descendant is cancelled first",
    async () => {
      const { client, orgId, ids } = await tenantWith(admin, leaf);
      await client.expect(200, client.put(`/organizations/${orgId}/retention`, { cancelledSeconds: 60 }));
      const jobId = await submit(client, orgId, { workflowId: ids.leaf, workflowVersion: { tag: "$LIVE" } });
      await waitForJob(client, orgId, jobId, (j) => j.status === "RUNNING");
      await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/cancel`));
      await waitForJob(client, orgId, jobId);
      // The deadline is recorded; then the job is resumed and runs again.
      const deadline = Date.now() + 30_000;
      while ((await runInDurableObject(runStub(jobId), (o: JobObject) => o.store.retire.retention())) === null && Date.now() < deadline) await sleep(50);
      await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/resume`));
      await waitForJob(client, orgId, jobId, (j) => j.status === "RUNNING");
      await expireRetention(jobId);
      for (let i = 0; i < 5; i++) {
        await runDurableObjectAlarm(runStub(jobId));
        await sleep(20);
      }
      expect(await runStub(jobId).retirement()).toBeNull();
      expect((await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}`))).job.status).toBe("RUNNING");
      // Nor does the sweep delete any run that has not ended, whoever asks.
      expect(await runStub(jobId).purgeStep(orgId, jobId, "", 1)).toEqual({ kind: "notEnded" });
      expect((await client.get(`/organizations/${orgId}/jobs/${jobId}`)).status).toBe(200);

      // A descendant still running when its tree is deleted is cancelled first, and deleted once it has ended.
      const tree = await tenantWith(admin, leaf, parent);
      const root = await submit(tree.client, tree.orgId, { workflowId: tree.ids.parent, workflowVersion: { tag: "$LIVE" } });
      const [kid] = await childrenOf(tree.client, tree.orgId, root, 1);
      await waitForJob(tree.client, tree.orgId, kid.jobId, (j) => j.status === "RUNNING");
      expect(await runStub(kid.jobId).purgeStep(tree.orgId, root, "", 1)).toEqual({ kind: "notEnded" });
      const cancelled = await waitForJob(tree.client, tree.orgId, kid.jobId);
      expect(cancelled.job).toMatchObject({ status: "CANCELLED", error: { code: "PARENT_CANCELLED" } });
      expect(await runStub(kid.jobId).purgeStep(tree.orgId, root, "", 1)).toEqual({ kind: "deleted" });

      // Its next end is kept for its new status's retention, from that end.
      await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/events`, { eventId: "go" }));
      const { job } = await waitForJob(client, orgId, jobId);
      expect(job.status).toBe("SUCCEEDED");
      const end = Date.parse(job.finishedAt);
      const until = Date.now() + 30_000;
      let retention = null;
      while (Date.now() < until && retention?.finishedAt !== end) {
        retention = await runInDurableObject(runStub(jobId), (o: JobObject) => o.store.retire.retention());
        await sleep(50);
      }
      expect(retention).toEqual({ finishedAt: end, deleteAt: end + DEFAULT_RETENTION_SECONDS * 1000 });
    },
    TIMEOUT,
  );
});

describe("records that name a deleted job", () => {
  it(
    "keep their own history and do not break: a replayed webhook delivery names its job and starts nothing; GetSchedule keeps the firing",
    async () => {
      const { hook, trigger, client, orgId, workflowId } = await triggerSetup();
      const body = JSON.stringify({ orderId: "o-1" });
      const headers = standardHeaders(trigger.secret, body, { id: "msg_deleted" });
      const first = await hook(body, headers);
      expect(first.status).toBe(202);
      const jobId = first.body.jobId;
      await waitForJob(client, orgId, jobId);
      await client.expect(200, client.delete(`/organizations/${orgId}/jobs/${jobId}`));
      await driveDeletion(jobId);

      const replay = await hook(body, headers);
      expect(replay.status).toBe(200);
      expect(replay.body).toEqual({ jobId });
      expect((await client.get(`/organizations/${orgId}/jobs/${jobId}`)).status).toBe(404);
      expect((await client.expect(200, client.get(`/organizations/${orgId}/jobs`))).totalCount).toBe(0);

      const schedule = await client.expect(200, client.post(`/organizations/${orgId}/schedules`, { workflowId, workflowVersion: { tag: "$LIVE" }, cron: "0 0 1 1 *", inputJson: { orderId: "s" } }));
      const fired = await client.expect(200, client.post(`/organizations/${orgId}/schedules/${schedule.scheduleId}/trigger`));
      await waitForJob(client, orgId, fired.jobId);
      await client.expect(200, client.delete(`/organizations/${orgId}/jobs/${fired.jobId}`));
      await driveDeletion(fired.jobId);
      const got = await client.expect(200, client.get(`/organizations/${orgId}/schedules/${schedule.scheduleId}`));
      expect(got.recentActions).toEqual([expect.objectContaining({ trigger: "TRIGGERED", jobId: fired.jobId, result: "STARTED" })]);
      expect((await client.get(`/organizations/${orgId}/jobs/${fired.jobId}`)).status).toBe(404);
    },
    TIMEOUT,
  );
});
