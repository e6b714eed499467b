// kill -9 right after concurrent single SubmitJobs are answered: each was accepted by an intake
// object (in group commits) and starts from its alarm, so many have not started at the kill. After
// a restart on the same STATE_DIR every acknowledged job runs exactly once, nothing else appears,
// and a job that waits for an event takes one sent after the restart, or is cancelled, whether it
// was a single submission's or a batch's (accepted in the same moment).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deployWorkflow, newTenant } from "../helpers/client";
import { step, workflow } from "../helpers/jobs";
import { getJobs, listAllJobs, printServerLogsOnFailure, waitForCount } from "./jobs";
import { EngineServer } from "./server";

const JOBS = 200;
const HELD = 20;
const one = workflow("intake-one", [step("only", "/justworkflowit/noop")]);
const held = workflow("intake-held", [step("hold", "/justworkflowit/waitForEventIds", { config: { eventIds: ["go"] } })]);

describe("kill -9 right after single submissions are answered", () => {
  const server = new EngineServer();
  beforeAll(() => server.start());
  afterAll(() => server.dispose());
  printServerLogsOnFailure(server);

  it("runs every acknowledged job once after the restart, and delivers events and cancels to the held ones", async () => {
    const { orgId, client } = await newTenant(server.admin);
    const { workflowId } = await deployWorkflow(client, orgId, one);
    const heldWorkflow = await deployWorkflow(client, orgId, held);
    const submit = (wf: string, n: number) =>
      client.expect(200, client.post(`/organizations/${orgId}/jobs`, { workflowId: wf, workflowVersion: { tag: "$LIVE" }, inputJson: { n } }));
    const batchJobs = Array.from({ length: HELD }, (_, n) => ({ workflowId: heldWorkflow.workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: { n, batch: true } }));
    const [answers, batch] = await Promise.all([
      Promise.all([...Array.from({ length: JOBS }, (_, n) => submit(workflowId, n)), ...Array.from({ length: HELD }, (_, n) => submit(heldWorkflow.workflowId, n))]),
      client.expect(200, client.post(`/organizations/${orgId}/jobs/batch`, { jobs: batchJobs })),
    ]);
    await server.kill();
    const startedBeforeKill = server.logs.split("\n").filter((l) => l.includes('"event":"job.started"')).length;
    const ids: string[] = answers.map((a) => a.jobId);
    expect(new Set(ids).size).toBe(JOBS + HELD);

    await server.start();
    // Right after the restart, before the intake's alarm may have started them: events to half of
    // the held jobs, cancels to the other half. Each is accepted whether its job has started or not.
    // The batch's held jobs alike: half get the event, half are cancelled.
    const batchIds: string[] = batch.results.map((r: { jobId: string }) => r.jobId);
    expect(new Set(batchIds).size).toBe(HELD);
    const heldIds = ids.slice(JOBS);
    const toEvent = [...heldIds.slice(0, HELD / 2), ...batchIds.slice(0, HELD / 2)];
    const toCancel = [...heldIds.slice(HELD / 2), ...batchIds.slice(HELD / 2)];
    await Promise.all([
      ...toEvent.map((id) => client.expect(200, client.post(`/organizations/${orgId}/jobs/${id}/events`, { eventId: "go", payload: { id } }))),
      ...toCancel.map((id) => client.expect(200, client.post(`/organizations/${orgId}/jobs/${id}/cancel`))),
    ]);
    await waitForCount(client, orgId, { status: "SUCCEEDED" }, JOBS + HELD, 400_000);
    await waitForCount(client, orgId, { status: "CANCELLED" }, HELD, 120_000);
    console.log(JSON.stringify({ intakeCrash: { jobs: JOBS + 2 * HELD, startedBeforeKill } }));

    // Exactly the acknowledged jobs, each once, each run once.
    const listed = await listAllJobs(client, orgId);
    expect(listed).toHaveLength(JOBS + 2 * HELD);
    expect(new Set(listed.map((j) => j.jobId))).toEqual(new Set([...ids, ...batchIds]));
    const sample = ids.slice(0, JOBS).filter((_, i) => i % 10 === 0);
    for (const [k, res] of (await getJobs(client, orgId, sample)).entries()) {
      expect(res.job).toMatchObject({ jobId: sample[k], status: "SUCCEEDED", billableTransactionUnits: 1 });
    }
    const { state } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${ids[JOBS - 1]}/state`));
    expect(state.executionData.workflowInput).toEqual({ n: JOBS - 1 });
    expect(state.executionHistory.filter((h: any) => h.historySource === "engine")).toHaveLength(1);
    for (const [k, res] of (await getJobs(client, orgId, toEvent)).entries()) {
      expect(res.job).toMatchObject({ jobId: toEvent[k], status: "SUCCEEDED" });
    }
    for (const res of await getJobs(client, orgId, toCancel)) expect(res.job.status).toBe("CANCELLED");
  }, 600_000);
});
