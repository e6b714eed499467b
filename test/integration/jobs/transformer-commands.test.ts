/**
 * `via: {type: "commands"}` through the API: a definition using json-xform's commands registers
 * and its job gets the transformed input; a command off the allow-list is refused at registration,
 * naming it; a value a command does not apply to fails the job with TransformerError.
 */
import { describe, expect, it } from "vitest";
import { deployWorkflow, newTenant } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";

const tags = (transform: unknown[]) =>
  workflow("tags", [
    step("clean", "/justworkflowit/noop", {
      inputTransformer: { fieldset: [{ from: "workflowInput.tags", to: "tags", via: { type: "commands", transform } }] },
    }),
  ]);
const splitTrimUpper = [{ command: "split", params: [";"] }, { command: "trim", map: true }, { command: "toUpperCase", map: true }];

describe("via commands in a job", () => {
  it("registers, and runs the step with the commands' result as its input", async () => {
    const { client, orgId } = await newTenant(admin);
    const { workflowId } = await deployWorkflow(client, orgId, tags(splitTrimUpper));
    const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: { tags: " red; green ;blue" } });
    const { job } = await waitForJob(client, orgId, jobId);
    expect(job).toMatchObject({ status: "SUCCEEDED", output: { tags: ["RED", "GREEN", "BLUE"] } });
  });

  it("refuses a command off the allow-list at registration, and registers nothing", async () => {
    const { client, orgId } = await newTenant(admin);
    const { workflowId } = await client.expect(200, client.post(`/organizations/${orgId}/workflows`, { name: "tags" }));
    const res = await client.post(`/organizations/${orgId}/workflows/${workflowId}/versions`, { definition: JSON.stringify(tags([{ command: "constructor" }])) });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: "ValidationError" });
    expect(JSON.stringify(res.body)).toContain('via.transform[0].command \\"constructor\\" is not a supported command');
    const versions = await client.expect(200, client.get(`/organizations/${orgId}/workflows/${workflowId}/versions`));
    expect(versions.versions).toEqual([]);
  });

  it("fails the job with TransformerError when a command does not apply to the value", async () => {
    const { client, orgId } = await newTenant(admin);
    const { workflowId } = await deployWorkflow(client, orgId, tags(splitTrimUpper));
    const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: { tags: 42 } });
    const { job } = await waitForJob(client, orgId, jobId);
    expect(job).toMatchObject({ status: "FAILED", error: { code: "TransformerError", stepName: "clean" } });
    expect(job.error.message).toContain("split applies to a string, not to a number");
  });
});
