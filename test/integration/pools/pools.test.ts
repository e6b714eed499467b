/**
 * Resource pools inside workerd: the limit holds with many jobs, waiting jobs start first come
 * first served, a raised limit applies at once and a lowered one lets running jobs finish,
 * children take leases too, and the pool's alarm recovers a lost release and a duplicate run.
 */
import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { tenantWith, type TestClient } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import type { JobObject } from "../../../src/job/job-object";
import type { ResourcePool } from "../../../src/pools/resource-pool";

const waitEvents = "/justworkflowit/waitForEventIds";
const run = "/justworkflowit/runChildJob";

/** A job that runs until it receives the event "go". */
const hold = workflow("hold", [step("hold", waitEvents, { config: { eventIds: ["go"] } })]);
/** Another workflow, outside the pools of the tests that target `hold` only. */
const other = workflow("other", [step("hold", waitEvents, { config: { eventIds: ["go"] } })]);

const jobStub = (jobId: string): DurableObjectStub<JobObject> => env.JOBS.get(env.JOBS.idFromName(jobId));
const poolStub = (poolId: string): DurableObjectStub<ResourcePool> => env.RESOURCE_POOLS.get(env.RESOURCE_POOLS.idFromName(poolId));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function createPool(client: TestClient, orgId: string, body: Record<string, unknown>): Promise<string> {
  return (await client.expect(200, client.post(`/organizations/${orgId}/resource-pools`, { name: `pool-${Math.random()}`, ...body }))).poolId;
}

async function statuses(client: TestClient, orgId: string, jobIds: string[]): Promise<string[]> {
  return Promise.all(jobIds.map(async (id) => (await client.expect(200, client.get(`/organizations/${orgId}/jobs/${id}`))).job.status));
}

/** Waits until the jobs show these statuses, then checks they stay so for a while (nothing more starts). */
async function settle(client: TestClient, orgId: string, jobIds: string[], expected: string[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  let seen: string[] = [];
  while (Date.now() < deadline) {
    seen = await statuses(client, orgId, jobIds);
    if (JSON.stringify(seen) === JSON.stringify(expected)) break;
    await sleep(50);
  }
  expect(seen).toEqual(expected);
  // Grants are delivered from the pool's alarm: give a wrong one time to show.
  await sleep(300);
  expect(await statuses(client, orgId, jobIds)).toEqual(expected);
}

const go = (client: TestClient, orgId: string, jobId: string) => client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/events`, { eventId: "go", payload: {} }));

async function poolView(client: TestClient, orgId: string, poolId: string) {
  return (await client.expect(200, client.get(`/organizations/${orgId}/resource-pools/${poolId}`))).resourcePool;
}

describe("a resource pool", () => {
  it("runs at most workerLimit jobs at once and starts the waiting ones in the order they came", async () => {
    const { client, orgId, ids } = await tenantWith(admin, hold, other);
    const poolId = await createPool(client, orgId, { workerLimit: 2, targetedWorkflowIds: [ids.hold] });
    const jobs: string[] = [];
    for (let i = 0; i < 6; i++) jobs.push(await submit(client, orgId, { workflowId: ids.hold, workflowVersion: { tag: "$LIVE" } }));
    // A workflow the pool does not target is not limited by it.
    const free = await submit(client, orgId, { workflowId: ids.other, workflowVersion: { tag: "$LIVE" } });
    await waitForJob(client, orgId, free, (j) => j.status === "RUNNING");

    await settle(client, orgId, jobs, ["RUNNING", "RUNNING", "PENDING", "PENDING", "PENDING", "PENDING"]);
    const waiting = (await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobs[2]}`))).job;
    expect(waiting.waitingForResourcePool).toEqual({ poolId, queuedAt: expect.any(String) });
    expect(waiting.startedAt).toBeUndefined();
    // Waiting jobs are listed as PENDING.
    const pending = (await client.expect(200, client.get(`/organizations/${orgId}/jobs?status=PENDING`))).jobs.map((j: { jobId: string }) => j.jobId);
    expect(pending.sort()).toEqual(jobs.slice(2).sort());
    const view = await poolView(client, orgId, poolId);
    expect(view).toMatchObject({ poolId, workerLimit: 2, runningJobs: 2, queuedJobs: 4, oldestQueuedAt: waiting.waitingForResourcePool.queuedAt });
    expect(view.oldestQueuedWaitSeconds).toBeGreaterThanOrEqual(0);

    // Ending a job frees its slot for the oldest waiting job, and only that one.
    await go(client, orgId, jobs[1]!);
    await settle(client, orgId, jobs, ["RUNNING", "SUCCEEDED", "RUNNING", "PENDING", "PENDING", "PENDING"]);
    await go(client, orgId, jobs[0]!);
    await settle(client, orgId, jobs, ["SUCCEEDED", "SUCCEEDED", "RUNNING", "RUNNING", "PENDING", "PENDING"]);
    // A waiting job that is cancelled leaves the queue; the next in line keeps its place.
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobs[4]}/cancel`));
    await go(client, orgId, jobs[3]!);
    await settle(client, orgId, jobs, ["SUCCEEDED", "SUCCEEDED", "RUNNING", "SUCCEEDED", "CANCELLED", "RUNNING"]);
    // Events sent while a job waited are kept for it.
    await go(client, orgId, jobs[2]!);
    await go(client, orgId, jobs[5]!);
    await settle(client, orgId, jobs, ["SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "CANCELLED", "SUCCEEDED"]);
    expect(await poolView(client, orgId, poolId)).toMatchObject({ runningJobs: 0, queuedJobs: 0 });
    expect((await poolView(client, orgId, poolId)).oldestQueuedAt).toBeUndefined();
  });

  it("limits jobs started by SubmitJobs (batch) like any other", async () => {
    const { client, orgId, ids } = await tenantWith(admin, hold);
    await createPool(client, orgId, { workerLimit: 1, targetedWorkflowIds: [ids.hold] });
    const item = { workflowId: ids.hold, workflowVersion: { tag: "$LIVE" } };
    const { results } = await client.expect(200, client.post(`/organizations/${orgId}/jobs/batch`, { jobs: [item, item, item] }));
    const jobs = results.map((r: { jobId: string }) => r.jobId);
    // The batch's jobs start from an alarm: wait until all three exist and one runs.
    const seen = async () => Promise.all(jobs.map(async (id: string) => (await client.get(`/organizations/${orgId}/jobs/${id}`)).body?.job?.status ?? "none"));
    const ready = (all: string[]) => JSON.stringify([...all].sort()) === JSON.stringify(["PENDING", "PENDING", "RUNNING"]);
    for (let i = 0; i < 400 && !ready(await seen()); i++) await sleep(50);
    await sleep(300);
    expect((await seen()).sort()).toEqual(["PENDING", "PENDING", "RUNNING"]);
  });

  it("applies a raised limit at once and lets running jobs finish under a lowered one", async () => {
    const { client, orgId, ids } = await tenantWith(admin, hold);
    const poolId = await createPool(client, orgId, { workerLimit: 1, targetsAllWorkflows: true });
    const jobs: string[] = [];
    for (let i = 0; i < 3; i++) jobs.push(await submit(client, orgId, { workflowId: ids.hold, workflowVersion: { tag: "$LIVE" } }));
    await settle(client, orgId, jobs, ["RUNNING", "PENDING", "PENDING"]);
    // The pool's object loses its memory: its leases and queue are in its storage.
    await evictDurableObject(poolStub(poolId));
    expect(await poolView(client, orgId, poolId)).toMatchObject({ runningJobs: 1, queuedJobs: 2 });

    await client.expect(200, client.put(`/organizations/${orgId}/resource-pools/${poolId}`, { workerLimit: 3 }));
    await settle(client, orgId, jobs, ["RUNNING", "RUNNING", "RUNNING"]);

    await client.expect(200, client.put(`/organizations/${orgId}/resource-pools/${poolId}`, { workerLimit: 1 }));
    jobs.push(await submit(client, orgId, { workflowId: ids.hold, workflowVersion: { tag: "$LIVE" } }));
    await settle(client, orgId, jobs, ["RUNNING", "RUNNING", "RUNNING", "PENDING"]);
    expect(await poolView(client, orgId, poolId)).toMatchObject({ workerLimit: 1, runningJobs: 3, queuedJobs: 1 });
    await go(client, orgId, jobs[0]!);
    await go(client, orgId, jobs[1]!);
    // Two still ran over the new limit of one: the waiting job does not start yet.
    await settle(client, orgId, jobs, ["SUCCEEDED", "SUCCEEDED", "RUNNING", "PENDING"]);
    await go(client, orgId, jobs[2]!);
    await settle(client, orgId, jobs, ["SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "RUNNING"]);
  });

  it("limits child jobs of a targeted workflow, and a parent never waits on its own children", async () => {
    const fan = workflow("fan", [
      step("fan", run, { config: { children: [{ workflowName: "hold", workflowVersion: { tag: "$LIVE" }, forEach: { arrayPath: "workflowInput.items" } }] } }),
    ]);
    const { client, orgId, ids } = await tenantWith(admin, hold, fan);
    const poolId = await createPool(client, orgId, { workerLimit: 2, targetedWorkflowIds: [ids.hold] });
    const parent = await submit(client, orgId, { workflowId: ids.fan, workflowVersion: { tag: "$LIVE" }, inputJson: { items: [{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }] } });
    const tree = await waitForJob(client, orgId, parent, () => true);
    let children: string[] = tree.childJobs?.map((c: { jobId: string }) => c.jobId) ?? [];
    for (let i = 0; i < 200 && children.length < 4; i++) {
      await sleep(50);
      children = ((await client.expect(200, client.get(`/organizations/${orgId}/jobs/${parent}`))).childJobs ?? []).map((c: { jobId: string }) => c.jobId);
    }
    expect(children).toHaveLength(4);
    const running = async () => (await statuses(client, orgId, children)).filter((s) => s === "RUNNING").length;
    await settle(client, orgId, [parent], ["RUNNING"]);
    for (let i = 0; i < 200 && (await running()) < 2; i++) await sleep(50);
    expect(await running()).toBe(2);
    const queued = (await statuses(client, orgId, children)).map((s, i) => (s === "PENDING" ? children[i]! : null)).filter((id): id is string => id !== null);
    expect(queued).toHaveLength(2);
    expect((await client.expect(200, client.get(`/organizations/${orgId}/jobs/${queued[0]}`))).job.waitingForResourcePool.poolId).toBe(poolId);
    // Release them one by one, each as it holds a slot (the pool grants in the order the children
    // asked, which need not be their order in the step): never more than two run.
    const released = new Set<string>();
    while (released.size < children.length) {
      let next: string | undefined;
      for (let i = 0; i < 600 && next === undefined; i++) {
        const now = await statuses(client, orgId, children);
        expect(now.filter((st) => st === "RUNNING").length).toBeLessThanOrEqual(2);
        next = children.find((c, k) => now[k] === "RUNNING" && !released.has(c));
        if (next === undefined) await sleep(50);
      }
      expect(next).toBeDefined();
      released.add(next!);
      await go(client, orgId, next!);
    }
    expect((await waitForJob(client, orgId, parent, undefined, 30_000)).job.status).toBe("SUCCEEDED");

    // A pool of one slot that targets the parent's workflow and the children's: the parent holds
    // the slot and its children run under its lease instead of waiting for it forever.
    const nested = await tenantWith(admin, hold, fan);
    await createPool(nested.client, nested.orgId, { workerLimit: 1, targetsAllWorkflows: true });
    const top = await submit(nested.client, nested.orgId, { workflowId: nested.ids.fan, workflowVersion: { tag: "$LIVE" }, inputJson: { items: [{ n: 1 }, { n: 2 }] } });
    let kids: string[] = [];
    for (let i = 0; i < 400 && kids.length < 2; i++) {
      await sleep(50);
      kids = ((await nested.client.expect(200, nested.client.get(`/organizations/${nested.orgId}/jobs/${top}`))).childJobs ?? []).map((c: { jobId: string }) => c.jobId);
    }
    for (const kid of kids) await waitForJob(nested.client, nested.orgId, kid, (j) => j.status === "RUNNING", 30_000);
    for (const kid of kids) await go(nested.client, nested.orgId, kid);
    expect((await waitForJob(nested.client, nested.orgId, top, undefined, 30_000)).job.status).toBe("SUCCEEDED");
  });

  it("makes a resumed job wait for a slot again", async () => {
    const { client, orgId, ids } = await tenantWith(admin, hold);
    const poolId = await createPool(client, orgId, { workerLimit: 1, targetsAllWorkflows: true });
    const a = await submit(client, orgId, { workflowId: ids.hold, workflowVersion: { tag: "$LIVE" } });
    await settle(client, orgId, [a], ["RUNNING"]);
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${a}/cancel`));
    const b = await submit(client, orgId, { workflowId: ids.hold, workflowVersion: { tag: "$LIVE" } });
    await settle(client, orgId, [a, b], ["CANCELLED", "RUNNING"]);
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${a}/resume`));
    await settle(client, orgId, [a, b], ["PENDING", "RUNNING"]);
    expect((await client.expect(200, client.get(`/organizations/${orgId}/jobs/${a}`))).job.waitingForResourcePool.poolId).toBe(poolId);
    await go(client, orgId, b);
    await settle(client, orgId, [a, b], ["RUNNING", "SUCCEEDED"]);
    await go(client, orgId, a);
    await settle(client, orgId, [a, b], ["SUCCEEDED", "SUCCEEDED"]);
    expect(await poolView(client, orgId, poolId)).toMatchObject({ runningJobs: 0, queuedJobs: 0 });
  });
});

describe("a resource pool's object", () => {
  it("answers a repeated request the same, gives a new round of a job a fresh place in line, and ignores a late release", async () => {
    const { client, orgId } = await tenantWith(admin, hold);
    const poolId = await createPool(client, orgId, { workerLimit: 1 });
    const [a, b, c] = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    // Inside the object, with no I/O between calls: nothing (its alarm included) runs in between.
    const seen = await runInDurableObject(poolStub(poolId), async (o: ResourcePool) => {
      const out: unknown[] = [];
      out.push(await o.acquire(a, 1), await o.acquire(a, 1), await o.acquire(b, 1), await o.acquire(b, 1));
      // a ends (its release lost) and is resumed: its new round frees the old slot and waits for one.
      out.push(await o.acquire(a, 2));
      out.push((await o.status()).runningJobs);
      // b holds the slot now; c waits behind a.
      out.push(await o.acquire(c, 1));
      // A late release of a's first round leaves its second round in the queue.
      await o.release(a, 1);
      out.push(await o.status());
      // b ends: a (queued first) gets the slot, not c.
      await o.release(b, 1);
      out.push(await o.acquire(a, 2), await o.acquire(c, 1));
      return out;
    });
    const queued = (position: number) => ({ granted: false, position, queuedAt: expect.any(Number) });
    expect(seen).toEqual([
      { granted: true },
      { granted: true },
      queued(1),
      queued(1),
      // a's first round gave its slot to b, the oldest waiting: a's new round is first in line.
      queued(1),
      1,
      queued(2),
      { workerLimit: 1, runningJobs: 1, queuedJobs: 2, oldestQueuedAt: expect.any(Number) },
      { granted: true },
      queued(1),
    ]);
  });
});

describe("a resource pool and continueAsNew", () => {
  it("keeps the job's lease across its runs and releases it when the last run ends", async () => {
    const roll = workflow("roll", [
      step("again", "/canopy/continueAsNew", { config: { nextStep: "hold" } }),
      step("hold", waitEvents, { config: { eventIds: ["go"] } }),
    ]);
    const { client, orgId, ids } = await tenantWith(admin, roll);
    const poolId = await createPool(client, orgId, { workerLimit: 1, targetsAllWorkflows: true });
    const a = await submit(client, orgId, { workflowId: ids.roll, workflowVersion: { tag: "$LIVE" } });
    await waitForJob(client, orgId, a, (j) => j.runNumber === 2 && j.status === "RUNNING" && j.currentStepName === "hold");
    const b = await submit(client, orgId, { workflowId: ids.roll, workflowVersion: { tag: "$LIVE" } });
    await settle(client, orgId, [a, b], ["RUNNING", "PENDING"]);
    // The pool checks a's lease through the job's first run, which answers for its live run.
    await runInDurableObject(poolStub(poolId), (_o: ResourcePool, ctx) => {
      ctx.storage.sql.exec(`UPDATE lease SET due_at = 0`);
    });
    await runDurableObjectAlarm(poolStub(poolId));
    await settle(client, orgId, [a, b], ["RUNNING", "PENDING"]);
    expect(await poolView(client, orgId, poolId)).toMatchObject({ runningJobs: 1, queuedJobs: 1 });
    await go(client, orgId, a);
    await settle(client, orgId, [a, b], ["SUCCEEDED", "RUNNING"]);
  });
});

describe("a resource pool's leases survive crashes", () => {
  it("frees the slot of a job whose release was lost, from the alarm, and a duplicate alarm grants nothing twice", async () => {
    const { client, orgId, ids } = await tenantWith(admin, hold);
    const poolId = await createPool(client, orgId, { workerLimit: 1, targetsAllWorkflows: true });
    const a = await submit(client, orgId, { workflowId: ids.hold, workflowVersion: { tag: "$LIVE" } });
    await settle(client, orgId, [a], ["RUNNING"]);
    const b = await submit(client, orgId, { workflowId: ids.hold, workflowVersion: { tag: "$LIVE" } });
    const c = await submit(client, orgId, { workflowId: ids.hold, workflowVersion: { tag: "$LIVE" } });
    await settle(client, orgId, [a, b, c], ["RUNNING", "PENDING", "PENDING"]);

    // Job a ends, and its release is lost (as if its object crashed for good before sending it).
    await runInDurableObject(jobStub(a), (o: JobObject) => {
      o.apply({ type: "cancel", at: Date.now() });
      o.store.queue.dropWork("release:1");
    });
    await settle(client, orgId, [a, b, c], ["CANCELLED", "PENDING", "PENDING"]);
    expect(await poolView(client, orgId, poolId)).toMatchObject({ runningJobs: 1, queuedJobs: 2 });

    // The lease comes due for its check (POOL_LEASE_CHECK_INTERVAL_MS later): the alarm asks job a,
    // which has ended, and the slot goes to b, the oldest waiting job.
    await runInDurableObject(poolStub(poolId), (_o: ResourcePool, ctx) => {
      ctx.storage.sql.exec(`UPDATE lease SET due_at = 0 WHERE job_id = ?`, a);
    });
    await runDurableObjectAlarm(poolStub(poolId));
    // A second (and third) run of the alarm delivers b's grant once and grants nothing more.
    await runDurableObjectAlarm(poolStub(poolId));
    await runDurableObjectAlarm(poolStub(poolId));
    await settle(client, orgId, [a, b, c], ["CANCELLED", "RUNNING", "PENDING"]);
    expect(await poolView(client, orgId, poolId)).toMatchObject({ runningJobs: 1, queuedJobs: 1 });

    // Every lease comes due for its check at once: b and c still want theirs, and keep them.
    await runInDurableObject(poolStub(poolId), (_o: ResourcePool, ctx) => {
      ctx.storage.sql.exec(`UPDATE lease SET due_at = 0`);
    });
    await runDurableObjectAlarm(poolStub(poolId));
    await runDurableObjectAlarm(poolStub(poolId));
    await settle(client, orgId, [a, b, c], ["CANCELLED", "RUNNING", "PENDING"]);
    expect(await poolView(client, orgId, poolId)).toMatchObject({ runningJobs: 1, queuedJobs: 1 });

    await go(client, orgId, b);
    await settle(client, orgId, [a, b, c], ["CANCELLED", "SUCCEEDED", "RUNNING"]);
  });

  it("frees the slot of a holder that no longer exists, and re-sends a grant the job never acknowledged", async () => {
    const { client, orgId, ids } = await tenantWith(admin, hold);
    const poolId = await createPool(client, orgId, { workerLimit: 1, targetsAllWorkflows: true });
    // A lease held by a job id that no object knows (its storage is gone).
    const ghost = crypto.randomUUID();
    expect(await poolStub(poolId).acquire(ghost, 1)).toEqual({ granted: true });
    // Asking again is answered the same, and takes no second slot.
    expect(await poolStub(poolId).acquire(ghost, 1)).toEqual({ granted: true });
    const a = await submit(client, orgId, { workflowId: ids.hold, workflowVersion: { tag: "$LIVE" } });
    await settle(client, orgId, [a], ["PENDING"]);
    expect(await poolView(client, orgId, poolId)).toMatchObject({ runningJobs: 1, queuedJobs: 1 });

    await runInDurableObject(poolStub(poolId), (_o: ResourcePool, ctx) => {
      ctx.storage.sql.exec(`UPDATE lease SET due_at = 0 WHERE job_id = ?`, ghost);
    });
    await runDurableObjectAlarm(poolStub(poolId));
    await settle(client, orgId, [a], ["RUNNING"]);

    // The grant reached the job, but the pool did not record the acknowledgement (a crash in
    // between): the alarm sends it again, and the job, which holds it, keeps it without change.
    const before = await runInDurableObject(jobStub(a), (o: JobObject) => JSON.stringify(o.state));
    await runInDurableObject(poolStub(poolId), (_o: ResourcePool, ctx) => {
      ctx.storage.sql.exec(`UPDATE lease SET delivered = 0, due_at = 0 WHERE job_id = ?`, a);
    });
    await runDurableObjectAlarm(poolStub(poolId));
    expect(await runInDurableObject(jobStub(a), (o: JobObject) => JSON.stringify(o.state))).toBe(before);
    const row = await runInDurableObject(poolStub(poolId), (_o: ResourcePool, ctx) =>
      ctx.storage.sql.exec<{ granted: number; delivered: number }>(`SELECT granted, delivered FROM lease WHERE job_id = ?`, a).one(),
    );
    expect(row).toEqual({ granted: 1, delivered: 1 });
    expect(await poolView(client, orgId, poolId)).toMatchObject({ runningJobs: 1, queuedJobs: 0 });
  });
});

describe("a pool's queue that waits too long", () => {
  it("raises one RESOURCE_POOL_QUEUED_TOO_LONG notification per backlog, however often the alarm runs and the waiters change", async () => {
    const { client, orgId, ids } = await tenantWith(admin, hold);
    const poolId = await createPool(client, orgId, { workerLimit: 1, targetedWorkflowIds: [ids.hold] });
    const jobs: string[] = [];
    for (let i = 0; i < 3; i++) jobs.push(await submit(client, orgId, { workflowId: ids.hold, workflowVersion: { tag: "$LIVE" } }));
    await settle(client, orgId, jobs, ["RUNNING", "PENDING", "PENDING"]);
    const notifications = async () =>
      (await client.expect(200, client.get(`/organizations/${orgId}/notifications`))).notifications.filter((n: any) => n.type === "RESOURCE_POOL_QUEUED_TOO_LONG");
    /** As if every queued job had been queued `minutes` earlier than it was. */
    const age = (minutes: number) =>
      runInDurableObject(poolStub(poolId), (_o: ResourcePool, ctx) => {
        ctx.storage.sql.exec(`UPDATE lease SET queued_at = queued_at - ? WHERE granted = 0`, minutes * 60_000);
      });
    // The pass itself, awaited to its end (the runtime may also run the alarm it armed on its own;
    // the two raise one notification between them, which is part of what is checked).
    const pass = () => runInDurableObject(poolStub(poolId), (o: ResourcePool) => o.alarm());

    // Waited less than the threshold: nothing.
    await pass();
    expect(await notifications()).toEqual([]);
    await age(11);
    await pass();
    await pass();
    const raised = await notifications();
    expect(raised).toHaveLength(1);
    expect(raised[0]).toMatchObject({ resourceId: poolId, read: false });
    expect(raised[0].message).toContain("2 job(s) wait");

    // A completion moves the queue on, but the backlog goes on: no second notification.
    await go(client, orgId, jobs[0]!);
    await settle(client, orgId, jobs, ["SUCCEEDED", "RUNNING", "PENDING"]);
    await age(11);
    await pass();
    expect(await notifications()).toHaveLength(1);

    // The queue empties, then a new backlog builds: it raises again.
    await go(client, orgId, jobs[1]!);
    await settle(client, orgId, jobs, ["SUCCEEDED", "SUCCEEDED", "RUNNING"]);
    await pass();
    jobs.push(await submit(client, orgId, { workflowId: ids.hold, workflowVersion: { tag: "$LIVE" } }));
    await settle(client, orgId, jobs.slice(2), ["RUNNING", "PENDING"]);
    await age(11);
    await pass();
    expect(await notifications()).toHaveLength(2);

    await go(client, orgId, jobs[2]!);
    await settle(client, orgId, jobs.slice(2), ["SUCCEEDED", "RUNNING"]);
    await go(client, orgId, jobs[3]!);
  });
});
