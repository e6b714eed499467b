// Overlap policies under concurrency (and the bound on queued backfills), inside workerd: triggers sent at once, and an alarm firing
// racing a trigger. "No schedule runs two jobs where its policy allows one": the schedule's object
// decides firings one at a time, and a firing whose start is in flight counts as busy.
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { tenantWith, type TestClient } from "../../helpers/client";
import { step, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import type { ScheduleObject } from "../../../src/schedule/schedule-object";
import { JobObject } from "../../../src/job/job-object";
import type { StartJob } from "../../../src/job/messages";
import { MAX_BACKFILL_FIRINGS, SCHEDULE_START_BACKSTOP_MS } from "../../../src/limits";

const TIMEOUT = 90_000;
const HOUR = 3_600_000;
const hold = workflow("hold", [step("wait", "/justworkflowit/waitForEventIds", { config: { eventIds: ["never"] } })]);
const stub = (scheduleId: string) => env.SCHEDULES.get(env.SCHEDULES.idFromName(scheduleId));

async function scheduleOf(policy: string) {
  const { orgId, client } = await tenantWith(admin, hold);
  const { scheduleId } = await client.expect(
    200,
    client.post(`/organizations/${orgId}/schedules`, { workflowName: "hold", workflowVersion: { tag: "$LIVE" }, cron: "0 * * * *", catchupWindowSeconds: 86_400, overlapPolicy: policy }),
  );
  return { orgId, client, scheduleId: scheduleId as string };
}

const trigger = (client: TestClient, orgId: string, scheduleId: string) => client.expect(200, client.post(`/organizations/${orgId}/schedules/${scheduleId}/trigger`));

/** Every job the schedule started, with its status from the job itself. */
async function jobsOf(client: TestClient, orgId: string, scheduleId: string): Promise<{ jobId: string; status: string }[]> {
  const { jobs } = await client.expect(200, client.get(`/organizations/${orgId}/jobs?scheduleId=${scheduleId}&pageSize=100`));
  return Promise.all(
    jobs.map(async (j: { jobId: string }) => ({ jobId: j.jobId, status: (await client.expect(200, client.get(`/organizations/${orgId}/jobs/${j.jobId}`))).job.status })),
  );
}

/** Runs the schedule's alarm until no firing is pending (each pass carries out what it can). */
async function settle(client: TestClient, orgId: string, scheduleId: string) {
  for (let i = 0; i < 200; i++) {
    await runDurableObjectAlarm(stub(scheduleId));
    const s = await client.expect(200, client.get(`/organizations/${orgId}/schedules/${scheduleId}`));
    if (!s.recentActions.some((a: { result: string }) => a.result === "PENDING" || a.result === "BUFFERED")) return s;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`schedule ${scheduleId} still has pending firings`);
}

/** As if the engine had been away since `at`: the first fire time after it is due. */
const rewind = (scheduleId: string, at: number) =>
  runInDurableObject(stub(scheduleId), (_o: ScheduleObject, ctx) => void ctx.storage.sql.exec(`UPDATE control SET cursor = ?`, at));

describe("overlap policies under concurrent firings", () => {
  it(
    "SKIP: four triggers at once start one job; the others are skipped",
    async () => {
      const { orgId, client, scheduleId } = await scheduleOf("SKIP");
      const answers = await Promise.all(Array.from({ length: 4 }, () => trigger(client, orgId, scheduleId)));
      const jobs = await jobsOf(client, orgId, scheduleId);
      expect(jobs).toHaveLength(1);
      expect(jobs[0]!.status).toBe("RUNNING");
      // A trigger in the same millisecond as another is that firing: it answers the same job.
      for (const a of answers) {
        if (a.result === "SKIPPED") expect(a.jobId).toBeUndefined();
        else expect(a).toMatchObject({ result: "STARTED", jobId: jobs[0]!.jobId });
      }
      // One firing started; every other firing (a distinct fire time) was skipped.
      const firings = new Set(answers.map((a) => a.scheduledAt));
      expect(new Set(answers.filter((a) => a.result === "STARTED").map((a) => a.scheduledAt)).size).toBe(1);
      expect(new Set(answers.filter((a) => a.result === "SKIPPED").map((a) => a.scheduledAt)).size).toBe(firings.size - 1);
    },
    TIMEOUT,
  );

  it(
    "SKIP: an alarm firing racing a trigger starts one job",
    async () => {
      const { orgId, client, scheduleId } = await scheduleOf("SKIP");
      await rewind(scheduleId, Math.floor(Date.now() / HOUR) * HOUR - 60_000);
      await Promise.all([runDurableObjectAlarm(stub(scheduleId)), trigger(client, orgId, scheduleId), runInDurableObject(stub(scheduleId), (o: ScheduleObject) => o.alarm())]);
      await settle(client, orgId, scheduleId);
      expect(await jobsOf(client, orgId, scheduleId)).toHaveLength(1);
    },
    TIMEOUT,
  );

  it(
    "BUFFER_ONE: four triggers at once start one job and buffer one, which starts when the first ends",
    async () => {
      const { orgId, client, scheduleId } = await scheduleOf("BUFFER_ONE");
      const answers = await Promise.all(Array.from({ length: 4 }, () => trigger(client, orgId, scheduleId)));
      let jobs = await jobsOf(client, orgId, scheduleId);
      expect(jobs).toHaveLength(1);
      // At most one firing is buffered (triggers in the same millisecond are one firing, and answer alike).
      expect(new Set(answers.filter((a) => a.result === "BUFFERED").map((a) => a.scheduledAt)).size).toBeLessThanOrEqual(1);
      // Still running: passes of the alarm start nothing.
      await runDurableObjectAlarm(stub(scheduleId));
      expect(await jobsOf(client, orgId, scheduleId)).toHaveLength(1);
      await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobs[0]!.jobId}/cancel`));
      await settle(client, orgId, scheduleId);
      jobs = await jobsOf(client, orgId, scheduleId);
      expect(jobs.map((j) => j.status).sort()).toEqual(answers.some((a) => a.result === "BUFFERED") ? ["CANCELLED", "RUNNING"] : ["CANCELLED"]);
    },
    TIMEOUT,
  );

  it.each(["CANCEL_OTHER", "TERMINATE_OTHER"])(
    "%s: triggers at once, and an alarm among them, leave one job running and every other cancelled; none shown SKIPPED ran",
    async (policy) => {
      const { orgId, client, scheduleId } = await scheduleOf(policy);
      await trigger(client, orgId, scheduleId);
      await rewind(scheduleId, Math.floor(Date.now() / HOUR) * HOUR - 60_000);
      await Promise.all([...Array.from({ length: 4 }, () => trigger(client, orgId, scheduleId)), runDurableObjectAlarm(stub(scheduleId))]);
      const s = await settle(client, orgId, scheduleId);
      const jobs = await jobsOf(client, orgId, scheduleId);
      expect(jobs.filter((j) => j.status === "RUNNING")).toHaveLength(1);
      expect(jobs.filter((j) => j.status !== "RUNNING").every((j) => j.status === "CANCELLED")).toBe(true);
      // The newest firing is the one running, and no firing shown SKIPPED has a job.
      const running = jobs.find((j) => j.status === "RUNNING")!;
      const skipped = await runInDurableObject(stub(scheduleId), (_o: ScheduleObject, ctx) =>
        ctx.storage.sql.exec<{ job_id: string }>(`SELECT job_id FROM action WHERE state = 'SKIPPED'`).toArray().map((r) => r.job_id),
      );
      for (const id of skipped) expect(jobs.map((j) => j.jobId)).not.toContain(id);
      expect(s.recentActions[0]).toMatchObject({ jobId: running.jobId, result: "RUNNING" });
    },
    TIMEOUT,
  );

  it(
    "a start decided but never made (the object died first) counts as busy, durably, and the alarm makes it",
    async () => {
      const { orgId, client, scheduleId } = await scheduleOf("SKIP");
      // The job's object does not answer this organization's starts, as if the schedule's instance
      // had died with its start in flight.
      const start = JobObject.prototype.start;
      JobObject.prototype.start = async function (this: JobObject, init: StartJob) {
        if (init.identity.organizationId === orgId) throw new Error("injected: the job's object did not answer");
        return start.call(this, init);
      };
      try {
        const first = await trigger(client, orgId, scheduleId);
        expect(first.result).toBe("PENDING");
        // Memory is gone (the instance is reset); what was decided is stored, and an alarm is armed to carry it out.
        await runInDurableObject(stub(scheduleId), (_o: ScheduleObject, ctx) => ctx.abort("as if it crashed")).catch(() => undefined);
        const alarm = await runInDurableObject(stub(scheduleId), (_o: ScheduleObject, ctx) => ctx.storage.getAlarm());
        expect(alarm).not.toBeNull();
        expect(alarm!).toBeLessThanOrEqual(Date.now() + SCHEDULE_START_BACKSTOP_MS);
        // The owed start is the running job as far as SKIP is concerned.
        expect((await trigger(client, orgId, scheduleId)).result).toBe("SKIPPED");
      } finally {
        JobObject.prototype.start = start;
      }
      await settle(client, orgId, scheduleId);
      const jobs = await jobsOf(client, orgId, scheduleId);
      expect(jobs).toHaveLength(1);
      expect(jobs[0]!.status).toBe("RUNNING");
    },
    TIMEOUT,
  );

});

describe("a schedule's backfill queue", () => {
  it(
    `at most ${MAX_BACKFILL_FIRINGS} backfilled fire times wait to start: one more backfill is a 409 and queues nothing`,
    async () => {
      const { orgId, client, scheduleId } = await scheduleOf("ALLOW_ALL");
      // The alarm does nothing meanwhile, so the backfills stay queued (no thousand jobs for a test).
      await runInDurableObject(stub(scheduleId), (o: ScheduleObject) => void (o.alarm = async () => undefined));
      const h = Math.floor(Date.now() / HOUR) * HOUR;
      const path = `/organizations/${orgId}/schedules/${scheduleId}/backfill`;
      const full = { startAt: new Date(h - MAX_BACKFILL_FIRINGS * HOUR).toISOString(), endAt: new Date(h - HOUR).toISOString() };
      expect((await client.expect(200, client.post(path, full))).fireTimes).toHaveLength(MAX_BACKFILL_FIRINGS);
      // The same range again adds nothing, so it is accepted.
      await client.expect(200, client.post(path, full));
      const more = await client.post(path, { startAt: new Date(h - (MAX_BACKFILL_FIRINGS + 1) * HOUR).toISOString(), endAt: new Date(h - (MAX_BACKFILL_FIRINGS + 1) * HOUR).toISOString() });
      expect(more.status).toBe(409);
      expect(more.body.message).toContain(`${MAX_BACKFILL_FIRINGS}`);
      const waiting = await runInDurableObject(stub(scheduleId), (o: ScheduleObject) => o.store.pendingBackfills());
      expect(waiting).toBe(MAX_BACKFILL_FIRINGS);
    },
    TIMEOUT,
  );
});
