/** A tenant with a small workflow and a webhook trigger on it, for the webhook tests. */
import { SELF } from "cloudflare:test";
import { deployWorkflow, newTenant } from "../../helpers/client";
import { step, workflow } from "../../helpers/jobs";
import { createTrigger, postHook } from "../../helpers/webhooks";
import { admin } from "../../helpers/workerd";

/** An order workflow: its input must carry a string `orderId`. */
export const orders = workflow("orders", [step("accept", "/justworkflowit/noop")], {
  workflowInput: { type: "object", required: ["orderId"], properties: { orderId: { type: "string" } } },
});

/** A new tenant, the order workflow, and one trigger with `options` (scheme defaults to standard-webhooks). */
export async function triggerSetup(options: Record<string, unknown> = {}) {
  const tenant = await newTenant(admin);
  const wf = await deployWorkflow(tenant.client, tenant.orgId, orders);
  const trigger = await createTrigger(tenant.client, tenant.orgId, {
    name: "shop",
    workflowId: wf.workflowId,
    workflowVersion: { tag: "$LIVE" },
    scheme: "standard-webhooks",
    ...options,
  });
  const hook = (body: BodyInit, headers: Record<string, string>) => postHook((url, init) => SELF.fetch(url, init), trigger.url, body, headers);
  return { ...tenant, ...wf, trigger, hook };
}
