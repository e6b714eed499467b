// Every delivery either starts exactly one job or is refused with the right status.
import { SELF, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { waitForJob } from "../../helpers/jobs";
import { jobCount, standardHeaders } from "../../helpers/webhooks";
import { pruneDeliveries } from "../../../src/webhooks/triggers";
import { triggerSetup } from "./fixture";

const raw = JSON.stringify({ orderId: "o-7", total: 12.5 });

describe("replays", () => {
  it("answers a repeated delivery id with 200 and the first job, and starts nothing", async () => {
    const { hook, trigger, client, orgId } = await triggerSetup();
    const headers = standardHeaders(trigger.secret, raw);
    const first = await hook(raw, headers);
    expect(first.status).toBe(202);
    const again = await hook(raw, headers);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ jobId: first.body.jobId });
    // A retry signed afresh (new timestamp, same id) is the same delivery too.
    const resent = await hook(raw, standardHeaders(trigger.secret, raw, { id: headers["webhook-id"]! }));
    expect(resent.status).toBe(200);
    expect(resent.body.jobId).toBe(first.body.jobId);
    expect(await jobCount(client, orgId)).toBe(1);
  });

  it("turns ten identical deliveries racing into exactly one job", async () => {
    const { hook, trigger, client, orgId } = await triggerSetup();
    const headers = standardHeaders(trigger.secret, raw);
    const answers = await Promise.all(Array.from({ length: 10 }, () => hook(raw, headers)));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 202]);
    expect(new Set(answers.map((a) => a.body.jobId)).size).toBe(1);
    expect(await jobCount(client, orgId)).toBe(1);
  });

  it("keeps the delivery record in D1 with the job it started", async () => {
    const { hook, trigger } = await triggerSetup();
    const headers = standardHeaders(trigger.secret, raw);
    const { body } = await hook(raw, headers);
    const row = await env.DB.prepare(`SELECT job_id FROM webhook_deliveries WHERE trigger_id = ? AND delivery_id = ?`)
      .bind(trigger.triggerId, headers["webhook-id"])
      .first<{ job_id: string }>();
    expect(row?.job_id).toBe(body.jobId);
  });

  it("finds the same job when a delivery's record was lost after its job started", async () => {
    const { hook, trigger, client, orgId } = await triggerSetup();
    const headers = standardHeaders(trigger.secret, raw);
    const first = await hook(raw, headers);
    // As if the Worker died between starting the job and recording the delivery.
    await env.DB.prepare(`DELETE FROM webhook_deliveries WHERE trigger_id = ?`).bind(trigger.triggerId).run();
    const retried = await hook(raw, headers);
    expect(retried.status).toBe(202);
    expect(retried.body.jobId).toBe(first.body.jobId);
    expect(await jobCount(client, orgId)).toBe(1);
  });

  it("prunes delivery records only once they are older than 24 hours", async () => {
    const now = Date.now();
    const hour = 60 * 60 * 1000;
    const triggerId = crypto.randomUUID();
    const insert = env.DB.prepare(`INSERT INTO webhook_deliveries (trigger_id, delivery_id, job_id, created_at) VALUES (?, ?, ?, ?)`);
    await env.DB.batch([insert.bind(triggerId, "old", "j-old", now - 25 * hour), insert.bind(triggerId, "recent", "j-recent", now - 23 * hour)]);
    await pruneDeliveries(env.DB, now);
    const { results } = await env.DB.prepare(`SELECT delivery_id FROM webhook_deliveries WHERE trigger_id = ?`).bind(triggerId).all();
    expect(results.map((r) => r.delivery_id)).toEqual(["recent"]);
  });

  it("starts separate jobs for separate delivery ids with the same body", async () => {
    const { hook, trigger, client, orgId } = await triggerSetup();
    const a = await hook(raw, standardHeaders(trigger.secret, raw));
    const b = await hook(raw, standardHeaders(trigger.secret, raw));
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(a.body.jobId).not.toBe(b.body.jobId);
    expect(await jobCount(client, orgId)).toBe(2);
  });
});

describe("refusals", () => {
  it("answers 404 for a deleted trigger even with a valid signature", async () => {
    const { hook, trigger, client, orgId } = await triggerSetup();
    expect((await hook(raw, standardHeaders(trigger.secret, raw))).status).toBe(202);
    await client.expect(200, client.delete(`/organizations/${orgId}/webhook-triggers/${trigger.triggerId}`));
    const res = await hook(raw, standardHeaders(trigger.secret, raw));
    expect(res.status).toBe(404);
    expect(res.headers.get("x-amzn-errortype")).toBe("NotFoundError");
    expect(await jobCount(client, orgId)).toBe(1);
  });

  it("answers 404 for an unknown trigger", async () => {
    const { trigger } = await triggerSetup();
    const headers = standardHeaders(trigger.secret, raw);
    for (const path of ["/hooks/00000000-0000-4000-8000-000000000000", "/hooks/not-a-uuid"]) {
      const res = await SELF.fetch(`https://canopy.test${path}`, { method: "POST", body: raw, headers });
      expect(res.status).toBe(404);
      expect(res.headers.get("x-amzn-errortype")).toBe("NotFoundError");
    }
  });

  it("answers 413 for a 2 MiB body, declared or streamed, and starts nothing", async () => {
    const { hook, trigger, client, orgId } = await triggerSetup();
    const big = JSON.stringify({ orderId: "o-big", pad: "x".repeat(2 * 1024 * 1024) });
    const declared = await hook(big, standardHeaders(trigger.secret, big));
    expect(declared.status).toBe(413);
    expect(declared.headers.get("x-amzn-errortype")).toBe("PayloadTooLarge");
    const bytes = new TextEncoder().encode(big);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 64 * 1024) controller.enqueue(bytes.slice(i, i + 64 * 1024));
        controller.close();
      },
    });
    const streamed = await hook(stream, standardHeaders(trigger.secret, big));
    expect(streamed.status).toBe(413);
    expect(await jobCount(client, orgId)).toBe(0);
  });

  it("answers 400 for a signed body that is not JSON", async () => {
    const { hook, trigger, client, orgId } = await triggerSetup();
    const text = "orderId=o-1&total=3";
    const res = await hook(text, standardHeaders(trigger.secret, text));
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("ValidationError");
    expect(await jobCount(client, orgId)).toBe(0);
  });

  it("answers 400 and creates no job when the input fails the workflow's input schema", async () => {
    const { hook, trigger, client, orgId } = await triggerSetup();
    const bad = JSON.stringify({ total: 3 });
    const headers = standardHeaders(trigger.secret, bad);
    const res = await hook(bad, headers);
    expect(res.status).toBe(400);
    expect(res.headers.get("x-amzn-errortype")).toBe("ValidationError");
    expect(res.body.errors.join(" ")).toMatch(/orderId/);
    expect(await jobCount(client, orgId)).toBe(0);
    // Nothing was recorded either: the same delivery is refused again, not replayed.
    expect((await hook(bad, headers)).status).toBe(400);
  });
});

describe("input mapping", () => {
  const inputTransformer = {
    fieldset: [
      { from: "body.data.order.id", to: "orderId" },
      { from: "body.data.order.total", to: "amount" },
      { from: "deliveryId", to: "source.deliveryId" },
    ],
  };

  it("maps the delivery through the trigger's inputTransformer into the job's workflowInput", async () => {
    const { hook, trigger, client, orgId } = await triggerSetup({ inputTransformer });
    const body = JSON.stringify({ type: "order.created", data: { order: { id: "o-99", total: 30 } } });
    const headers = standardHeaders(trigger.secret, body, { id: "msg_mapped" });
    const res = await hook(body, headers);
    expect(res.status).toBe(202);
    const { job } = await waitForJob(client, orgId, res.body.jobId);
    expect(job.status).toBe("SUCCEEDED");
    const { state } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${res.body.jobId}/state`));
    expect(state.executionData.workflowInput).toEqual({ orderId: "o-99", amount: 30, source: { deliveryId: "msg_mapped" } });
  });

  it("refuses with 400 and no job a delivery whose mapped input fails the schema", async () => {
    const { hook, trigger, client, orgId } = await triggerSetup({ inputTransformer });
    const body = JSON.stringify({ type: "order.created", data: { order: { id: 99 } } });
    const res = await hook(body, standardHeaders(trigger.secret, body));
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("ValidationError");
    expect(await jobCount(client, orgId)).toBe(0);
  });
});

describe("rate limit", () => {
  it("answers some of a burst above the trigger's rate with 429 and starts a job for each accepted one", async () => {
    const { hook, trigger, client, orgId } = await triggerSetup({ rateLimitPerSecond: 1 });
    expect(trigger.rateLimitPerSecond).toBe(1);
    const answers = await Promise.all(Array.from({ length: 12 }, () => hook(raw, standardHeaders(trigger.secret, raw))));
    const throttled = answers.filter((a) => a.status === 429);
    const accepted = answers.filter((a) => a.status === 202);
    expect(throttled.length).toBeGreaterThan(0);
    expect(accepted.length).toBeGreaterThan(0);
    expect(throttled.length + accepted.length).toBe(12);
    expect(throttled[0]!.headers.get("x-amzn-errortype")).toBe("ThrottlingError");
    expect(throttled[0]!.body.code).toBe("ThrottlingError");
    expect(Number(throttled[0]!.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(await jobCount(client, orgId)).toBe(accepted.length);
  });

  it("does not let unsigned requests use up a trigger's rate", async () => {
    const { hook, trigger } = await triggerSetup({ rateLimitPerSecond: 1 });
    const unsigned = await Promise.all(Array.from({ length: 5 }, () => hook(raw, { "content-type": "application/json" })));
    expect(unsigned.every((a) => a.status === 401)).toBe(true);
    expect((await hook(raw, standardHeaders(trigger.secret, raw))).status).toBe(202);
  });
});

