// Event ids named like Object.prototype's members ("toString", "__proto__", "constructor") are
// ordinary ids: acknowledged, recorded once and used, and they pollute nothing.
import { describe, expect, it } from "vitest";
import { deployWorkflow, newTenant } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";

const ids = ["toString", "__proto__", "constructor"];

describe("event ids that Object.prototype also has", () => {
  it("waits for them, uses each once, and leaves other jobs working", async () => {
    const { orgId, client } = await newTenant(admin);
    const { workflowId } = await deployWorkflow(client, orgId, workflow("odd-ids", [step("wait", "/justworkflowit/waitForEventIds", { config: { eventIds: ids } })]));
    const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" } });
    // Once, "__proto__" and "constructor" were found on Object.prototype: the wait completed at once
    // and marked Object.prototype consumed, breaking every request after it; "toString" was taken
    // for a duplicate and dropped.
    expect((await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}`))).job.status).toBe("RUNNING");
    for (const eventId of ids) {
      await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/events`, { eventId, payload: { [eventId]: true } }));
    }
    const { job } = await waitForJob(client, orgId, jobId);
    expect(job).toMatchObject({ status: "SUCCEEDED", output: JSON.parse('{"toString":true,"__proto__":true,"constructor":true}') });
    const { state } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state`));
    expect(state.executionHistory.filter((h: any) => h.historySource === "external").map((h: any) => h.eventId)).toEqual(ids);

    const other = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" } });
    expect((await client.expect(200, client.get(`/organizations/${orgId}/jobs/${other}`))).job.status).toBe("RUNNING");
  });
});
