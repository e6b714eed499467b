/**
 * JustWorkflowIt definitions that leave `definitions.workflowInput` out (most of its own fixtures
 * do), through the API: they register, their jobs and child jobs start with any input, and each
 * step's own input and output schemas are still checked at run time.
 */
import { describe, expect, it } from "vitest";
import { deployWorkflow, newTenant } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import minimalFixture from "../../fixtures/peer/accepted/workflow-minimal.json";
import inputOnlyFixture from "../../fixtures/peer/accepted/workflow-inputOnly.json";

const fixtures = { "workflow-minimal.json": minimalFixture, "workflow-inputOnly.json": inputOnlyFixture };

/** A fixture of the peer's (test/fixtures/peer), its test executor replaced by one of Canopy's. */
function peerFixture(file: keyof typeof fixtures, executor: { type: string; config?: Record<string, unknown> }) {
  const def = structuredClone(fixtures[file]) as { workflowName: string; steps: { integrationDetails: object }[]; definitions: Record<string, unknown> };
  for (const s of def.steps) Object.assign(s.integrationDetails, executor);
  expect(def.definitions.workflowInput).toBeUndefined();
  return def;
}

describe("definitions without workflowInput", () => {
  it("register and run; the first step's own schema still checks the job's input", async () => {
    const { client, orgId } = await newTenant(admin);
    const { workflowId } = await deployWorkflow(client, orgId, peerFixture("workflow-minimal.json", { type: "/justworkflowit/noop" }));

    const ok = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" } });
    expect((await waitForJob(client, orgId, ok)).job).toMatchObject({ status: "SUCCEEDED", output: {} });

    // Nothing declares the job's input, so SubmitJob takes it; the step's inputDefinition refuses it.
    const bad = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: { unexpected: 1 } });
    const { job } = await waitForJob(client, orgId, bad);
    expect(job).toMatchObject({ status: "FAILED", error: { code: "InputValidationError", stepName: "minimalStep" } });
  });

  it("run a step whose transformer builds its input from nothing but literals", async () => {
    const { client, orgId } = await newTenant(admin);
    const { workflowId } = await deployWorkflow(client, orgId, peerFixture("workflow-inputOnly.json", { type: "/canopy/transform", config: { output: {} } }));
    const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: { anything: true } });
    expect((await waitForJob(client, orgId, jobId)).job.status).toBe("SUCCEEDED");
    const { state } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state`));
    expect(state.executionData.inputStepInput).toEqual({ inputA: "a brand new field" });
  });

  it("run as child jobs", async () => {
    const { client, orgId } = await newTenant(admin);
    const minimal = peerFixture("workflow-minimal.json", { type: "/justworkflowit/noop" });
    await deployWorkflow(client, orgId, minimal);
    const parent = workflow("parent", [step("fan", "/justworkflowit/runChildJob", { config: { children: [{ workflowName: minimal.workflowName, workflowVersion: { tag: "$LIVE" } }] } })]);
    const { workflowId } = await deployWorkflow(client, orgId, parent);
    const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: {} });
    const { job } = await waitForJob(client, orgId, jobId, undefined, 30_000);
    expect(job.status).toBe("SUCCEEDED");
    expect(job.output).toMatchObject({ succeeded: 1, failed: 0, results: [{ workflowName: minimal.workflowName, status: "SUCCEEDED", output: {} }] });
  });
});
