// kill -9 during a large fan-out: one parent whose only step runs a one-step child for each of
// 2,000 items. The engine is killed twice, while children run and while they report; after restarts
// on the same STATE_DIR the parent finishes with every child's result once, in order, and counted once.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deployWorkflow, newTenant } from "../helpers/client";
import { step, submit, workflow } from "../helpers/jobs";
import { countJobs, listAllJobs, printServerLogsOnFailure, waitForCount } from "./jobs";
import { EngineServer, waitFor } from "./server";
import { childJobId } from "../../src/executors/run-child-job";
import { MAX_GETJOB_CHILD_JOBS } from "../../src/limits";

const ITEMS = 2_000;
const MINUTE = 60_000;

const itemOf = (i: number) => ({ n: i, tag: `item-${i}` });
const items = Array.from({ length: ITEMS }, (_, i) => itemOf(i));

// The child sleeps a second on its own durable timer, then echoes its input: each result can be
// checked against its own item, and the crashes also fall on children's pending alarms.
const echo = workflow("echo-item", [step("echo", "/canopy/delay", { config: { seconds: 1 }, input: "item", output: "item" })], {
  item: {
    type: "object",
    properties: { n: { type: "integer" }, tag: { type: "string" } },
    required: ["n", "tag"],
    additionalProperties: false,
  },
});

// At most CONCURRENCY children at a time, each sleeping a second: the fan-out advances in 40 rounds
// of at least a second, so it lasts 40 s or more on any machine, and both crashes below
// fall inside it. (Without them, 2,000 noop children are created, run and reported in
// one burst of a few seconds.)
const CONCURRENCY = 50;

const fanOut = workflow(
  "fan-out-2000",
  [
    step("fanOut", "/justworkflowit/runChildJob", {
      config: {
        maxConcurrency: CONCURRENCY,
        children: [{ workflowName: "echo-item", workflowVersion: { tag: "$LIVE" }, forEach: { arrayPath: "workflowInput.items" } }],
      },
      input: "workflowInput",
      output: "childResult",
    }),
  ],
  {
    workflowInput: { type: "object", properties: { items: { type: "array" } }, required: ["items"] },
    childResult: { type: "object", properties: { results: { type: "array" } }, required: ["results"] },
  },
);

describe("kill -9 during a 2,000-child fan-out", () => {
  const server = new EngineServer();
  beforeAll(() => server.start());
  afterAll(() => server.dispose());
  printServerLogsOnFailure(server);

  it("finishes the parent after two crashes with every child once, in order, and units counted once", { timeout: 15 * MINUTE }, async () => {
    const { orgId, client } = await newTenant(server.admin);
    await deployWorkflow(client, orgId, echo);
    const { workflowId } = await deployWorkflow(client, orgId, fanOut);
    const parentId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: JSON.stringify({ items }) });

    const jobPath = (jobId: string) => `/organizations/${orgId}/jobs/${jobId}`;
    // Each child's id is derived from (parent, run, step, key, attempt): the children of attempt 1.
    const childIds = items.map((_, i) => childJobId(parentId, 1, "fanOut", String(i), 1));
    // The kills are placed by the job objects in the engine's state directory (each Durable Object is
    // a SQLite file there, written as it works), read without asking the engine anything: a request
    // queues behind the fan-out's own work, and the engine's log lines reach this process late on a
    // busy machine (a kill placed by them once fell after the whole fan-out had ended).
    const objectsDir = join(server.stateDir, "v3", "do", "canopy-JobObject");
    const files = () => (existsSync(objectsDir) ? readdirSync(objectsDir).filter((f) => f.endsWith(".sqlite") || f.endsWith(".sqlite-wal")) : []);
    const objects = () => files().filter((f) => f.endsWith(".sqlite")).length;
    /** Whether any job object was written after `since` (ms). */
    const writtenSince = (since: number) =>
      files().some((f) => {
        try {
          return statSync(join(objectsDir, f)).mtimeMs > since;
        } catch {
          return false; // a -wal file checkpointed away meanwhile
        }
      });

    // Crash while children run: as soon as the 61st child exists (the parent creates them ahead of
    // their turn; 50 run at once).
    await waitFor(async () => objects() > 1 + 60, 5 * MINUTE, 20);
    const firstKillAt = Date.now();
    await server.kill();

    // Crash again while children end and report: a second after the restarted engine first writes a
    // job object. Sooner is surer than later: the fan-out's pace is the engine's to set (twice it ended
    // within 16 s of a restart), and a kill this early in a start can leave the next start's alarms
    // idle for about three minutes (local workerd), which the generous waits below allow for.
    let restartError: unknown;
    const restartAt = Date.now();
    const restarting = server.start(5 * MINUTE).catch((e: unknown) => void (restartError = e));
    await waitFor(async () => writtenSince(restartAt) || restartError !== undefined, 6 * MINUTE, 250);
    if (!writtenSince(restartAt)) throw restartError;
    await new Promise((r) => setTimeout(r, 1_000));
    const secondKillAt = Date.now();
    await server.kill();
    await restarting; // answered already, or ended by the kill
    await server.start(3 * MINUTE);

    // The parent finishes, by its own object's word.
    const { job } = await waitFor(
      async () => {
        const res = await client.get(jobPath(parentId));
        return res.status === 200 && ["SUCCEEDED", "FAILED", "CANCELLED"].includes(res.body.job.status) ? res.body : undefined;
      },
      10 * MINUTE,
      2_000,
    );
    // Where the crashes fell (shown for a failed test).
    console.info(`kills at ${new Date(firstKillAt).toISOString()} and ${new Date(secondKillAt).toISOString()}; parent ${job.status} at ${job.finishedAt}`);
    expect({ status: job.status, error: job.error }).toEqual({ status: "SUCCEEDED", error: undefined });
    expect(job).toMatchObject({ jobId: parentId, status: "SUCCEEDED" });
    // The crashes fell while the fan-out ran (else this test would prove nothing): it ended after both.
    expect(Date.parse(job.finishedAt)).toBeGreaterThan(secondKillAt);

    // Every item's result, once, in input order, each its own child's echo.
    const { results } = job.output;
    expect(job.output).toMatchObject({ succeeded: ITEMS, failed: 0 });
    expect(results).toHaveLength(ITEMS);
    expect(results.map((r: any) => r.id)).toEqual(items.map((_, i) => String(i)));
    expect(results.filter((r: any) => r.status !== "SUCCEEDED" || r.workflowName !== "echo-item")).toEqual([]);
    expect(results.map((r: any) => r.output)).toEqual(items);
    expect(results.map((r: any) => r.jobId)).toEqual(childIds);
    expect(new Set(results.map((r: any) => r.jobId)).size).toBe(ITEMS);

    // Units (src/engine/status.ts: own attempts + earlier runs + children's reported units): the
    // parent's one step attempt, plus each child's one step attempt, each counted once.
    expect(job.billableTransactionUnits).toBe(1 + ITEMS);

    // The step ran once, whatever the crashes.
    const { state } = await client.expect(200, client.get(`${jobPath(parentId)}/state`));
    expect(state.executionHistory.filter((h: any) => h.historySource === "engine").map((h: any) => h.stepName)).toEqual(["fanOut"]);

    // The index catches up on its own path: every child listed once, no other.
    await waitForCount(client, orgId, { jobHierarchy: "CHILD_JOBS_ONLY" }, ITEMS, 10 * MINUTE);
    await waitForCount(client, orgId, { jobHierarchy: "CHILD_JOBS_ONLY", status: "SUCCEEDED" }, ITEMS, 10 * MINUTE);
    expect(await countJobs(client, orgId, { jobHierarchy: "TOP_LEVEL_ONLY" })).toBe(1);
    expect(await countJobs(client, orgId)).toBe(1 + ITEMS);
    const listed = await listAllJobs(client, orgId, { jobHierarchy: "CHILD_JOBS_ONLY" });
    const listedIds = listed.map((c) => c.jobId);
    expect(listedIds).toHaveLength(ITEMS);
    expect(new Set(listedIds).size).toBe(ITEMS);
    expect([...listedIds].sort()).toEqual([...childIds].sort());
    expect(listed.filter((c) => c.status !== "SUCCEEDED")).toEqual([]);

    // The parent's children (from the index) are the same children, each once, in their step's
    // order: GetJob's first MAX_GETJOB_CHILD_JOBS, then ListJobs parentJobId from its token.
    const { childJobs, childJobsNextPageToken } = await client.expect(200, client.get(jobPath(parentId)));
    expect(childJobs).toHaveLength(MAX_GETJOB_CHILD_JOBS);
    const rest: any[] = [];
    let pageToken: string | undefined = childJobsNextPageToken;
    while (pageToken) {
      const page = await client.expect(200, client.get(`/organizations/${orgId}/jobs?parentJobId=${parentId}&pageSize=100&pageToken=${pageToken}`));
      rest.push(...page.jobs);
      pageToken = page.nextPageToken;
    }
    const children = [...childJobs, ...rest];
    expect(children.map((c: any) => c.jobId)).toEqual(childIds);
    expect(children.every((c: any) => c.status === "SUCCEEDED" && c.parentStepName === "fanOut")).toBe(true);
  });
});
