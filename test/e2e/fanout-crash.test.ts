// kill -9 during a large fan-out: one parent whose only step runs a two-step child for each of
// 2,000 items. The engine is killed twice, while children run and while they report; after restarts
// on the same STATE_DIR the parent finishes with every child's result once, in order, and counted once.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deployWorkflow, newTenant } from "../helpers/client";
import { step, submit, workflow } from "../helpers/jobs";
import { countJobs, listAllJobs, printServerLogsOnFailure, waitForCount } from "./jobs";
import { FarEnd } from "./far-end";
import { EngineServer, waitFor } from "./server";
import { childJobId } from "../../src/executors/run-child-job";
import { MAX_GETJOB_CHILD_JOBS } from "../../src/limits";

const ITEMS = 2_000;
const MINUTE = 60_000;

const itemOf = (i: number) => ({ n: i, tag: `item-${i}` });
const items = Array.from({ length: ITEMS }, (_, i) => itemOf(i));

// At most CONCURRENCY children at a time, each sleeping CHILD_SECONDS: at most 50 children end in
// a second of the engine's running, so the fan-out lasts 40 s or more on any machine (about a minute
// on an idle one), and both crashes below fall inside it. (Without the sleep, 2,000 children are
// created, run and reported in one burst of a few seconds.)
const CONCURRENCY = 100;
const CHILD_SECONDS = 2;
/**
 * A kill within about 15 s of the engine's start can leave the next start's alarms idle for about
 * three minutes (local workerd), so neither kill comes sooner than this after its start. By the
 * second kill the engine has run for about 2 × 16 s, so about 2,000 − 50 × 32 children remain.
 */
const SETTLED_AFTER_START_MS = 16_000;
/** How long no call has come when a kill falls: the last round's calls have been answered. */
const QUIET_MS = 700;

// The child sends its input to a far end that echoes it back, then sleeps two seconds on its own
// durable timer: each result can be checked against its own item, the far end sees each call as it
// arrives (the kills below are placed by them), and the crashes also fall on children's pending alarms.
const echoItem = (farEnd: FarEnd) =>
  workflow(
    "echo-item",
    [
      step("echo", "/canopy/http", { config: { url: `${farEnd.origin}/echo` }, input: "item", output: "item" }, "rest"),
      step("rest", "/canopy/delay", { config: { seconds: CHILD_SECONDS }, input: "item", output: "item" }),
    ],
    {
      item: {
        type: "object",
        properties: { n: { type: "integer" }, tag: { type: "string" } },
        required: ["n", "tag"],
        additionalProperties: false,
      },
    },
  );

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
  const farEnd = new FarEnd();
  let startedAt = 0;
  beforeAll(() => {
    startedAt = Date.now();
    return Promise.all([server.start(), farEnd.start()]);
  });
  afterAll(() => Promise.all([server.dispose(), farEnd.stop()]));
  printServerLogsOnFailure(server);

  it("finishes the parent after two crashes with every child once, in order, and units counted once", { timeout: 15 * MINUTE }, async () => {
    const { orgId, client } = await newTenant(server.admin);
    await deployWorkflow(client, orgId, echoItem(farEnd));
    const { workflowId } = await deployWorkflow(client, orgId, fanOut);
    const parentId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: JSON.stringify({ items }) });

    const jobPath = (jobId: string) => `/organizations/${orgId}/jobs/${jobId}`;
    // Each child's id is derived from (parent, run, step, key, attempt): the children of attempt 1.
    const childIds = items.map((_, i) => childJobId(parentId, 1, "fanOut", String(i), 1));
    // The kills are placed by the children's calls as they reach the far end, a signal with no lag:
    // a request to the engine queues behind the fan-out's own work, its log lines reach this process
    // late on a busy machine, and its job objects' SQLite files appear in its state directory in
    // bursts, seconds after the objects start (a kill placed by either once fell after the fan-out's end).
    const echoes = () => farEnd.seen.filter((s) => s.path === "/echo");
    const calls = () => echoes().length;
    // Children start in rounds and call at once. A kill falls in the quiet after a round's calls,
    // while the round's children sleep: a call in flight at a kill is sent again only when its lease
    // ends (its time limit and CALL_LEASE_MARGIN_MS, a minute), and a kill amid a round's calls stalls
    // the whole round that long.
    const quiet = () => Date.now() - (echoes().at(-1)?.at ?? Date.now()) >= QUIET_MS;

    // Crash while children run: past the fan-out's first round, settled, and quiet.
    await waitFor(async () => calls() > CONCURRENCY + 20 && Date.now() - startedAt >= SETTLED_AFTER_START_MS && quiet(), 5 * MINUTE, 20);
    const firstKillAt = Date.now();
    await server.kill();

    // Crash again while children end and report, once the restarted engine has made 30 calls,
    // settled, and is quiet.
    const callsBeforeRestart = calls();
    const restartAt = Date.now();
    let restartError: unknown;
    const restarting = server.start(5 * MINUTE).catch((e: unknown) => void (restartError = e));
    await waitFor(
      async () => (calls() >= callsBeforeRestart + 30 && Date.now() - restartAt >= SETTLED_AFTER_START_MS && quiet()) || restartError !== undefined,
      6 * MINUTE,
      20,
    );
    if (restartError !== undefined) throw restartError;
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
    if (job.status !== "SUCCEEDED") {
      // Why children failed, by error (shown for a failed test).
      const failed = await listAllJobs(client, orgId, { jobHierarchy: "CHILD_JOBS_ONLY", status: "FAILED" });
      const byError = new Map<string, number>();
      for (const c of failed) byError.set(JSON.stringify(c.error), (byError.get(JSON.stringify(c.error)) ?? 0) + 1);
      console.info(`failed children by error: ${JSON.stringify([...byError])}`);
    }
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
    // parent's one step attempt, plus each child's two step attempts, each counted once.
    expect(job.billableTransactionUnits).toBe(1 + 2 * ITEMS);

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
