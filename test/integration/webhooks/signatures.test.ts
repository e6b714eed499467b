// Deliveries are accepted only with a signature over the exact bytes received, computed here with
// the reference algorithms (node:crypto), never with the engine's own code.
import { describe, expect, it } from "vitest";
import { githubHeaders, githubSignature, jobCount, standardHeaders, standardSignature } from "../../helpers/webhooks";
import { triggerSetup } from "./fixture";

const order = { orderId: "o-1", total: 42, lines: [{ sku: "A", qty: 1 }] };
const raw = JSON.stringify(order);

function expectUnauthenticated(res: { status: number; body: any; headers: Headers }) {
  expect(res.status).toBe(401);
  expect(res.body.code).toBe("AuthenticationError");
  expect(res.headers.get("x-amzn-errortype")).toBe("AuthenticationError");
}

describe("standard-webhooks signatures", () => {
  it("accepts a valid signature and starts a job named after the trigger", async () => {
    const { hook, trigger, client, orgId } = await triggerSetup();
    expect(trigger.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    const res = await hook(raw, standardHeaders(trigger.secret, raw));
    expect(res.status).toBe(202);
    const { job } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${res.body.jobId}`));
    expect(job.submittedByUser).toBe(`webhook:${trigger.triggerId}`);
  });

  it("refuses a body with one byte changed", async () => {
    const { hook, trigger, client, orgId } = await triggerSetup();
    const headers = standardHeaders(trigger.secret, raw);
    expectUnauthenticated(await hook(raw.replace("42", "43"), headers));
    expect(await jobCount(client, orgId)).toBe(0);
  });

  it("refuses the same JSON re-serialized with other bytes", async () => {
    const { hook, trigger } = await triggerSetup();
    const headers = standardHeaders(trigger.secret, raw);
    const reserialized = JSON.stringify(order, null, 2);
    expect(JSON.parse(reserialized)).toEqual(order);
    expectUnauthenticated(await hook(reserialized, headers));
  });

  it.each([
    ["stale", -10 * 60],
    ["future", 10 * 60],
  ])("refuses a correctly signed %s timestamp", async (_label, offset) => {
    const { hook, trigger } = await triggerSetup();
    const timestamp = Math.floor(Date.now() / 1000) + offset;
    expectUnauthenticated(await hook(raw, standardHeaders(trigger.secret, raw, { timestamp })));
  });

  it("accepts a list of signatures when one of them is good (secret rotation)", async () => {
    const { hook, trigger } = await triggerSetup();
    const id = "msg_rotation";
    const timestamp = Math.floor(Date.now() / 1000);
    const oldSecret = "whsec_" + Buffer.from("an old secret that was rotated away").toString("base64");
    const signature = [
      standardSignature(oldSecret, id, timestamp, raw),
      "v2,bm90LWFuLWhtYWM=",
      standardSignature(trigger.secret, id, timestamp, raw),
    ].join(" ");
    const res = await hook(raw, standardHeaders(trigger.secret, raw, { id, timestamp, signature }));
    expect(res.status).toBe(202);
  });

  it("refuses a list in which no signature is good", async () => {
    const { hook, trigger } = await triggerSetup();
    const other = "whsec_" + Buffer.from("somebody else's secret").toString("base64");
    const id = "msg_x";
    const timestamp = Math.floor(Date.now() / 1000);
    const signature = `${standardSignature(other, id, timestamp, raw)} ${standardSignature(other, id, timestamp + 1, raw)}`;
    expectUnauthenticated(await hook(raw, standardHeaders(trigger.secret, raw, { id, timestamp, signature })));
  });

  it("refuses a signature made for another delivery id", async () => {
    const { hook, trigger } = await triggerSetup();
    const timestamp = Math.floor(Date.now() / 1000);
    const signature = standardSignature(trigger.secret, "msg_a", timestamp, raw);
    expectUnauthenticated(await hook(raw, standardHeaders(trigger.secret, raw, { id: "msg_b", timestamp, signature })));
  });

  it("refuses an unsigned delivery", async () => {
    const { hook, client, orgId } = await triggerSetup();
    expectUnauthenticated(await hook(raw, { "content-type": "application/json" }));
    expectUnauthenticated(await hook(raw, { "content-type": "application/json", "webhook-id": "msg_1", "webhook-timestamp": String(Math.floor(Date.now() / 1000)) }));
    expect(await jobCount(client, orgId)).toBe(0);
  });
});

describe("github signatures", () => {
  it("accepts X-Hub-Signature-256 over the raw body, with the delivery id from X-GitHub-Delivery", async () => {
    const { hook, trigger, client, orgId } = await triggerSetup({ scheme: "github" });
    expect(trigger.secret).not.toMatch(/^whsec_/);
    const headers = githubHeaders(trigger.secret, raw, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
    const res = await hook(raw, headers);
    expect(res.status).toBe(202);
    expect((await hook(raw, headers)).body.jobId).toBe(res.body.jobId);
    expect(await jobCount(client, orgId)).toBe(1);
  });

  it("refuses a wrong, re-serialized or missing GitHub signature", async () => {
    const { hook, trigger } = await triggerSetup({ scheme: "github" });
    const headers = githubHeaders(trigger.secret, raw);
    expectUnauthenticated(await hook(JSON.stringify(order, null, 1), headers));
    expectUnauthenticated(await hook(raw, { ...headers, "x-hub-signature-256": githubSignature("not the secret", raw) }));
    const { "x-hub-signature-256": _dropped, ...unsigned } = headers;
    expectUnauthenticated(await hook(raw, unsigned));
  });

  it("does not accept a standard-webhooks signature on a github trigger", async () => {
    const { hook, trigger } = await triggerSetup({ scheme: "github" });
    expectUnauthenticated(await hook(raw, standardHeaders("whsec_" + Buffer.from(trigger.secret).toString("base64"), raw)));
  });
});
