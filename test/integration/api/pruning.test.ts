// Records kept for a window are deleted once it has passed, a bounded batch at a time as new ones
// arrive: SubmitJob idempotency keys (24 h, in the organization's job index) and webhook delivery ids (24 h).
import { SELF, env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { IDEMPOTENCY_SHARD_PRUNE_BATCH, IDEMPOTENCY_WINDOW_MS, WEBHOOK_DELIVERY_RETENTION_MS } from "../../../src/limits";
import type { JobIndex } from "../../../src/job-index/job-index";
import { indexShard } from "../../../src/job-index/shards";
import { deployWorkflow, newTenant } from "../../helpers/client";
import { step, submit, workflow } from "../../helpers/jobs";
import { createTrigger, jobCount, postHook, standardHeaders } from "../../helpers/webhooks";
import { admin } from "../../helpers/workerd";

const TIMEOUT = 60_000;
const MINUTE = 60 * 1000;
const waiting = workflow("waiting", [step("wait", "/justworkflowit/waitForEventIds", { config: { eventIds: ["go"] } })]);

/** The organization's index shard (one: newTenant's organizations have one), where its keys live. */
function shard(orgId: string) {
  return indexShard(env, orgId, 0);
}

async function keyRow(orgId: string, key: string) {
  return runInDurableObject(shard(orgId), (_o: JobIndex, state) =>
    state.storage.sql.exec<{ job_id: string; created_at: number }>(`SELECT job_id, created_at FROM idempotency_key WHERE key = ?`, key).toArray()[0] ?? null,
  );
}

async function keyCount(orgId: string): Promise<number> {
  return runInDurableObject(shard(orgId), (_o: JobIndex, state) => state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM idempotency_key`).one().n);
}

async function insertKeys(orgId: string, keys: [key: string, jobId: string, createdAt: number][]): Promise<void> {
  await shard(orgId).importKeys(keys.map(([key, jobId, createdAt]) => ({ key, jobId, createdAt })));
}

describe("SubmitJob idempotency keys", () => {
  it(
    "are deleted once expired as keyed submissions arrive, and an expired key starts a new job",
    async () => {
      const { orgId, client } = await newTenant(admin);
      const { workflowId } = await deployWorkflow(client, orgId, waiting);
      const now = Date.now();
      const oldJobId = crypto.randomUUID();
      const liveJobId = crypto.randomUUID();
      await insertKeys(orgId, [
        ["expired", oldJobId, now - IDEMPOTENCY_WINDOW_MS - MINUTE],
        ["live", liveJobId, now - IDEMPOTENCY_WINDOW_MS + 60 * MINUTE],
      ]);

      const first = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" }, idempotencyKey: "another" });
      expect(await keyRow(orgId, "expired")).toBeNull();
      expect((await keyRow(orgId, "live"))?.job_id).toBe(liveJobId);
      expect((await keyRow(orgId, "another"))?.job_id).toBe(first);

      // The expired key names no job any more: reusing it starts a new one, then dedupes again.
      const reused = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" }, idempotencyKey: "expired" });
      expect(reused).not.toBe(oldJobId);
      expect(reused).not.toBe(first);
      expect((await keyRow(orgId, "expired"))?.created_at).toBeGreaterThanOrEqual(now);
      expect(await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" }, idempotencyKey: "expired" })).toBe(reused);
      expect((await client.expect(200, client.get(`/organizations/${orgId}/jobs`))).totalCount).toBe(2);
    },
    TIMEOUT,
  );

  it(
    `are deleted at most ${IDEMPOTENCY_SHARD_PRUNE_BATCH} per submission, oldest first`,
    async () => {
      const { orgId, client } = await newTenant(admin);
      const { workflowId } = await deployWorkflow(client, orgId, waiting);
      const expiredAt = Date.now() - IDEMPOTENCY_WINDOW_MS - MINUTE;
      const extra = 5;
      const old = Array.from({ length: IDEMPOTENCY_SHARD_PRUNE_BATCH + extra }, (_, i): [string, string, number] => [`old-${i}`, crypto.randomUUID(), expiredAt - i]);
      for (let i = 0; i < old.length; i += 1000) await insertKeys(orgId, old.slice(i, i + 1000));

      await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" }, idempotencyKey: "a" });
      expect(await keyCount(orgId)).toBe(extra + 1);
      // The newest expired keys are the ones left for the next submission.
      for (let i = 0; i < extra; i++) expect(await keyRow(orgId, `old-${i}`)).not.toBeNull();
      await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" }, idempotencyKey: "b" });
      expect(await keyCount(orgId)).toBe(2);
    },
    TIMEOUT,
  );
});

describe("webhook delivery ids", () => {
  it(
    "are deleted once older than their window as deliveries arrive; a late replay still names the first job",
    async () => {
      const { orgId, client } = await newTenant(admin);
      const orders = workflow("orders", [step("accept", "/justworkflowit/noop")]);
      const { workflowId } = await deployWorkflow(client, orgId, orders);
      const trigger = await createTrigger(client, orgId, { name: "shop", workflowId, workflowVersion: { tag: "$LIVE" }, scheme: "standard-webhooks" });
      const body = JSON.stringify({ orderId: "o-1" });
      const deliver = (id: string) => postHook((url, init) => SELF.fetch(url, init), trigger.url, body, standardHeaders(trigger.secret, body, { id }));
      const record = (id: string) =>
        env.DB.prepare(`SELECT job_id FROM webhook_deliveries WHERE trigger_id = ? AND delivery_id = ?`).bind(trigger.triggerId, id).first<{ job_id: string }>();

      const first = await deliver("msg_first");
      expect(first.status).toBe(202);
      // As if it had been recorded a day and a minute ago.
      await env.DB.prepare(`UPDATE webhook_deliveries SET created_at = ? WHERE trigger_id = ? AND delivery_id = ?`)
        .bind(Date.now() - WEBHOOK_DELIVERY_RETENTION_MS - MINUTE, trigger.triggerId, "msg_first")
        .run();

      expect((await deliver("msg_second")).status).toBe(202);
      // Pruning runs after the answer (waitUntil): wait for it.
      const deadline = Date.now() + TIMEOUT;
      while ((await record("msg_first")) !== null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await record("msg_first")).toBeNull();
      expect(await record("msg_second")).not.toBeNull();

      // The sender retries the first delivery after its record is gone: the job id is derived from
      // the delivery id, so it is the same job, not a second one.
      const late = await deliver("msg_first");
      expect(late.status).toBe(202);
      expect(late.body.jobId).toBe(first.body.jobId);
      expect((await record("msg_first"))?.job_id).toBe(first.body.jobId);
      expect(await jobCount(client, orgId)).toBe(2);
    },
    TIMEOUT,
  );
});
