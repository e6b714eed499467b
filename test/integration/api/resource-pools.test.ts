/** The resource pool routes, with the JustWorkflowIt client's shapes, errors and tenancy. */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { newTenant, tenantWith } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import { updateResourcePool } from "../../../src/registry/resource-pools";

const hold = workflow("hold", [step("hold", "/justworkflowit/waitForEventIds", { config: { eventIds: ["go"] } })]);

function poolObject(poolId: string) {
  return env.RESOURCE_POOLS.get(env.RESOURCE_POOLS.idFromName(poolId));
}

/** The worker limit the pool's Durable Object enforces. */
function enforcedLimit(poolId: string): Promise<number | null> {
  return runInDurableObject(poolObject(poolId), (_, state) => state.storage.sql.exec<{ worker_limit: number | null }>(`SELECT worker_limit FROM config WHERE id = 1`).one().worker_limit);
}

describe("resource pool routes", () => {
  it("creates, reads, lists, updates and deletes a pool with the client's shapes", async () => {
    const { client, orgId, ids } = await tenantWith(admin, hold);
    const base = `/organizations/${orgId}/resource-pools`;
    const created = await client.expect(200, client.post(base, { name: "lambda", workerLimit: 3, targetedWorkflowIds: [ids.hold] }));
    expect(Object.keys(created)).toEqual(["poolId"]);
    const { poolId } = created;

    const { resourcePool } = await client.expect(200, client.get(`${base}/${poolId}`));
    expect(resourcePool).toEqual({
      poolId,
      name: "lambda",
      workerLimit: 3,
      targetsAllWorkflows: false,
      targetedWorkflowIds: [ids.hold],
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      updatedAt: resourcePool.createdAt,
      runningJobs: 0,
      queuedJobs: 0,
    });

    await client.expect(200, client.post(base, { name: "all", workerLimit: 10, targetsAllWorkflows: true }));
    const listed = await client.expect(200, client.get(base));
    expect(listed.resourcePools.map((p: { name: string }) => p.name)).toEqual(["all", "lambda"]);
    expect(listed.resourcePools[1]).toMatchObject({ poolId, name: "lambda", workerLimit: 3, targetsAllWorkflows: false, targetedWorkflowIds: [ids.hold] });

    // PUT changes the fields given and keeps the others.
    expect(await client.expect(200, client.put(`${base}/${poolId}`, { workerLimit: 5, name: "lambda-calls" }))).toEqual({ poolId });
    const updated = (await client.expect(200, client.get(`${base}/${poolId}`))).resourcePool;
    expect(updated).toMatchObject({ name: "lambda-calls", workerLimit: 5, targetsAllWorkflows: false, targetedWorkflowIds: [ids.hold] });
    await client.expect(200, client.put(`${base}/${poolId}`, { targetsAllWorkflows: true, targetedWorkflowIds: [] }));
    expect((await client.expect(200, client.get(`${base}/${poolId}`))).resourcePool).toMatchObject({ targetsAllWorkflows: true, targetedWorkflowIds: [] });

    expect(await client.expect(200, client.delete(`${base}/${poolId}`))).toEqual({ poolId });
    await client.expect(404, client.get(`${base}/${poolId}`));
    await client.expect(404, client.delete(`${base}/${poolId}`));
    expect((await client.expect(200, client.get(base))).resourcePools.map((p: { name: string }) => p.name)).toEqual(["all"]);
  });

  it("refuses bad input with the API's errors and changes nothing", async () => {
    const { client, orgId, ids } = await tenantWith(admin, hold);
    const other = await tenantWith(admin, workflow("elsewhere", [step("a", "/justworkflowit/noop")]));
    const base = `/organizations/${orgId}/resource-pools`;
    const bad: [unknown, string][] = [
      [{ name: "p", workerLimit: 0 }, "workerLimit"],
      [{ name: "p", workerLimit: 1.5 }, "workerLimit"],
      [{ name: "p", workerLimit: "2" }, "workerLimit"],
      [{ name: "", workerLimit: 2 }, "name"],
      [{ workerLimit: 2 }, "name"],
      [{ name: "p", workerLimit: 2, extra: true }, ""],
      [{ name: "p", workerLimit: 2, targetedWorkflowIds: ["no-such-workflow"] }, "targetedWorkflowIds"],
      // Another organization's workflow is no workflow of this one.
      [{ name: "p", workerLimit: 2, targetedWorkflowIds: [other.ids.elsewhere] }, "targetedWorkflowIds"],
    ];
    for (const [body, field] of bad) {
      const res = await client.post(base, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.code).toBe("ValidationError");
      expect(res.headers.get("x-amzn-errortype")).toBe("ValidationError");
      if (field) expect(JSON.stringify(res.body.errors)).toContain(field);
    }
    expect((await client.expect(200, client.get(base))).resourcePools).toEqual([]);

    const { poolId } = await client.expect(200, client.post(base, { name: "p", workerLimit: 2, targetedWorkflowIds: [ids.hold] }));
    expect((await client.post(base, { name: "p", workerLimit: 4 })).body.code).toBe("ConflictError");
    await client.expect(400, client.put(`${base}/${poolId}`, {}));
    await client.expect(400, client.put(`${base}/${poolId}`, { workerLimit: -1 }));
    await client.expect(400, client.put(`${base}/${poolId}`, { targetedWorkflowIds: ["nope"] }));
    await client.expect(404, client.put(`${base}/00000000-0000-4000-8000-000000000000`, { workerLimit: 3 }));
    await client.expect(404, client.get(`${base}/00000000-0000-4000-8000-000000000000`));
    const { poolId: second } = await client.expect(200, client.post(base, { name: "q", workerLimit: 1 }));
    await client.expect(409, client.put(`${base}/${second}`, { name: "p" }));
    expect((await client.expect(200, client.get(`${base}/${poolId}`))).resourcePool).toMatchObject({ name: "p", workerLimit: 2, targetedWorkflowIds: [ids.hold] });
  });

  it("keeps D1 and the pool's object agreeing when an update fails on either side", async () => {
    const { client, orgId, ids } = await tenantWith(admin, hold);
    const base = `/organizations/${orgId}/resource-pools`;
    const { poolId } = await client.expect(200, client.post(base, { name: "p", workerLimit: 3, targetedWorkflowIds: [ids.hold] }));
    expect(await enforcedLimit(poolId)).toBe(3);

    // The object cannot be configured (a real failure of its storage): nothing changes anywhere.
    await runInDurableObject(poolObject(poolId), (_, state) => {
      state.storage.sql.exec(`CREATE TRIGGER fail_configure BEFORE UPDATE ON config BEGIN SELECT RAISE(ABORT, 'injected failure'); END`);
    });
    expect((await client.put(`${base}/${poolId}`, { workerLimit: 5 })).status).toBe(500);
    expect((await client.expect(200, client.get(`${base}/${poolId}`))).resourcePool.workerLimit).toBe(3);
    await runInDurableObject(poolObject(poolId), (_, state) => {
      state.storage.sql.exec(`DROP TRIGGER fail_configure`);
    });
    expect(await enforcedLimit(poolId)).toBe(3);

    // D1 refuses the write after the object took the new limit: the object goes back to D1's.
    const trigger = `fail_pool_${poolId.replace(/[^A-Za-z0-9]/g, "_")}`;
    await env.DB.prepare(`CREATE TRIGGER ${trigger} BEFORE UPDATE ON resource_pools WHEN OLD.pool_id = '${poolId}' BEGIN SELECT RAISE(ABORT, 'injected failure'); END`).run();
    expect((await client.put(`${base}/${poolId}`, { workerLimit: 7 })).status).toBe(500);
    await env.DB.prepare(`DROP TRIGGER ${trigger}`).run();
    expect((await client.expect(200, client.get(`${base}/${poolId}`))).resourcePool.workerLimit).toBe(3);
    expect(await enforcedLimit(poolId)).toBe(3);

    // Bad input never reaches the object.
    await client.expect(400, client.put(`${base}/${poolId}`, { workerLimit: 9, targetedWorkflowIds: ["no-such-workflow"] }));
    await client.expect(200, client.post(base, { name: "taken", workerLimit: 1 }));
    await client.expect(409, client.put(`${base}/${poolId}`, { workerLimit: 9, name: "taken" }));
    expect(await enforcedLimit(poolId)).toBe(3);

    // The retry succeeds on both sides.
    await client.expect(200, client.put(`${base}/${poolId}`, { workerLimit: 5 }));
    expect((await client.expect(200, client.get(`${base}/${poolId}`))).resourcePool.workerLimit).toBe(5);
    expect(await enforcedLimit(poolId)).toBe(5);
  });

  it("writes only the fields an update names: a concurrent change of another field is not written back over", async () => {
    const { client, orgId, ids } = await tenantWith(admin, hold);
    const base = `/organizations/${orgId}/resource-pools`;
    const { poolId } = await client.expect(200, client.post(base, { name: "before", workerLimit: 3, targetedWorkflowIds: [ids.hold] }));
    // Between this update's read of the pool and its write, another request renames the pool.
    let raced = false;
    const db = new Proxy(env.DB, {
      get(target, prop) {
        if (prop !== "prepare") return Reflect.get(target, prop);
        return (sql: string) => {
          if (!raced && sql.trimStart().startsWith("UPDATE resource_pools")) {
            raced = true;
            const stmt = target.prepare(sql);
            return { bind: (...args: unknown[]) => ({ first: async () => {
              await client.expect(200, client.put(`${base}/${poolId}`, { name: "renamed" }));
              return stmt.bind(...args).first();
            } }) };
          }
          return target.prepare(sql);
        };
      },
    });
    await updateResourcePool(db, orgId, poolId, { workerLimit: 5 }, Date.now());
    expect(raced).toBe(true);
    expect((await client.expect(200, client.get(`${base}/${poolId}`))).resourcePool).toMatchObject({ name: "renamed", workerLimit: 5, targetedWorkflowIds: [ids.hold] });
  });

  it("keeps each organization's pools to itself", async () => {
    const owner = await newTenant(admin);
    const intruder = await newTenant(admin);
    const base = `/organizations/${owner.orgId}/resource-pools`;
    const { poolId } = await owner.client.expect(200, owner.client.post(base, { name: "p", workerLimit: 2 }));
    // Another organization's token: 403 on the owner's path, 404 for the pool id under its own.
    await intruder.client.expect(403, intruder.client.get(base));
    await intruder.client.expect(403, intruder.client.get(`${base}/${poolId}`));
    await intruder.client.expect(403, intruder.client.put(`${base}/${poolId}`, { workerLimit: 1 }));
    await intruder.client.expect(403, intruder.client.delete(`${base}/${poolId}`));
    await intruder.client.expect(403, intruder.client.post(base, { name: "x", workerLimit: 1 }));
    const own = `/organizations/${intruder.orgId}/resource-pools/${poolId}`;
    await intruder.client.expect(404, intruder.client.get(own));
    await intruder.client.expect(404, intruder.client.put(own, { workerLimit: 1 }));
    await intruder.client.expect(404, intruder.client.delete(own));
    expect((await owner.client.expect(200, owner.client.get(`${base}/${poolId}`))).resourcePool).toMatchObject({ name: "p", workerLimit: 2 });
    await owner.client.expect(401, owner.client.as(undefined).get(base));
  });

  it("deleting a pool starts the jobs waiting for it, and it limits nothing after", async () => {
    const { client, orgId, ids } = await tenantWith(admin, hold);
    const base = `/organizations/${orgId}/resource-pools`;
    const { poolId } = await client.expect(200, client.post(base, { name: "one", workerLimit: 1, targetsAllWorkflows: true }));
    const a = await submit(client, orgId, { workflowId: ids.hold, workflowVersion: { tag: "$LIVE" } });
    await waitForJob(client, orgId, a, (j) => j.status === "RUNNING");
    const b = await submit(client, orgId, { workflowId: ids.hold, workflowVersion: { tag: "$LIVE" } });
    const waiting = await waitForJob(client, orgId, b, (j) => j.waitingForResourcePool?.queuedAt !== undefined);
    expect(waiting.job).toMatchObject({ status: "PENDING", waitingForResourcePool: { poolId } });
    await client.expect(200, client.delete(`${base}/${poolId}`));
    await waitForJob(client, orgId, b, (j) => j.status === "RUNNING");
    const c = await submit(client, orgId, { workflowId: ids.hold, workflowVersion: { tag: "$LIVE" } });
    await waitForJob(client, orgId, c, (j) => j.status === "RUNNING");
  });

  it("deleting the organization deletes its pools and empties them as its jobs are cancelled", async () => {
    const { client, orgId, ids } = await tenantWith(admin, hold);
    const base = `/organizations/${orgId}/resource-pools`;
    const { poolId } = await client.expect(200, client.post(base, { name: "one", workerLimit: 1, targetsAllWorkflows: true }));
    const a = await submit(client, orgId, { workflowId: ids.hold, workflowVersion: { tag: "$LIVE" } });
    await waitForJob(client, orgId, a, (j) => j.status === "RUNNING");
    const b = await submit(client, orgId, { workflowId: ids.hold, workflowVersion: { tag: "$LIVE" } });
    await waitForJob(client, orgId, b, (j) => j.waitingForResourcePool?.queuedAt !== undefined);
    // organization:delete is granted by name only, never to the tenant's default token.
    await admin.expect(200, admin.delete(`/organizations/${orgId}`));
    expect((await admin.get(`${base}/${poolId}`)).status).toBe(404);
    expect((await admin.get(base)).status).toBe(404);
    expect(await env.DB.prepare(`SELECT count(*) AS n FROM resource_pools WHERE organization_id = ?`).bind(orgId).first("n")).toBe(0);
    // The sweep cancels both jobs; each gives its lease or its place in the queue back.
    const pool = env.RESOURCE_POOLS.get(env.RESOURCE_POOLS.idFromName(poolId));
    await expect.poll(async () => pool.status(), { timeout: 60_000, interval: 200 }).toMatchObject({ runningJobs: 0, queuedJobs: 0 });
  });

  it("lists the five operations in /openapi.json", async () => {
    const doc = await admin.expect(200, admin.get("/openapi.json"));
    const ops = Object.values(doc.paths as Record<string, Record<string, { operationId: string }>>).flatMap((p) => Object.values(p).map((o) => o.operationId));
    for (const op of ["CreateResourcePool", "GetResourcePool", "ListResourcePools", "UpdateResourcePool", "DeleteResourcePool"]) expect(ops).toContain(op);
  });
});
