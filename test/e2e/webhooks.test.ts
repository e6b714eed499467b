// A sender pointed at /hooks/{triggerId} of a real `npm start` starts a job that runs to success.
import { beforeAll, describe, expect, it } from "vitest";
import { deployWorkflow, newTenant } from "../helpers/client";
import { step, waitForJob, workflow } from "../helpers/jobs";
import { createTrigger, postHook, standardHeaders } from "../helpers/webhooks";
import { SharedServer } from "./shared-server";

const orders = workflow("webhook-orders", [step("accept", "/justworkflowit/noop")], {
  workflowInput: { type: "object", required: ["orderId"], properties: { orderId: { type: "string" } } },
});

describe("webhook delivery over real HTTP", () => {
  const server = new SharedServer();
  beforeAll(() => server.connect());

  it("delivers a signed webhook and the job it starts succeeds", async () => {
    const { orgId, client } = await newTenant(server.admin);
    const { workflowId } = await deployWorkflow(client, orgId, orders);
    const trigger = await createTrigger(client, orgId, {
      name: "shop",
      workflowId,
      workflowVersion: { tag: "$LIVE" },
      scheme: "standard-webhooks",
      inputTransformer: { fieldset: [{ from: "body.order.id", to: "orderId" }] },
    });
    expect(trigger.url).toBe(`${server.baseUrl}/hooks/${trigger.triggerId}`);

    const body = JSON.stringify({ type: "order.created", order: { id: "o-e2e" } });
    const headers = standardHeaders(trigger.secret, body);
    const delivered = await postHook(fetch, trigger.url, body, headers);
    expect(delivered.status).toBe(202);

    const { job } = await waitForJob(client, orgId, delivered.body.jobId, undefined, 60_000);
    expect(job).toMatchObject({ status: "SUCCEEDED", submittedByUser: `webhook:${trigger.triggerId}` });
    const { state } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${job.jobId}/state`));
    expect(state.executionData.workflowInput).toEqual({ orderId: "o-e2e" });

    const replay = await postHook(fetch, trigger.url, body, headers);
    expect(replay).toMatchObject({ status: 200, body: { jobId: job.jobId } });
    const tampered = await postHook(fetch, trigger.url, body.replace("o-e2e", "o-evil"), headers);
    expect(tampered.status).toBe(401);
  });
});
