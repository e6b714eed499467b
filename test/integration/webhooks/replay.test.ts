// A captured delivery replayed is acknowledged and starts nothing. GitHub signs only the body, so
// a byte-identical signed body within 24 h is the replay; Standard Webhooks signs its id and time.
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../../src/index";
import { pruneDeliveries } from "../../../src/webhooks/triggers";
import { githubHeaders, jobCount, standardHeaders, standardSignature } from "../../helpers/webhooks";
import { triggerSetup } from "./fixture";

const raw = JSON.stringify({ orderId: "o-gh", ref: "refs/heads/main", after: "6113728f27ae82c7b1a177c8d03f9e96e0adf246" });
const hour = 60 * 60 * 1000;

/** The stored digests of a trigger's GitHub bodies. */
async function bodyRows(triggerId: string) {
  const { results } = await env.DB.prepare(`SELECT body_sha256, job_id, created_at FROM webhook_bodies WHERE trigger_id = ?`)
    .bind(triggerId)
    .all<{ body_sha256: string; job_id: string; created_at: number }>();
  return results;
}

describe("github replays", () => {
  it("acknowledges a captured body resent with fresh delivery ids, naming the first job, and starts nothing", async () => {
    const { hook, trigger, client, orgId } = await triggerSetup({ scheme: "github" });
    const first = await hook(raw, githubHeaders(trigger.secret, raw));
    expect(first.status).toBe(202);
    for (let i = 0; i < 3; i++) {
      // What an attacker holding one captured delivery can send: its body and signature, any delivery id.
      const replay = await hook(raw, githubHeaders(trigger.secret, raw));
      expect(replay.status).toBe(200);
      expect(replay.body).toEqual({ jobId: first.body.jobId });
    }
    expect(await jobCount(client, orgId)).toBe(1);
    // One row, holding the SHA-256 of the raw body, not the body.
    const rows = await bodyRows(trigger.triggerId);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.body_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(rows[0]!.job_id).toBe(first.body.jobId);

    // Another body, even one that parses to the same JSON, is another delivery.
    const other = JSON.stringify(JSON.parse(raw), null, 1);
    expect((await hook(other, githubHeaders(trigger.secret, other))).status).toBe(202);
    expect(await jobCount(client, orgId)).toBe(2);
  });

  it("turns ten identical bodies racing under distinct delivery ids into exactly one job", async () => {
    const { hook, trigger, client, orgId } = await triggerSetup({ scheme: "github" });
    const answers = await Promise.all(Array.from({ length: 10 }, () => hook(raw, githubHeaders(trigger.secret, raw))));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 202]);
    expect(new Set(answers.map((a) => a.body.jobId)).size).toBe(1);
    expect(await jobCount(client, orgId)).toBe(1);
  });

  it("starts a new job for the same body once the first delivery is older than 24 hours", async () => {
    const { hook, trigger, client, orgId } = await triggerSetup({ scheme: "github" });
    const first = await hook(raw, githubHeaders(trigger.secret, raw));
    expect(first.status).toBe(202);
    // As if a day had passed and the row had not been pruned yet: the next claim takes it over.
    await env.DB.prepare(`UPDATE webhook_bodies SET created_at = created_at - ? WHERE trigger_id = ?`).bind(25 * hour, trigger.triggerId).run();
    const later = await hook(raw, githubHeaders(trigger.secret, raw));
    expect(later.status).toBe(202);
    expect(later.body.jobId).not.toBe(first.body.jobId);
    expect(await jobCount(client, orgId)).toBe(2);
    // The window starts again from the second delivery.
    const replay = await hook(raw, githubHeaders(trigger.secret, raw));
    expect(replay).toMatchObject({ status: 200, body: { jobId: later.body.jobId } });
    expect(await jobCount(client, orgId)).toBe(2);
  });

  it("answers GitHub's redelivery (same delivery id) with the first job", async () => {
    const { hook, trigger, client, orgId } = await triggerSetup({ scheme: "github" });
    const headers = githubHeaders(trigger.secret, raw);
    const first = await hook(raw, headers);
    // Even once the delivery record is gone, the body's binding names the job.
    await env.DB.prepare(`DELETE FROM webhook_deliveries WHERE trigger_id = ?`).bind(trigger.triggerId).run();
    const again = await hook(raw, headers);
    expect(again.body.jobId).toBe(first.body.jobId);
    expect(await jobCount(client, orgId)).toBe(1);
  });

  it("starts the job on GitHub's redelivery when the first attempt bound the body and then failed to start it", async () => {
    const { hook, trigger, client, orgId } = await triggerSetup({ scheme: "github" });
    const headers = githubHeaders(trigger.secret, raw);
    // The first attempt, through a Worker where the job can be neither started (a lone delivery
    // starts its job directly) nor accepted by an intake (as when the call throws or the isolate
    // dies after the body was bound): an error, and no job.
    const failing = <T extends object>(namespace: T, method: string): T =>
      new Proxy(namespace, {
        get(target, prop) {
          if (prop === "get") return () => ({ [method]: async () => Promise.reject(new Error("the job was not started")) });
          const value: unknown = Reflect.get(target, prop, target);
          return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
    const INTAKE = failing(env.INTAKE, "acceptGroup");
    const JOBS = failing(env.JOBS, "start");
    const ctx = createExecutionContext();
    const failed = await worker.fetch(new Request(trigger.url, { method: "POST", headers, body: raw }), { ...env, INTAKE, JOBS } as Env, ctx);
    await waitOnExecutionContext(ctx);
    expect(failed.status).toBeGreaterThanOrEqual(500);
    const bound = await bodyRows(trigger.triggerId);
    expect(bound).toHaveLength(1);
    expect(await jobCount(client, orgId)).toBe(0);

    // GitHub's redelivery: the same bytes, the same X-GitHub-Delivery. It is this delivery, not a
    // replay of it: it starts the job the body is bound to.
    const redelivered = await hook(raw, headers);
    expect(redelivered).toMatchObject({ status: 202, body: { jobId: bound[0]!.job_id } });
    expect(await jobCount(client, orgId)).toBe(1);
    await client.expect(200, client.get(`/organizations/${orgId}/jobs/${redelivered.body.jobId}`));
    // And the body under another delivery id is still a replay of it.
    expect(await hook(raw, githubHeaders(trigger.secret, raw))).toMatchObject({ status: 200, body: { jobId: redelivered.body.jobId } });
    expect(await jobCount(client, orgId)).toBe(1);
  });

  it("binds nothing for a body it refuses, so the body is refused again rather than called a replay", async () => {
    const { hook, trigger, client, orgId } = await triggerSetup({ scheme: "github" });
    const bad = JSON.stringify({ total: 3 });
    expect((await hook(bad, githubHeaders(trigger.secret, bad))).status).toBe(400);
    expect(await bodyRows(trigger.triggerId)).toEqual([]);
    expect((await hook(bad, githubHeaders(trigger.secret, bad))).status).toBe(400);
    expect(await jobCount(client, orgId)).toBe(0);
  });

  it("keeps bodies per trigger: the same body to another trigger starts its own job", async () => {
    const a = await triggerSetup({ scheme: "github" });
    const b = await triggerSetup({ scheme: "github" });
    const ja = await a.hook(raw, githubHeaders(a.trigger.secret, raw));
    const jb = await b.hook(raw, githubHeaders(b.trigger.secret, raw));
    expect([ja.status, jb.status]).toEqual([202, 202]);
    expect(ja.body.jobId).not.toBe(jb.body.jobId);
  });

  it("prunes body digests only once they are older than 24 hours", async () => {
    const now = Date.now();
    const triggerId = crypto.randomUUID();
    const insert = env.DB.prepare(`INSERT INTO webhook_bodies (trigger_id, body_sha256, job_id, created_at) VALUES (?, ?, ?, ?)`);
    await env.DB.batch([insert.bind(triggerId, "old", "j-old", now - 25 * hour), insert.bind(triggerId, "recent", "j-recent", now - 23 * hour)]);
    await pruneDeliveries(env.DB, now);
    const { results } = await env.DB.prepare(`SELECT body_sha256 FROM webhook_bodies WHERE trigger_id = ?`).bind(triggerId).all();
    expect(results.map((r) => r.body_sha256)).toEqual(["recent"]);
  });
});

describe("replays and the trigger's rate", () => {
  it.each(["standard-webhooks", "github"])("answers %s replays without taking from the trigger's rate", async (scheme) => {
    const { hook, trigger, client, orgId } = await triggerSetup({ scheme, rateLimitPerSecond: 1 });
    const sign = scheme === "github" ? githubHeaders : standardHeaders;
    const captured = sign(trigger.secret, raw);
    expect((await hook(raw, captured)).status).toBe(202);
    // The bucket (one token a second, one at most) is full again a second later.
    await new Promise((r) => setTimeout(r, 1_100));
    for (let i = 0; i < 5; i++) {
      // Resent as captured; for GitHub also under fresh delivery ids.
      const replay = await hook(raw, i % 2 === 1 && scheme === "github" ? githubHeaders(trigger.secret, raw) : captured);
      expect(replay.status).toBe(200);
    }
    // The replays took nothing: a new delivery still finds its token.
    const fresh = JSON.stringify({ orderId: "o-fresh" });
    expect((await hook(fresh, sign(trigger.secret, fresh))).status).toBe(202);
    expect(await jobCount(client, orgId)).toBe(2);
  });
});

describe("standard-webhooks replays", () => {
  it("answers a captured delivery resent as it was with the first job, and refuses it under another id or time", async () => {
    const { hook, trigger, client, orgId } = await triggerSetup();
    const captured = standardHeaders(trigger.secret, raw);
    const first = await hook(raw, captured);
    expect(first.status).toBe(202);
    const replay = await hook(raw, captured);
    expect(replay).toMatchObject({ status: 200, body: { jobId: first.body.jobId } });
    // The id and the time are signed: the captured signature does not cover a fresh id or a moved time.
    expect((await hook(raw, { ...captured, "webhook-id": "msg_fresh" })).status).toBe(401);
    const moved = String(Number(captured["webhook-timestamp"]) + 1);
    expect((await hook(raw, { ...captured, "webhook-timestamp": moved })).status).toBe(401);
    // Ten minutes old, even a correct signature is refused: a record need only outlive the ±5 min window.
    const stale = Math.floor(Date.now() / 1000) - 10 * 60;
    const old = { ...captured, "webhook-timestamp": String(stale), "webhook-signature": standardSignature(trigger.secret, captured["webhook-id"]!, stale, raw) };
    expect((await hook(raw, old)).status).toBe(401);
    expect(await jobCount(client, orgId)).toBe(1);
  });
});
