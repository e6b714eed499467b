// kill -9 right after a batch of 1,000 jobs is accepted: most of them have not started yet (they
// start from the batch's Durable Object's alarm, 100 at a time). After a restart on the same
// STATE_DIR every accepted job runs exactly once and nothing else appears.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deployWorkflow, newTenant } from "../helpers/client";
import { step, workflow } from "../helpers/jobs";
import { countJobs, getJobs, listAllJobs, printServerLogsOnFailure, waitForCount } from "./jobs";
import { EngineServer } from "./server";

const JOBS = 1000;
const one = workflow("batch-one", [step("only", "/justworkflowit/noop")]);

describe("kill -9 right after a batch is accepted", () => {
  const server = new EngineServer();
  beforeAll(() => server.start());
  afterAll(() => server.dispose());
  printServerLogsOnFailure(server);

  it("starts every accepted job once after the restart, and no other", async () => {
    const { orgId, client } = await newTenant(server.admin);
    const { workflowId } = await deployWorkflow(client, orgId, one);
    const jobs = Array.from({ length: JOBS }, (_, n) => ({ workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: { n } }));
    const { results } = await client.expect(200, client.post(`/organizations/${orgId}/jobs/batch`, { jobs }));
    // A thousand new Durable Objects take seconds to create: the kill lands while they start. (Any
    // request here would wait behind that work on workerd's one thread, so the kill comes first and
    // the server's log says how many had started.)
    await server.kill();
    const startedBeforeKill = server.logs.split("\n").filter((l) => l.includes('"event":"job.started"')).length;
    expect(startedBeforeKill).toBeLessThan(JOBS);
    const ids: string[] = results.map((r: any) => r.jobId);
    expect(new Set(ids).size).toBe(JOBS);

    await server.start();
    const doneBeforeWait = await countJobs(client, orgId, { status: "SUCCEEDED" });
    await waitForCount(client, orgId, { status: "SUCCEEDED" }, JOBS, 400_000);
    console.log(JSON.stringify({ batchCrash: { jobs: JOBS, startedBeforeKill, succeededRightAfterRestart: doneBeforeWait } }));

    // Exactly the accepted jobs, each once.
    const listed = await listAllJobs(client, orgId);
    expect(listed).toHaveLength(JOBS);
    expect(new Set(listed.map((j) => j.jobId))).toEqual(new Set(ids));
    // A sample read from the jobs themselves: one step run, its input as submitted.
    const sample = ids.filter((_, i) => i % 50 === 0);
    for (const [k, res] of (await getJobs(client, orgId, sample)).entries()) {
      expect(res.job).toMatchObject({ jobId: sample[k], status: "SUCCEEDED", billableTransactionUnits: 1 });
    }
    const { state } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${ids[999]}/state`));
    expect(state.executionData.workflowInput).toEqual({ n: 999 });
    expect(state.executionHistory.filter((h: any) => h.historySource === "engine")).toHaveLength(1);
  }, 600_000);
});
