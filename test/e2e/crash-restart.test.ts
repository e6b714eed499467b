// kill -9 mid-run: 20 order batches of 15 items each, half their approvals sent before the crash.
// The engine is killed twice, while the children hold and while they report; after restarts on the
// same STATE_DIR every job finishes, no child is missing or doubled, and every acknowledged event is used.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deployWorkflow, newTenant } from "../helpers/client";
import { step, submit } from "../helpers/jobs";
import orderBatch from "../fixtures/order-batch.json";
import orderItem from "../fixtures/order-item.json";
import { countJobs, getJobs, listAllJobs, printServerLogsOnFailure, waitForCount } from "./jobs";
import { EngineServer, waitFor } from "./server";
import { childJobId } from "../../src/executors/run-child-job";

const PARENTS = 20;
const ITEMS = 15;

// The order-item child, held a few seconds so that the crash finds children running.
const heldItem = {
  ...orderItem,
  steps: [
    { ...orderItem.steps[0]!, transitionToStep: "hold" },
    step("hold", "/canopy/delay", { config: { seconds: 5 }, input: "workflowInput", output: "workflowInput" }),
  ],
};

const itemsOf = (p: number) => Array.from({ length: ITEMS }, (_, i) => ({ sku: `p${p}-sku${i}`, qty: i + 1 }));
const approval = (p: number, phase: "before" | "after") => ({ approved: p % 3 !== 0, batch: p, phase });

describe("kill -9 while children run and while they report", () => {
  const server = new EngineServer();
  beforeAll(() => server.start());
  afterAll(() => server.dispose());
  printServerLogsOnFailure(server);

  it("finishes every job after a restart, with every child once and every acknowledged event used", async () => {
    const { orgId, client } = await newTenant(server.admin);
    await deployWorkflow(client, orgId, heldItem);
    const { workflowId } = await deployWorkflow(client, orgId, orderBatch);
    const events = (jobId: string) => `/organizations/${orgId}/jobs/${jobId}/events`;

    const parents = await Promise.all(
      Array.from({ length: PARENTS }, (_, p) =>
        submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: JSON.stringify({ items: itemsOf(p) }) }),
      ),
    );
    // Half the approvals arrive before the parents wait for them: they must be kept across the crash.
    await Promise.all(
      parents
        .slice(0, PARENTS / 2)
        .map((jobId, p) => client.expect(200, client.post(events(jobId), { eventId: "manager-approved", payload: approval(p, "before") }))),
    );

    // Crash while children are running: as soon as the first parent's first child exists, by its own
    // object's word (the D1 index lags behind the objects under this load), 5 s before any can end.
    const firstChild = `/organizations/${orgId}/jobs/${childJobId(parents[0]!, 1, "fanOut", "0", 1)}`;
    const childStatus = async () => (await client.get(firstChild)).body?.job?.status;
    await waitFor(async () => ["RUNNING", "SUCCEEDED"].includes(await childStatus()), 30_000, 50);
    await server.kill();
    await server.start();

    // Crash again as children end: their reports to the parents are in flight.
    await waitFor(async () => (await childStatus()) === "SUCCEEDED", 60_000, 50);
    await server.kill();
    await server.start();

    for (let p = PARENTS / 2; p < PARENTS; p++) {
      await client.expect(200, client.post(events(parents[p]!), { eventId: "manager-approved", payload: approval(p, "after") }));
    }
    await waitForCount(client, orgId, { jobHierarchy: "TOP_LEVEL_ONLY", status: "SUCCEEDED" }, PARENTS, 180_000);
    await waitForCount(client, orgId, { jobHierarchy: "CHILD_JOBS_ONLY", status: "SUCCEEDED" }, PARENTS * ITEMS, 60_000);

    // Exactly the jobs that should exist, each once, all SUCCEEDED.
    expect(await countJobs(client, orgId)).toBe(PARENTS + PARENTS * ITEMS);
    expect(await countJobs(client, orgId, { jobHierarchy: "TOP_LEVEL_ONLY" })).toBe(PARENTS);
    expect(await countJobs(client, orgId, { jobHierarchy: "CHILD_JOBS_ONLY" })).toBe(PARENTS * ITEMS);
    const children = await listAllJobs(client, orgId, { jobHierarchy: "CHILD_JOBS_ONLY" });
    expect(children).toHaveLength(PARENTS * ITEMS);
    expect(new Set(children.map((c) => c.jobId)).size).toBe(PARENTS * ITEMS);
    expect(children.filter((c) => c.status !== "SUCCEEDED")).toEqual([]);

    const got = await getJobs(client, orgId, parents);
    for (let p = 0; p < PARENTS; p++) {
      const { job, childJobs } = got[p]!;
      const jobId = parents[p]!;
      // The approval it was sent, before or after the crash, is the one it finished with.
      expect(job).toMatchObject({ jobId, status: "SUCCEEDED", output: approval(p, p < PARENTS / 2 ? "before" : "after") });
      // Units: its 3 steps plus 2 per child, each counted once.
      expect(job.billableTransactionUnits).toBe(3 + 2 * ITEMS);

      const { state } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state`));
      const out = state.executionData.fanOutOutput;
      expect(out).toMatchObject({ succeeded: ITEMS, failed: 0 });
      expect(out.results.map((r: any) => r.id)).toEqual(itemsOf(p).map((_, i) => String(i)));
      expect(out.results.map((r: any) => r.output)).toEqual(itemsOf(p));
      expect(out.results.every((r: any) => r.status === "SUCCEEDED" && r.workflowName === "order-item")).toBe(true);
      const resultIds = out.results.map((r: any) => r.jobId);
      expect(new Set(resultIds).size).toBe(ITEMS);
      // The children the index knows for this parent are exactly the ones its results name.
      expect(childJobs.map((c: any) => c.jobId).sort()).toEqual([...resultIds].sort());
      expect(childJobs.every((c: any) => c.status === "SUCCEEDED" && c.parentStepName === "fanOut")).toBe(true);
      // Each step recorded once; the approval was received once.
      const history = state.executionHistory;
      expect(history.filter((h: any) => h.historySource === "engine").map((h: any) => h.stepName)).toEqual(["load", "fanOut", "approve"]);
      expect(history.filter((h: any) => h.eventId === "manager-approved")).toHaveLength(1);
    }
  });
});
