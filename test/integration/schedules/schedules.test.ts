// Schedules inside workerd. Time is moved the way the job tests move it: the schedule's cursor (the
// last fire time it handled) is set back, as if the engine had been away, and the alarm is run with
// runDurableObjectAlarm. Jobs are read through the API (ListJobs ?scheduleId, GetJob).
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { tenantWith, type TestClient } from "../../helpers/client";
import { step, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import type { ScheduleObject } from "../../../src/schedule/schedule-object";
import { firingJobId } from "../../../src/schedule/firing";
import { runObjectName } from "../../../src/job/naming";
import { listJobs } from "../../../src/job-index/shards";
import { organizationIndex } from "../../../src/registry/organizations";

const TIMEOUT = 90_000;
const HOUR = 3_600_000;
const never = step("wait", "/justworkflowit/waitForEventIds", { config: { eventIds: ["never"] } });
const quick = workflow("quick", [step("only", "/justworkflowit/noop")]);
const hold = workflow("hold", [never]);
const parent = workflow("parent", [step("spawn", "/justworkflowit/runChildJob", { config: { children: [{ workflowName: "hold", workflowVersion: { tag: "$LIVE" } }] } })]);
// Port 9 on loopback refuses connections: the job fails at once.
const failing = workflow("failing", [step("call", "/canopy/http", { retries: 0, config: { url: "http://127.0.0.1:9/x" } })]);

// Its input may have nothing but n: the schedule's inputJson reaches it unchanged, so it can be scheduled.
const strict = workflow("strict", [step("only", "/justworkflowit/noop")], {
  workflowInput: { type: "object", properties: { n: { type: "integer" } }, additionalProperties: false },
});

const tenant = () => tenantWith(admin, quick, hold, parent, failing, strict);

const stub = (scheduleId: string) => env.SCHEDULES.get(env.SCHEDULES.idFromName(scheduleId));
const topOfHour = (t = Date.now()) => Math.floor(t / HOUR) * HOUR;

/** CreateSchedule answers `{scheduleId}` alone (API.md); the schedule is then read with GetSchedule. */
async function createSchedule(client: TestClient, orgId: string, body: Record<string, unknown>) {
  const created = await client.expect(200, client.post(`/organizations/${orgId}/schedules`, { workflowVersion: { tag: "$LIVE" }, ...body }));
  expect(Object.keys(created)).toEqual(["scheduleId"]);
  return getSchedule(client, orgId, created.scheduleId);
}

/** As if the engine had been away since `at`: the schedule's next fire time is the first after it. */
async function rewind(scheduleId: string, at: number): Promise<void> {
  await runInDurableObject(stub(scheduleId), (_o: ScheduleObject, ctx) => {
    ctx.storage.sql.exec(`UPDATE control SET cursor = ?`, at);
  });
}

async function jobsOf(client: TestClient, orgId: string, scheduleId: string): Promise<any[]> {
  const { jobs } = await client.expect(200, client.get(`/organizations/${orgId}/jobs?scheduleId=${scheduleId}&pageSize=100`));
  return jobs.sort((a: any, b: any) => a.createdAt.localeCompare(b.createdAt));
}

/**
 * The jobs' statuses from GetJob, the source of truth (a new job's index row says PENDING until its
 * object's alarm writes the next one).
 */
const statusesOf = (client: TestClient, orgId: string, jobs: any[]) =>
  Promise.all(jobs.map(async (j) => (await client.expect(200, client.get(`/organizations/${orgId}/jobs/${j.jobId}`))).job.status));

/** GetSchedule answers the schedule itself, unwrapped like GetWorkflow. */
const getSchedule = async (client: TestClient, orgId: string, id: string) => client.expect(200, client.get(`/organizations/${orgId}/schedules/${id}`));

/**
 * Runs the alarm until no firing is pending. A backfill arms the alarm for now, so the runtime may
 * be running it already when the test asks: the test waits for the outcome, not for one pass.
 */
async function settled(client: TestClient, orgId: string, scheduleId: string) {
  for (let i = 0; i < 300; i++) {
    await runDurableObjectAlarm(stub(scheduleId));
    const s = await getSchedule(client, orgId, scheduleId);
    if (!s.recentActions.some((a: any) => a.result === "PENDING")) return s;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`schedule ${scheduleId} still has pending firings`);
}

/** Runs the alarm (it also polls on its own) until the schedule has started `n` jobs. */
async function untilJobs(client: TestClient, orgId: string, scheduleId: string, n: number) {
  const deadline = Date.now() + 60_000;
  let jobs = await jobsOf(client, orgId, scheduleId);
  while (jobs.length < n && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    await runDurableObjectAlarm(stub(scheduleId));
    jobs = await jobsOf(client, orgId, scheduleId);
  }
  return jobs;
}

/** The input a job was started with. */
async function inputOf(client: TestClient, orgId: string, jobId: string) {
  const { state } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state`));
  return state.executionData.workflowInput;
}

describe("a schedule's firings", () => {
  it(
    "start one job per fire time, with scheduleId and scheduledAt on the job and inputJson unchanged as its input, even when the alarm runs twice",
    async () => {
      const { orgId, client } = await tenant();
      const s = await createSchedule(client, orgId, { workflowName: "quick", inputJson: { region: "eu" }, cron: "0 * * * *", catchupWindowSeconds: 86_400 });
      expect(s.spec).toMatchObject({ workflowName: "quick", cron: "0 * * * *", timezone: "UTC", overlapPolicy: "SKIP", catchupWindowSeconds: 86_400, pauseOnFailure: false });
      expect(s.nextFireTimes).toHaveLength(5);
      expect(Date.parse(s.nextFireTimes[0])).toBe(topOfHour() + HOUR);

      const h = topOfHour();
      await rewind(s.scheduleId, h - 2 * HOUR - 60_000);
      // Two passes at once (a duplicated alarm), then the alarm itself twice more.
      await runInDurableObject(stub(s.scheduleId), (o: ScheduleObject) => Promise.all([o.alarm(), o.alarm()]));
      await runDurableObjectAlarm(stub(s.scheduleId));
      await runDurableObjectAlarm(stub(s.scheduleId));
      // Even with the cursor lost (as if the commit that moved it never happened), a replay starts nothing new.
      await rewind(s.scheduleId, h - 2 * HOUR - 60_000);
      await runDurableObjectAlarm(stub(s.scheduleId));
      // As if each pass had died after starting its job but before recording that: the job's id,
      // derived from (schedule, fire time), makes the retry find the job instead of starting another.
      await runInDurableObject(stub(s.scheduleId), (_o: ScheduleObject, ctx) => {
        ctx.storage.sql.exec(`UPDATE action SET state = 'PENDING'`);
      });
      await runDurableObjectAlarm(stub(s.scheduleId));

      const jobs = await jobsOf(client, orgId, s.scheduleId);
      expect(jobs).toHaveLength(3);
      const fireTimes = [h - 2 * HOUR, h - HOUR, h].map((t) => new Date(t).toISOString());
      // ListJobs shows each job's nominal fire time, and GetJob the same.
      expect(jobs.map((j) => j.scheduledAt).sort()).toEqual(fireTimes);
      for (const j of jobs) {
        expect(j).toMatchObject({ scheduleId: s.scheduleId, status: "SUCCEEDED" });
        const { job } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${j.jobId}`));
        expect(job).toMatchObject({ scheduleId: s.scheduleId, scheduledAt: j.scheduledAt });
        // The input is the schedule's inputJson, unchanged: no scheduledAt merged into it.
        expect(await inputOf(client, orgId, j.jobId)).toEqual({ region: "eu" });
      }
      // Other jobs of the organization are not listed under the schedule.
      await client.expect(200, client.post(`/organizations/${orgId}/jobs`, { workflowName: "quick", workflowVersion: { tag: "$LIVE" } }));
      expect(await jobsOf(client, orgId, s.scheduleId)).toHaveLength(3);

      const after = await getSchedule(client, orgId, s.scheduleId);
      expect(after.recentActions.map((a: any) => [a.trigger, a.scheduledAt, a.result])).toEqual(
        [h, h - HOUR, h - 2 * HOUR].map((t) => ["SCHEDULED", new Date(t).toISOString(), "SUCCEEDED"]),
      );
      expect(after.recentActions.map((a: any) => a.jobId).sort()).toEqual(jobs.map((j) => j.jobId).sort());
      expect(after).toMatchObject({ missedCount: 0, skippedCount: 0 });

      // A backfill over fire times that already ran reaches the same jobs: their ids derive from (schedule, time).
      const range = { startAt: new Date(h - 2 * HOUR).toISOString(), endAt: new Date(h).toISOString() };
      await client.expect(200, client.post(`/organizations/${orgId}/schedules/${s.scheduleId}/backfill`, range));
      const backfilled = (await settled(client, orgId, s.scheduleId)).recentActions.filter((a: any) => a.trigger === "BACKFILL");
      expect(backfilled.map((a: any) => a.detail)).toEqual(["the job already existed", "the job already existed", "the job already existed"]);
      expect(await jobsOf(client, orgId, s.scheduleId)).toHaveLength(3);
    },
    TIMEOUT,
  );

  it(
    "run missed fire times inside the catch-up window and count the older ones as missed",
    async () => {
      const { orgId, client } = await tenant();
      const s = await createSchedule(client, orgId, { workflowName: "quick", cron: "* * * * *", catchupWindowSeconds: 300, overlapPolicy: "ALLOW_ALL" });
      const from = Date.now() - 10 * 60_000 - 30_000;
      await rewind(s.scheduleId, from);
      await runDurableObjectAlarm(stub(s.scheduleId));
      const done = Date.now();
      const jobs = await jobsOf(client, orgId, s.scheduleId);
      const { missedCount } = await getSchedule(client, orgId, s.scheduleId);
      const due = Math.floor(done / 60_000) - Math.floor(from / 60_000);
      expect(jobs.length + missedCount).toBe(due);
      expect(jobs.length).toBeGreaterThanOrEqual(4);
      expect(missedCount).toBeGreaterThanOrEqual(5);
      for (const j of jobs) {
        const at = Date.parse(j.scheduledAt);
        expect(done - at).toBeLessThanOrEqual(300_000 + (done - from));
        expect(Date.parse(j.createdAt) - at).toBeLessThanOrEqual(300_000);
      }
    },
    TIMEOUT,
  );
});

/**
 * Runs one alarm pass with the object's bindings replaced by `patch` (the failure injected), and
 * returns the alarm it left armed and its count of failed passes in a row.
 */
async function passWith(scheduleId: string, patch: (real: Env) => Partial<Env>) {
  return runInDurableObject(stub(scheduleId), async (o: ScheduleObject, ctx) => {
    const holder = o as unknown as { env: Env };
    const real = holder.env;
    const replaced = patch(real);
    holder.env = new Proxy(real, { get: (t, k) => (k in replaced ? replaced[k as keyof Env] : t[k as keyof Env]) });
    const before = Date.now();
    try {
      await o.alarm();
    } finally {
      holder.env = real;
    }
    return { before, alarm: await ctx.storage.getAlarm(), failures: o.store.failures() };
  });
}

describe("a schedule whose pass fails", () => {
  it(
    "re-arms its alarm with a growing backoff instead of stopping, lets the other firings start, and fires again once the fault is gone",
    async () => {
      const { orgId, client } = await tenant();
      const s = await createSchedule(client, orgId, { workflowName: "quick", inputJson: { n: 1 }, cron: "0 * * * *", catchupWindowSeconds: 86_400, overlapPolicy: "ALLOW_ALL" });
      const h = topOfHour();
      await rewind(s.scheduleId, h - HOUR - 60_000);

      // D1 down: the whole pass fails before any firing. alarm() does not throw (Cloudflare would
      // give up after 6 retries); it arms a retry, later at each failure in a row.
      const dbDown = () => ({ DB: { prepare: () => { throw new Error("injected: D1 is unavailable"); } } as unknown as D1Database });
      const first = await passWith(s.scheduleId, dbDown);
      expect(first.failures).toBeGreaterThanOrEqual(1);
      expect(first.alarm).not.toBeNull();
      expect(first.alarm!).toBeGreaterThanOrEqual(first.before + 1000);
      const second = await passWith(s.scheduleId, dbDown);
      expect(second.failures).toBe(first.failures + 1);
      expect(second.alarm!).toBeGreaterThanOrEqual(second.before + 2000);
      expect(await jobsOf(client, orgId, s.scheduleId)).toHaveLength(0);

      // One firing's job object throws: that firing stays PENDING, the other one still starts.
      const badJob = await firingJobId(s.scheduleId, h - HOUR);
      const badObject = env.JOBS.idFromName(runObjectName(badJob, 1));
      const oneStartFails = (real: Env) => ({
        JOBS: {
          idFromName: (name: string) => real.JOBS.idFromName(name),
          get: (id: DurableObjectId) =>
            id.equals(badObject)
              ? { start: async () => { throw new Error("injected: the job's object is unavailable"); } }
              : real.JOBS.get(id),
        } as unknown as Env["JOBS"],
      });
      const third = await passWith(s.scheduleId, oneStartFails);
      expect(third.alarm).not.toBeNull();
      expect(third.alarm!).toBeGreaterThanOrEqual(third.before + 1000);
      const [started] = await jobsOf(client, orgId, s.scheduleId);
      expect(started).toMatchObject({ scheduledAt: new Date(h).toISOString() });
      const failedOne = (await getSchedule(client, orgId, s.scheduleId)).recentActions.find((a: any) => a.scheduledAt === new Date(h - HOUR).toISOString());
      expect(failedOne).toMatchObject({ jobId: badJob });
      expect(["PENDING", "SUCCEEDED", "STARTED", "RUNNING"]).toContain(failedOne.result);

      // The fault gone, the retry starts the firing that failed, once, and the schedule goes on.
      const jobs = await untilJobs(client, orgId, s.scheduleId, 2);
      expect(jobs.map((j) => j.scheduledAt).sort()).toEqual([h - HOUR, h].map((t) => new Date(t).toISOString()));
      expect(jobs.map((j) => j.jobId)).toContain(badJob);
      for (const j of jobs) expect(await inputOf(client, orgId, j.jobId)).toEqual({ n: 1 });
      const after = await runInDurableObject(stub(s.scheduleId), async (o: ScheduleObject, ctx) => ({ failures: o.store.failures(), alarm: await ctx.storage.getAlarm() }));
      // The backoff is over and the next fire time is armed as usual.
      expect(after).toEqual({ failures: 0, alarm: h + HOUR });
    },
    TIMEOUT,
  );
});

describe("a deleted organization's schedules", () => {
  it(
    "start nothing after the deletion and are deleted by their next alarm",
    async () => {
      const { orgId, client } = await tenant();
      const s = await createSchedule(client, orgId, { workflowName: "quick", cron: "0 * * * *", catchupWindowSeconds: 86_400 });
      await admin.expect(200, admin.delete(`/organizations/${orgId}`));
      await rewind(s.scheduleId, topOfHour() - HOUR - 60_000);
      await runDurableObjectAlarm(stub(s.scheduleId));
      const control = await runInDurableObject(stub(s.scheduleId), async (o: ScheduleObject, ctx) => ({
        control: o.store.control(),
        alarm: await ctx.storage.getAlarm(),
      }));
      expect(control).toEqual({ control: null, alarm: null });
      // Nothing the schedule started is indexed (the job index is asked directly: ListJobs answers 404 now).
      const left = await listJobs(env, await organizationIndex(env.DB, orgId), { jobHierarchy: "ALL", scheduleId: s.scheduleId }, undefined, 10);
      expect(left.totalCount).toBe(0);
      const rows = await env.DB.prepare(`SELECT count(*) AS n FROM schedules WHERE schedule_id = ?`).bind(s.scheduleId).first<{ n: number }>();
      expect(rows!.n).toBe(0);
    },
    TIMEOUT,
  );
});

describe("overlap policies", () => {
  /** A schedule of the `hold` workflow (a job that runs until cancelled) with two fire times due. */
  async function twoFirings(policy: string, workflowName = "hold", count = 2) {
    const { orgId, client } = await tenant();
    const s = await createSchedule(client, orgId, { workflowName, cron: "0 * * * *", catchupWindowSeconds: 86_400, overlapPolicy: policy });
    await rewind(s.scheduleId, topOfHour() - (count - 1) * HOUR - 60_000);
    await runDurableObjectAlarm(stub(s.scheduleId));
    return { orgId, client, s };
  }

  it(
    "SKIP does not start a firing while the previous job runs, and counts it",
    async () => {
      const { orgId, client, s } = await twoFirings("SKIP");
      const jobs = await jobsOf(client, orgId, s.scheduleId);
      expect(await statusesOf(client, orgId, jobs)).toEqual(["RUNNING"]);
      const got = await getSchedule(client, orgId, s.scheduleId);
      expect(got.skippedCount).toBe(1);
      expect(got.recentActions.map((a: any) => a.result)).toEqual(["SKIPPED", "RUNNING"]);
      expect(got.recentActions[0].jobId).toBeUndefined();
    },
    TIMEOUT,
  );

  it(
    "ALLOW_ALL starts every firing",
    async () => {
      const { orgId, client, s } = await twoFirings("ALLOW_ALL");
      expect(await statusesOf(client, orgId, await jobsOf(client, orgId, s.scheduleId))).toEqual(["RUNNING", "RUNNING"]);
    },
    TIMEOUT,
  );

  it(
    "BUFFER_ONE keeps one firing until the previous job ends, skips the rest, then starts it",
    async () => {
      const { orgId, client, s } = await twoFirings("BUFFER_ONE", "hold", 3);
      const [first] = await jobsOf(client, orgId, s.scheduleId);
      expect(await jobsOf(client, orgId, s.scheduleId)).toHaveLength(1);
      let got = await getSchedule(client, orgId, s.scheduleId);
      expect(got.recentActions.map((a: any) => a.result)).toEqual(["SKIPPED", "BUFFERED", "RUNNING"]);
      expect(got.skippedCount).toBe(1);
      // Still running: another pass starts nothing.
      await runDurableObjectAlarm(stub(s.scheduleId));
      expect(await jobsOf(client, orgId, s.scheduleId)).toHaveLength(1);

      await client.expect(200, client.post(`/organizations/${orgId}/jobs/${first.jobId}/cancel`));
      const jobs = await untilJobs(client, orgId, s.scheduleId, 2);
      const statuses = await statusesOf(client, orgId, jobs);
      expect([...statuses].sort()).toEqual(["CANCELLED", "RUNNING"]);
      got = await getSchedule(client, orgId, s.scheduleId);
      const buffered = got.recentActions.find((a: any) => a.scheduledAt === new Date(topOfHour() - HOUR).toISOString());
      expect(buffered).toMatchObject({ result: "RUNNING", jobId: jobs[statuses.indexOf("RUNNING")].jobId });
      expect((await client.expect(200, client.get(`/organizations/${orgId}/jobs/${buffered.jobId}`))).job.scheduledAt).toBe(buffered.scheduledAt);
    },
    TIMEOUT,
  );

  it(
    "TERMINATE_OTHER cancels the previous job and starts the new one at once",
    async () => {
      const { orgId, client, s } = await twoFirings("TERMINATE_OTHER");
      const jobs = await jobsOf(client, orgId, s.scheduleId);
      expect(jobs).toHaveLength(2);
      const statuses = await Promise.all(jobs.map(async (j) => (await client.expect(200, client.get(`/organizations/${orgId}/jobs/${j.jobId}`))).job.status));
      expect(statuses).toEqual(["CANCELLED", "RUNNING"]);
    },
    TIMEOUT,
  );

  it(
    "CANCEL_OTHER cancels the previous job and starts the new one only once its child jobs are cancelled too",
    async () => {
      const { orgId, client } = await tenant();
      const s = await createSchedule(client, orgId, { workflowName: "parent", cron: "0 * * * *", catchupWindowSeconds: 86_400, overlapPolicy: "CANCEL_OTHER" });
      // The first firing's job, once it has started its child: the next firing must cancel a whole tree.
      await rewind(s.scheduleId, topOfHour() - 60_000);
      await runDurableObjectAlarm(stub(s.scheduleId));
      const firstId = (await untilJobs(client, orgId, s.scheduleId, 1))[0].jobId;
      await expect
        .poll(async () => (await client.expect(200, client.get(`/organizations/${orgId}/jobs/${firstId}`))).childJobs?.length ?? 0, { timeout: 30_000 })
        .toBe(1);
      await client.expect(200, client.post(`/organizations/${orgId}/schedules/${s.scheduleId}/trigger`));
      const jobs = await untilJobs(client, orgId, s.scheduleId, 2);
      expect(jobs).toHaveLength(2);
      const first = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${firstId}`));
      expect(first.job.status).toBe("CANCELLED");
      expect(first.childJobs).toHaveLength(1);
      const child = (await client.expect(200, client.get(`/organizations/${orgId}/jobs/${first.childJobs[0].jobId}`))).job;
      expect(child.status).toBe("CANCELLED");
      const second = jobs.find((j) => j.jobId !== firstId);
      expect(Date.parse(second.createdAt)).toBeGreaterThanOrEqual(Date.parse(child.finishedAt));
    },
    TIMEOUT,
  );
});

describe("pause, trigger, backfill, pauseOnFailure", () => {
  it(
    "a paused schedule starts nothing; unpaused, it fires from now on, not for the time it was paused",
    async () => {
      const { orgId, client } = await tenant();
      const s = await createSchedule(client, orgId, { workflowName: "quick", cron: "0 * * * *", catchupWindowSeconds: 86_400 });
      expect(await client.expect(200, client.post(`/organizations/${orgId}/schedules/${s.scheduleId}/pause`, { note: "maintenance" }))).toEqual({ scheduleId: s.scheduleId });
      expect(await getSchedule(client, orgId, s.scheduleId)).toMatchObject({ paused: true, note: "maintenance" });
      await rewind(s.scheduleId, topOfHour() - HOUR - 60_000);
      await runDurableObjectAlarm(stub(s.scheduleId));
      expect(await jobsOf(client, orgId, s.scheduleId)).toHaveLength(0);
      const { schedules } = await client.expect(200, client.get(`/organizations/${orgId}/schedules`));
      expect(schedules).toEqual([expect.objectContaining({ scheduleId: s.scheduleId, paused: true, note: "maintenance" })]);

      // A trigger runs even while paused.
      const fired = await client.expect(200, client.post(`/organizations/${orgId}/schedules/${s.scheduleId}/trigger`));
      expect(fired).toMatchObject({ scheduleId: s.scheduleId, result: "STARTED" });
      expect((await jobsOf(client, orgId, s.scheduleId)).map((j) => j.jobId)).toEqual([fired.jobId]);

      expect(await client.expect(200, client.post(`/organizations/${orgId}/schedules/${s.scheduleId}/unpause`))).toEqual({ scheduleId: s.scheduleId });
      expect((await getSchedule(client, orgId, s.scheduleId)).paused).toBe(false);
      await runDurableObjectAlarm(stub(s.scheduleId));
      expect(await jobsOf(client, orgId, s.scheduleId)).toHaveLength(1);
      // Fire times after the unpause run as usual.
      await rewind(s.scheduleId, topOfHour() - 60_000);
      await runDurableObjectAlarm(stub(s.scheduleId));
      expect(await jobsOf(client, orgId, s.scheduleId)).toHaveLength(2);
    },
    TIMEOUT,
  );

  it(
    "a backfill starts one job per fire time of the range, once, whatever the overlap policy",
    async () => {
      const { orgId, client } = await tenant();
      const s = await createSchedule(client, orgId, { workflowName: "hold", cron: "0 * * * *", overlapPolicy: "SKIP" });
      const h = topOfHour();
      const range = { startAt: new Date(h - 5 * HOUR).toISOString(), endAt: new Date(h - 3 * HOUR).toISOString() };
      const { scheduleId, fireTimes } = await client.expect(200, client.post(`/organizations/${orgId}/schedules/${s.scheduleId}/backfill`, range));
      expect(scheduleId).toBe(s.scheduleId);
      expect(fireTimes).toEqual([h - 5 * HOUR, h - 4 * HOUR, h - 3 * HOUR].map((t) => new Date(t).toISOString()));
      await settled(client, orgId, s.scheduleId);
      let jobs = await jobsOf(client, orgId, s.scheduleId);
      expect(await statusesOf(client, orgId, jobs)).toEqual(["RUNNING", "RUNNING", "RUNNING"]);
      expect(jobs.map((j) => j.scheduledAt).sort()).toEqual(fireTimes);

      // The same range again starts nothing new.
      await client.expect(200, client.post(`/organizations/${orgId}/schedules/${s.scheduleId}/backfill`, range));
      await settled(client, orgId, s.scheduleId);
      jobs = await jobsOf(client, orgId, s.scheduleId);
      expect(jobs).toHaveLength(3);

      const future = { startAt: new Date(h).toISOString(), endAt: new Date(h + 5 * HOUR).toISOString() };
      const bad = await client.post(`/organizations/${orgId}/schedules/${s.scheduleId}/backfill`, future);
      expect(bad.status).toBe(400);
      expect(bad.body.fields).toHaveProperty("endAt");
      const huge = await client.post(`/organizations/${orgId}/schedules/${s.scheduleId}/backfill`, { startAt: "2020-01-01T00:00:00Z", endAt: range.endAt });
      expect(huge.status).toBe(400);
      expect(huge.body.fields.endAt).toContain("1000");
    },
    TIMEOUT,
  );

  it(
    "pauseOnFailure pauses the schedule when a firing finds the previous job FAILED",
    async () => {
      const { orgId, client } = await tenant();
      const s = await createSchedule(client, orgId, { workflowName: "failing", cron: "0 * * * *", catchupWindowSeconds: 86_400, pauseOnFailure: true });
      // The first job, from a trigger, fails; the next fire time finds it FAILED.
      await client.expect(200, client.post(`/organizations/${orgId}/schedules/${s.scheduleId}/trigger`));
      const [first] = await jobsOf(client, orgId, s.scheduleId);
      await waitForJob(client, orgId, first.jobId, (j) => j.status === "FAILED", TIMEOUT);
      await rewind(s.scheduleId, topOfHour() - 60_000);
      await runDurableObjectAlarm(stub(s.scheduleId));
      const got = await getSchedule(client, orgId, s.scheduleId);
      expect(got.paused).toBe(true);
      expect(got.note).toContain(first.jobId);
      expect(got.skippedCount).toBe(1);
      expect(await jobsOf(client, orgId, s.scheduleId)).toHaveLength(1);
    },
    TIMEOUT,
  );
});

describe("the Schedule resource", () => {
  it(
    "refuses bad specs with a 400 naming the field, and creates nothing",
    async () => {
      const { orgId, client } = await tenant();
      const base = { workflowName: "quick", workflowVersion: { tag: "$LIVE" }, cron: "0 * * * *" };
      const cases: [Record<string, unknown>, string][] = [
        [{ cron: "0 0 30 2 *" }, "cron"],
        [{ cron: "61 * * * *" }, "cron"],
        [{ cron: "* * * *" }, "cron"],
        [{ timezone: "Europe/Atlantis" }, "timezone"],
        [{ startAt: "2030-01-02T00:00:00Z", endAt: "2030-01-01T00:00:00Z" }, "endAt"],
        [{ inputJson: [1, 2] }, "inputJson"],
        [{ inputJson: "not json" }, "inputJson"],
        [{ overlapPolicy: "SOMETIMES" }, "overlapPolicy"],
        [{ catchupWindowSeconds: -1 }, "catchupWindowSeconds"],
        [{ workflowName: "strict", inputJson: { n: "one" } }, "inputJson"],
      ];
      for (const [change, field] of cases) {
        const res = await client.post(`/organizations/${orgId}/schedules`, { ...base, ...change });
        expect(res.status, JSON.stringify(change)).toBe(400);
        expect(res.body.code).toBe("ValidationError");
        expect(Object.keys(res.body.fields ?? {}), JSON.stringify(res.body)).toContain(field);
      }
      expect((await client.post(`/organizations/${orgId}/schedules`, { ...base, workflowName: "nope" })).status).toBe(404);
      expect((await client.expect(200, client.get(`/organizations/${orgId}/schedules`))).schedules).toEqual([]);
    },
    TIMEOUT,
  );

  it(
    "is updated, listed, hidden from other tenants, and deleted",
    async () => {
      const { orgId, client } = await tenant();
      const other = await tenantWith(admin, quick);
      const s = await createSchedule(client, orgId, { workflowName: "quick", cron: "@daily", timezone: "America/New_York" });
      expect(s.nextFireTimes.every((t: string) => new Date(t).getUTCHours() === 4 || new Date(t).getUTCHours() === 5)).toBe(true);

      const updated = await client.expect(
        200,
        client.call("PUT", `/organizations/${orgId}/schedules/${s.scheduleId}`, { workflowName: "quick", workflowVersion: { tag: "$LIVE" }, cron: "*/5 * * * * *" }),
      );
      expect(updated.spec.cron).toBe("*/5 * * * * *");
      expect(Date.parse(updated.nextFireTimes[1]) - Date.parse(updated.nextFireTimes[0])).toBe(5000);
      const bad = await client.call("PUT", `/organizations/${orgId}/schedules/${s.scheduleId}`, { workflowName: "quick", workflowVersion: { tag: "$LIVE" }, cron: "bad" });
      expect(bad.status).toBe(400);
      // UpdateSchedule is PUT (API.md); the old POST is no route.
      expect((await client.post(`/organizations/${orgId}/schedules/${s.scheduleId}`, { workflowName: "quick", workflowVersion: { tag: "$LIVE" }, cron: "@daily" })).status).toBe(404);
      expect((await getSchedule(client, orgId, s.scheduleId)).spec.cron).toBe("*/5 * * * * *");

      const listed = (await client.expect(200, client.get(`/organizations/${orgId}/schedules`))).schedules;
      expect(listed).toEqual([expect.objectContaining({ scheduleId: s.scheduleId, spec: expect.objectContaining({ cron: "*/5 * * * * *" }) })]);

      expect((await other.client.get(`/organizations/${orgId}/schedules/${s.scheduleId}`)).status).toBe(403);
      expect((await other.client.get(`/organizations/${other.orgId}/schedules/${s.scheduleId}`)).status).toBe(404);
      expect((await other.client.post(`/organizations/${other.orgId}/schedules/${s.scheduleId}/trigger`)).status).toBe(404);
      expect((await client.get(`/organizations/${orgId}/schedules/not-a-schedule`)).status).toBe(404);

      await client.expect(200, client.delete(`/organizations/${orgId}/schedules/${s.scheduleId}`));
      expect((await client.get(`/organizations/${orgId}/schedules/${s.scheduleId}`)).status).toBe(404);
      expect((await client.expect(200, client.get(`/organizations/${orgId}/schedules`))).schedules).toEqual([]);
      expect(await runInDurableObject(stub(s.scheduleId), (_o, ctx) => ctx.storage.getAlarm())).toBeNull();
      expect((await client.delete(`/organizations/${orgId}/schedules/${s.scheduleId}`)).status).toBe(404);
    },
    TIMEOUT,
  );

  it(
    "accepts a workflow whose input schema allows nothing but inputJson's members: the input is passed unchanged",
    async () => {
      const { orgId, client } = await tenant();
      const s = await createSchedule(client, orgId, { workflowName: "strict", inputJson: { n: 1 }, cron: "0 * * * *" });
      const fired = await client.expect(200, client.post(`/organizations/${orgId}/schedules/${s.scheduleId}/trigger`));
      expect(fired).toMatchObject({ scheduleId: s.scheduleId, result: "STARTED" });
      const { job } = await waitForJob(client, orgId, fired.jobId, (j) => j.status === "SUCCEEDED", TIMEOUT);
      expect(job).toMatchObject({ scheduleId: s.scheduleId, scheduledAt: fired.scheduledAt });
      expect(await inputOf(client, orgId, fired.jobId)).toEqual({ n: 1 });
    },
    TIMEOUT,
  );

  it("appears in /openapi.json", async () => {
    const doc = await admin.expect(200, admin.get("/openapi.json"));
    const ops = Object.values(doc.paths).flatMap((p: any) => Object.values(p).map((o: any) => o.operationId));
    for (const op of ["CreateSchedule", "GetSchedule", "ListSchedules", "UpdateSchedule", "DeleteSchedule", "PauseSchedule", "UnpauseSchedule", "TriggerScheduleNow", "BackfillSchedule"]) {
      expect(ops).toContain(op);
    }
  });
});
