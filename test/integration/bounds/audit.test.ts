/**
 * What the audit of src/engine, src/job and src/executors found sized by user input, each at its
 * bound: retries a version may ask for, children a step may start, events a job keeps unused, the
 * inputs one pass of child starts reads, a call's input that is a fan-out's results, the history a
 * run counts toward its rollover, and events a rollover carries.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { newTenant, tenantWith } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import { fakeOrigin, scenario, seen } from "../integrations/fake";
import type { JobObject } from "../../../src/job/job-object";
import { runObjectName } from "../../../src/job/naming";
import { CHILD_START_INPUT_BYTES, MAX_CHILDREN_PER_STEP, MAX_STEP_RETRIES, MAX_UNUSED_EVENTS } from "../../../src/limits";

const run = "/justworkflowit/runChildJob";
const transform = "/canopy/transform";
const noop = "/justworkflowit/noop";
const http = "/canopy/http";
const again = "/canopy/continueAsNew";
const waitEvents = "/justworkflowit/waitForEventIds";

const stub = (jobId: string, runNumber = 1): DurableObjectStub<JobObject> => env.JOBS.get(env.JOBS.idFromName(runObjectName(jobId, runNumber)));

describe("bounds found by the audit", () => {
  it(`refuses a version whose step asks for more than ${MAX_STEP_RETRIES} retries`, async () => {
    const { client, orgId } = await newTenant(admin);
    const { workflowId } = await client.expect(200, client.post(`/organizations/${orgId}/workflows`, { name: "retrying" }));
    const version = (retries: number) => ({ definition: JSON.stringify(workflow("retrying", [step("call", http, { retries, config: { url: "https://example.com" } })])) });
    await client.expect(200, client.post(`/organizations/${orgId}/workflows/${workflowId}/versions`, version(MAX_STEP_RETRIES)));
    const refused = await client.expect(400, client.post(`/organizations/${orgId}/workflows/${workflowId}/versions`, version(MAX_STEP_RETRIES + 1)));
    expect(JSON.stringify(refused)).toContain("retries");
  });

  it(`fails a forEach over ${MAX_CHILDREN_PER_STEP + 1} elements with CHILD_LIMIT, creating no child`, async () => {
    const item = workflow("tiny", [step("only", noop)], { workflowInput: {} });
    const fan = workflow("huge", [step("fan", run, { config: { children: [{ workflowName: "tiny", workflowVersion: { tag: "$LIVE" }, forEach: { arrayPath: "workflowInput.items" } }] } })]);
    const { client, orgId, ids } = await tenantWith(admin, item, fan);
    const jobId = await submit(client, orgId, { workflowId: ids.huge, workflowVersion: { tag: "$LIVE" }, inputJson: { items: new Array(MAX_CHILDREN_PER_STEP + 1).fill(0) } });
    const { job } = await waitForJob(client, orgId, jobId);
    expect(job).toMatchObject({ status: "FAILED", error: { code: "CHILD_LIMIT", stepName: "fan" } });
    expect(await runInDurableObject(stub(jobId), (o: JobObject) => o.store.tables.has("child"))).toBe(false);
  });

  it(`keeps at most ${MAX_UNUSED_EVENTS} unused events, and still takes the one a wait asks for`, async () => {
    const def = workflow("eventful", [step("hold", waitEvents, { config: { eventIds: ["go"] } })]);
    const { client, orgId, ids } = await tenantWith(admin, def);
    const jobId = await submit(client, orgId, { workflowId: ids.eventful, workflowVersion: { tag: "$LIVE" } });
    await waitForJob(client, orgId, jobId, (j) => j.currentStepName === "hold");
    // All but one of the unused events it may keep, written straight into its table.
    await runInDurableObject(stub(jobId), (o: JobObject) => {
      o.store.transaction(() => {
        o.store.tables.ensure("event");
        o.store.tables.sql.exec(
          `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) INSERT INTO event (event_id, payload, received_at, consumed) SELECT 'early-' || i, '{}', 0, 0 FROM n`,
          MAX_UNUSED_EVENTS - 1,
        );
      });
    });
    const send = (eventId: string) => client.post(`/organizations/${orgId}/jobs/${jobId}/events`, { eventId, payload: { eventId } });
    expect((await send("last-kept")).status).toBe(200);
    const refused = await send("one-too-many");
    expect(refused.status).toBe(409);
    expect(refused.body.message).toContain(`at most ${MAX_UNUSED_EVENTS} events`);
    // A duplicate is answered as before, and the event the job waits for is taken.
    expect((await send("last-kept")).status).toBe(200);
    expect((await send("go")).status).toBe(200);
    expect((await waitForJob(client, orgId, jobId)).job.status).toBe("SUCCEEDED");
  });

  it("reads at most CHILD_START_INPUT_BYTES of children's inputs for one pass of starts", async () => {
    const held = workflow("slow", [step("hold", waitEvents, { config: { eventIds: ["go"] } })], { workflowInput: {} });
    const parent = workflow("inputsPass", [
      step("spawn", run, { config: { maxConcurrency: 1, children: [1, 2, 3, 4, 5, 6].map((i) => ({ id: `c${i}`, workflowName: "slow", workflowVersion: { tag: "$LIVE" } })) } }),
    ]);
    const { client, orgId, ids } = await tenantWith(admin, held, parent);
    const jobId = await submit(client, orgId, { workflowId: ids.inputsPass, workflowVersion: { tag: "$LIVE" }, inputJson: { pad: "i".repeat(900_000) } });
    let waiting: string[] = [];
    for (let i = 0; i < 200 && waiting.length < 5; i++) {
      waiting = await runInDurableObject(stub(jobId), (o: JobObject) => o.store.children("spawn", 1).filter((c) => c.status === "WAITING").map((c) => c.jobId));
      if (waiting.length < 5) await new Promise((r) => setTimeout(r, 25));
    }
    const pass = await runInDurableObject(stub(jobId), (o: JobObject) => {
      const { rows, deferred } = o.store.childRows.toStart(waiting, CHILD_START_INPUT_BYTES);
      return { loaded: rows.size, deferred: deferred.size };
    });
    expect(pass).toEqual({ loaded: Math.floor(CHILD_START_INPUT_BYTES / 900_010), deferred: 5 - Math.floor(CHILD_START_INPUT_BYTES / 900_010) });
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/cancel`));
  });

  it("fails a call whose input is a fan-out's results over the limit, without calling", async () => {
    const id = await scenario("never-called", [{ json: { ok: true } }]);
    const chunk = workflow("chunk3", [step("make", transform, { config: { output: { pad: "k".repeat(300_000) } } })], { workflowInput: {} });
    const caller = workflow("caller", [
      step("fan", run, { config: { children: ["a", "b", "c", "d"].map((c) => ({ id: c, workflowName: "chunk3", workflowVersion: { tag: "$LIVE" } })) } }, "call"),
      step("call", http, { config: { url: `${fakeOrigin()}/s/${id}/x` } }),
    ]);
    const { client, orgId, ids } = await tenantWith(admin, chunk, caller);
    const jobId = await submit(client, orgId, { workflowId: ids.caller, workflowVersion: { tag: "$LIVE" } });
    const { job } = await waitForJob(client, orgId, jobId, undefined, 60_000);
    expect(job).toMatchObject({ status: "FAILED", error: { code: "PAYLOAD_TOO_LARGE", stepName: "call" } });
    expect(await seen(id)).toEqual([]);
  });

  it("counts the history a run stores toward its rollover, and carries unused events in batches", async () => {
    const big = (c: string) => ({ [c]: c.repeat(330_000) });
    const def = workflow("carrier", [
      step("hold", waitEvents, { config: { eventIds: ["go"] } }, "roll"),
      step("roll", again, { config: { nextStep: "use" } }),
      step("use", waitEvents, { config: { eventIds: ["a", "b", "c"] } }),
    ]);
    const { client, orgId, ids } = await tenantWith(admin, def);
    const jobId = await submit(client, orgId, { workflowId: ids.carrier, workflowVersion: { tag: "$LIVE" } });
    await waitForJob(client, orgId, jobId, (j) => j.currentStepName === "hold");
    // Four events of 330 KB arrive before any wait wants them: 1.3 MB to carry, in two batches.
    for (const eventId of ["a", "b", "c", "d"]) await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/events`, { eventId, payload: big(eventId) }));
    const stored = await runInDurableObject(stub(jobId), (o: JobObject) => o.state!.historyBytes ?? 0);
    expect(stored).toBeGreaterThan(4 * 330_000);
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/events`, { eventId: "go" }));
    const { job } = await waitForJob(client, orgId, jobId, undefined, 60_000);
    expect(job).toMatchObject({ status: "SUCCEEDED", runNumber: 2 });
    expect(Object.keys(job.output).sort()).toEqual(["a", "b", "c"]);
    const left = await runInDurableObject(stub(jobId, 2), (o: JobObject) =>
      o.store.tables.sql.exec<{ event_id: string; consumed: number }>(`SELECT event_id, consumed FROM event ORDER BY event_id`).toArray(),
    );
    expect(left).toEqual([
      { event_id: "a", consumed: 1 },
      { event_id: "b", consumed: 1 },
      { event_id: "c", consumed: 1 },
      { event_id: "d", consumed: 0 },
    ]);
  }, 60_000);

  it("binds no string over 2 MB to a statement, even a 1 MiB value that doubles when escaped", async () => {
    const slashes = "\\".repeat(500_000);
    const def = workflow("slashes", [step("hold", waitEvents, { config: { eventIds: ["go"] } })]);
    const { client, orgId, ids } = await tenantWith(admin, def);
    const jobId = await submit(client, orgId, { workflowId: ids.slashes, workflowVersion: { tag: "$LIVE" } });
    await waitForJob(client, orgId, jobId, (j) => j.currentStepName === "hold");
    // Every string bound from now on is measured (Cloudflare refuses one over 2 MB; local workerd does not).
    await runInDurableObject(stub(jobId), (_o: JobObject, ctx) => {
      const sql = ctx.storage.sql as unknown as { exec: (...args: unknown[]) => unknown; largest?: number };
      const real = sql.exec.bind(sql);
      sql.largest = 0;
      sql.exec = (...args: unknown[]) => {
        for (const a of args.slice(1)) if (typeof a === "string") sql.largest = Math.max(sql.largest!, new TextEncoder().encode(a).byteLength);
        return real(...args);
      };
    });
    // Its 500,000 backslashes are 1,000,000 characters of JSON, and twice that escaped again.
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/events`, { eventId: "go", payload: { s: slashes } }));
    const { job } = await waitForJob(client, orgId, jobId);
    expect(job.status).toBe("SUCCEEDED");
    expect(job.output.s).toHaveLength(500_000);
    const largest = await runInDurableObject(stub(jobId), (_o: JobObject, ctx) => (ctx.storage.sql as unknown as { largest: number }).largest);
    expect(largest).toBeGreaterThan(1_000_000);
    expect(largest).toBeLessThan(2_000_000);
  });
});
