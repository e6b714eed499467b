// A `*/2 * * * * *` schedule through a real `npm start`: it fires every 2 s, a kill -9 for 10 s is
// followed by catch-up (one job per missed fire time, inside the catch-up window), then no
// duplicates. Fire-time lateness (job created minus nominal fire time) is measured and printed,
// never asserted: the machine is shared.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deployWorkflow, newTenant, type TestClient } from "../helpers/client";
import { step, workflow } from "../helpers/jobs";
import { printServerLogsOnFailure } from "./jobs";
import { EngineServer, sleep, waitFor } from "./server";

const EVERY_MS = 2000;

/** Every job the schedule started, with its nominal fire time (the job's scheduledAt) and its input. */
async function scheduledJobs(client: TestClient, orgId: string, scheduleId: string) {
  const jobs: any[] = [];
  let pageToken: string | undefined;
  do {
    const q = new URLSearchParams({ scheduleId, pageSize: "100", ...(pageToken ? { pageToken } : {}) });
    const page = await client.expect(200, client.get(`/organizations/${orgId}/jobs?${q}`));
    jobs.push(...page.jobs);
    pageToken = page.nextPageToken;
  } while (pageToken);
  return Promise.all(
    jobs.map(async (j) => {
      const { state } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${j.jobId}/state`));
      const at = Date.parse(j.scheduledAt);
      return { jobId: j.jobId as string, at, lateMs: Date.parse(j.createdAt) - at, scheduleId: j.scheduleId as string, input: state.executionData.workflowInput };
    }),
  );
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

describe("a seconds-level schedule across a kill -9", () => {
  const server = new EngineServer();
  beforeAll(() => server.start());
  afterAll(() => server.dispose());
  printServerLogsOnFailure(server);

  it("fires every 2 s, catches up the firings missed while down, and never doubles one", async () => {
    const { orgId, client } = await newTenant(server.admin);
    await deployWorkflow(client, orgId, workflow("tick", [step("only", "/justworkflowit/noop")]));
    const { scheduleId: id } = await client.expect(
      200,
      client.post(`/organizations/${orgId}/schedules`, {
        workflowName: "tick",
        workflowVersion: { tag: "$LIVE" },
        inputJson: { source: "e2e" },
        cron: "*/2 * * * * *",
        // Wide enough for a slow restart on a busy machine: every firing missed while down is run.
        catchupWindowSeconds: 120,
      }),
    );
    const createdAt = Date.parse((await client.expect(200, client.get(`/organizations/${orgId}/schedules/${id}`))).createdAt);

    // Before the kill: a few firings, 2 s apart.
    const before = await waitFor(async () => {
      const jobs = await scheduledJobs(client, orgId, id);
      return jobs.length >= 4 && jobs;
    }, 60_000, 500);
    const killedAt = Date.now();
    await server.kill();
    await sleep(10_000);
    const restartAt = Date.now();
    await server.start();
    const upAt = Date.now();

    // After the restart: every fire time from the first to now has its job, the missed ones included.
    const all = await waitFor(async () => {
      const jobs = await scheduledJobs(client, orgId, id);
      const last = Math.max(...jobs.map((j) => j.at));
      return last >= upAt + 3 * EVERY_MS && jobs;
    }, 120_000, 1000);
    // A little longer, to see that nothing is started twice later on.
    await sleep(3 * EVERY_MS);
    await client.expect(200, client.post(`/organizations/${orgId}/schedules/${id}/pause`, { note: "e2e over" }));
    const final = await scheduledJobs(client, orgId, id);
    const got = await client.expect(200, client.get(`/organizations/${orgId}/schedules/${id}`));

    const times = final.map((j) => j.at).sort((a, b) => a - b);
    const first = times[0]!;
    const last = times[times.length - 1]!;
    const expected = Array.from({ length: (last - first) / EVERY_MS + 1 }, (_, i) => first + i * EVERY_MS);
    // One job per fire time, none missing (the 10 s down included), none doubled.
    expect(times).toEqual(expected);
    expect(new Set(final.map((j) => j.jobId)).size).toBe(final.length);
    expect(final.every((j) => j.scheduleId === id)).toBe(true);
    // The input is the schedule's inputJson, unchanged.
    expect(final.every((j) => JSON.stringify(j.input) === JSON.stringify({ source: "e2e" }))).toBe(true);
    expect(first).toBeGreaterThan(createdAt);
    expect(first - createdAt).toBeLessThanOrEqual(EVERY_MS + 1000);
    expect(got.missedCount).toBe(0);
    const missedWhileDown = final.filter((j) => j.at > killedAt && j.at < upAt);
    expect(missedWhileDown.length).toBeGreaterThanOrEqual(5);
    expect(before.length).toBeGreaterThanOrEqual(4);
    expect(all.length).toBeLessThanOrEqual(final.length);

    // Lateness of firings while the engine was up (not those it caught up after the restart).
    const onTime = final.filter((j) => j.at < killedAt || j.at > upAt + EVERY_MS);
    const late = onTime.map((j) => j.lateMs);
    const caughtUp = missedWhileDown.map((j) => j.lateMs);
    console.log(
      JSON.stringify({
        scheduleLateness: {
          firings: final.length,
          onTime: { count: late.length, medianMs: median(late), maxMs: Math.max(...late) },
          caughtUpAfterRestart: { count: caughtUp.length, medianMs: median(caughtUp), maxMs: Math.max(...caughtUp) },
          downMs: upAt - killedAt,
          restartMs: upAt - restartAt,
        },
      }),
    );
  });
});
