// A durable timer across downtime: a 5 s /canopy/delay whose engine is down for 10 s fires once,
// after the restart.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deployWorkflow, newTenant } from "../helpers/client";
import { step, submit, waitForJob, workflow } from "../helpers/jobs";
import { printServerLogsOnFailure } from "./jobs";
import { EngineServer, sleep } from "./server";

const nap = workflow("nap", [
  step("before", "/justworkflowit/noop", {}, "sleep"),
  step("sleep", "/canopy/delay", { config: { seconds: 5 } }, "after"),
  step("after", "/justworkflowit/noop"),
]);

describe("a timer across downtime", () => {
  const server = new EngineServer();
  beforeAll(() => server.start());
  afterAll(() => server.dispose());
  printServerLogsOnFailure(server);

  it("fires a 5 s delay once after 10 s of downtime", async () => {
    const { orgId, client } = await newTenant(server.admin);
    const { workflowId } = await deployWorkflow(client, orgId, nap);
    const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: { n: 1 } });
    const { job: started } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}`));
    expect(started).toMatchObject({ status: "RUNNING", currentStepName: "sleep" });

    await server.kill();
    await sleep(10_000);
    const restartedAt = Date.now();
    await server.start();

    const { job } = await waitForJob(client, orgId, jobId, undefined, 30_000);
    expect(job).toMatchObject({ status: "SUCCEEDED", output: { n: 1 }, billableTransactionUnits: 3 });
    expect(Date.parse(job.finishedAt)).toBeGreaterThanOrEqual(restartedAt);
    const { state } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state`));
    const history = state.executionHistory;
    expect(history.map((h: any) => h.stepName)).toEqual(["before", "sleep", "after"]);
    const slept = history.find((h: any) => h.stepName === "sleep");
    expect(slept.output).toEqual({ status: "success", payload: { n: 1 } });
    // It ended after the restart, not at its due time while the engine was down.
    expect(Date.parse(slept.endTimestamp)).toBeGreaterThanOrEqual(restartedAt);
    expect(Date.parse(slept.endTimestamp) - Date.parse(slept.startTimestamp)).toBeGreaterThanOrEqual(10_000);
  });
});
