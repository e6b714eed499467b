/**
 * Which pools govern a job, and what asking costs: an organization's pools are read from D1 once
 * per isolate per POOL_LOOKUP_CACHE_MS, so jobs of an organization without pools pay almost nothing.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { tenantWith } from "../../helpers/client";
import { step, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import { POOL_LOOKUP_CACHE_MS } from "../../../src/limits";
import { createResourcePool, deleteResourcePool, poolsForWorkflow, updateResourcePool } from "../../../src/registry/resource-pools";

/** env.DB, counting the statements prepared through it. */
function countingDb() {
  const counter = { prepared: 0 };
  const db = new Proxy(env.DB, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (prop === "prepare") counter.prepared++;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { db, counter };
}

const a = workflow("a", [step("only", "/justworkflowit/noop")]);
const b = workflow("b", [step("only", "/justworkflowit/noop")]);

describe("poolsForWorkflow", () => {
  it("reads an organization without pools once per cache period, however many jobs start", async () => {
    const { orgId, ids } = await tenantWith(admin, a);
    const { db, counter } = countingDb();
    const t = Date.now();
    for (let i = 0; i < 1000; i++) expect(await poolsForWorkflow(db, orgId, ids.a!, t + i)).toEqual([]);
    expect(counter.prepared).toBe(1);
    expect(await poolsForWorkflow(db, orgId, ids.a!, t + POOL_LOOKUP_CACHE_MS + 1000)).toEqual([]);
    expect(counter.prepared).toBe(2);
  });

  it("names the pools that target all workflows or this one, sorted, and sees changes made in this isolate at once", async () => {
    const { orgId, ids } = await tenantWith(admin, a, b);
    const all = await createResourcePool(env.DB, orgId, { name: "all", workerLimit: 5, targetsAllWorkflows: true }, Date.now());
    const onlyA = await createResourcePool(env.DB, orgId, { name: "only-a", workerLimit: 2, targetedWorkflowIds: [ids.a!] }, Date.now());
    expect(await poolsForWorkflow(env.DB, orgId, ids.a!)).toEqual([all.poolId, onlyA.poolId].sort());
    expect(await poolsForWorkflow(env.DB, orgId, ids.b!)).toEqual([all.poolId]);
    await updateResourcePool(env.DB, orgId, onlyA.poolId, { targetedWorkflowIds: [ids.b!] }, Date.now());
    expect(await poolsForWorkflow(env.DB, orgId, ids.a!)).toEqual([all.poolId]);
    expect(await poolsForWorkflow(env.DB, orgId, ids.b!)).toEqual([all.poolId, onlyA.poolId].sort());
    await deleteResourcePool(env.DB, orgId, all.poolId);
    expect(await poolsForWorkflow(env.DB, orgId, ids.a!)).toEqual([]);
    // Another organization's pools never apply.
    const other = await tenantWith(admin, a);
    expect(await poolsForWorkflow(env.DB, other.orgId, other.ids.a!)).toEqual([]);
  });
});
