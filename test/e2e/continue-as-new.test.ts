// A loop of 25,000 iterations through a real `npm start`: the job continues as new whenever a
// run's history reaches the default bound of 10,000 items, and stays one job.
import { beforeAll, describe, expect, it } from "vitest";
import { deployWorkflow, newTenant } from "../helpers/client";
import countdown from "../fixtures/countdown.json";
import { waitFor } from "./server";
import { SharedServer } from "./shared-server";

const ITERATIONS = 25_000;
const BOUND = 10_000;

describe("continueAsNew against wrangler dev", () => {
  const server = new SharedServer();
  beforeAll(() => server.connect());

  it(`runs a ${ITERATIONS}-iteration loop as one job over several runs, none past ${BOUND} history items`, async () => {
    const { orgId, client } = await newTenant(server.admin);
    const { workflowId } = await deployWorkflow(client, orgId, countdown);
    const { jobId } = await client.expect(200, client.post(`/organizations/${orgId}/jobs`, { workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: { n: ITERATIONS } }));
    const job = await waitFor(async () => {
      const { job } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}`));
      return ["SUCCEEDED", "FAILED", "CANCELLED"].includes(job.status) ? job : undefined;
    }, 240_000, 250);
    expect(job).toMatchObject({ status: "SUCCEEDED", output: { n: 0 }, billableTransactionUnits: ITERATIONS + 1 });
    expect(job.runNumber).toBeGreaterThanOrEqual(3);
    let items = 0;
    for (let run = 1; run <= job.runNumber; run++) {
      const meta = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state/metadata?runNumber=${run}`));
      expect(meta.historyItems).toBeLessThanOrEqual(BOUND);
      items += meta.historyItems;
    }
    expect(items).toBe(ITERATIONS + 1);
    const { jobs, totalCount } = await client.expect(200, client.get(`/organizations/${orgId}/jobs`));
    expect(totalCount).toBe(1);
    expect(jobs[0].jobId).toBe(jobId);
  });
});
