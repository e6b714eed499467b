import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { deployWorkflow, tenantWith, type TestClient } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import type { JobObject } from "../../../src/job/job-object";
import { runObjectName } from "../../../src/job/naming";
import { MAX_RERUN_JOBS, RERUN_COPY_PAGE_BYTES, RERUN_COPY_PAGE_ROWS, RERUN_SOURCES_PER_OBJECT } from "../../../src/limits";
import { fakeOrigin, scenario, seen } from "../integrations/fake";

const http = "/canopy/http";
const transform = "/canopy/transform";
const noop = "/justworkflowit/noop";
const again = "/canopy/continueAsNew";
const run = "/justworkflowit/runChildJob";

const stub = (jobId: string): DurableObjectStub<JobObject> => env.JOBS.get(env.JOBS.idFromName(jobId));
const refused = { status: 422, body: "the shipping service refused: bug #7" };

/** A call to the fake far end's scenario `id`. */
const call = (name: string, id: string, extra: Record<string, unknown> = {}, next: unknown = null) => step(name, http, { ...extra, config: { url: `${fakeOrigin()}/s/${id}/${name}` } }, next);

/** reserve → charge → ship: v1's ship calls a far end that refuses; v2's ship is fixed. */
async function orders(prefix: string) {
  const ids = { reserve: await scenario(`${prefix}-reserve`), charge: await scenario(`${prefix}-charge`, [{ json: { charged: 42, receipt: "r-1" } }]) };
  const ship = await scenario(`${prefix}-ship`, [refused]);
  const definitions = { receipt: { type: "object", properties: { receipt: { type: "string" } }, required: ["receipt"] } };
  const steps = (shipStep: unknown) => [call("reserve", ids.reserve, {}, "charge"), call("charge", ids.charge, { output: "receipt" }, "ship"), shipStep];
  return {
    ids: { ...ids, ship },
    v1: workflow("order", steps(call("ship", ship)), definitions),
    v2: workflow("order", steps(step("ship", transform, { config: { output: { shipped: { var: "chargeOutput.receipt" }, item: { var: "workflowInput.sku" } } } })), definitions),
  };
}

const jobs = async (client: TestClient, orgId: string) => (await client.expect(200, client.get(`/organizations/${orgId}/jobs?pageSize=100`))).jobs as any[];
const state = async (client: TestClient, orgId: string, jobId: string) => (await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state`))).state;

describe("RerunJob", () => {
  it("reruns a FAILED job on a fixed version from the step it failed at, calling nothing before it again", async () => {
    const o = await orders("fix");
    const { client, orgId, ids } = await tenantWith(admin, o.v1);
    const source = await submit(client, orgId, { workflowId: ids.order, workflowVersion: { tag: "$LIVE" }, inputJson: { sku: "A-1" } });
    expect((await waitForJob(client, orgId, source)).job).toMatchObject({ status: "FAILED", error: { code: "HTTP_422", stepName: "ship" } });
    const sourceState = await state(client, orgId, source);
    const v2 = await deployWorkflow(client, orgId, o.v2);

    const res = await client.call("POST", `/organizations/${orgId}/jobs/${source}/rerun`, { workflowVersion: { versionNumber: v2.versionNumber } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const rerun = res.body.jobId;
    const { job } = await waitForJob(client, orgId, rerun);
    expect(job).toMatchObject({ status: "SUCCEEDED", output: { shipped: "r-1", item: "A-1" }, rerunOf: { jobId: source, fromStep: "ship" }, workflowVersion: { versionNumber: 2 } });
    // One attempt: ship. The copied steps' units are the source's, not the rerun's.
    expect(job.billableTransactionUnits).toBe(1);
    expect((await seen(o.ids.reserve)).length).toBe(1);
    expect((await seen(o.ids.charge)).length).toBe(1);
    const rerunState = await state(client, orgId, rerun);
    expect(rerunState.executionHistory.map((h: any) => h.stepName)).toEqual(["ship"]);
    expect(rerunState.executionData).toMatchObject({ workflowInput: { sku: "A-1" }, reserveOutput: { sku: "A-1" }, chargeOutput: { charged: 42, receipt: "r-1" } });
    // The source is untouched.
    expect(await state(client, orgId, source)).toEqual(sourceState);
    expect((await client.expect(200, client.get(`/organizations/${orgId}/jobs/${source}`))).job).toMatchObject({ status: "FAILED" });

    // Asked again: the same job, nothing started. With an idempotency key too.
    expect(await client.expect(201, client.post(`/organizations/${orgId}/jobs/${source}/rerun`, { workflowVersion: { versionId: v2.versionId } }))).toEqual({ jobId: rerun });
    const keyed = { workflowVersion: { versionId: v2.versionId }, idempotencyKey: "retry-1" };
    expect(await client.expect(201, client.post(`/organizations/${orgId}/jobs/${source}/rerun`, keyed))).toEqual({ jobId: rerun });
    expect(await client.expect(201, client.post(`/organizations/${orgId}/jobs/${source}/rerun`, { ...keyed, inputJson: { sku: "B" } }))).toEqual({ jobId: rerun });
    expect((await jobs(client, orgId)).length).toBe(2);
  });

  it("reruns from a middle step with a new input: only that step and the ones after it run", async () => {
    const a = await scenario("mid-a");
    const b = await scenario("mid-b");
    const c = await scenario("mid-c");
    const def = workflow("chain", [
      call("a", a, {}, "b"),
      call("b", b, { inputTransformer: { fieldset: [{ from: "workflowInput.n", to: "n" }, { from: "aOutput.n", to: "fromA" }] } }, "c"),
      call("c", c),
    ]);
    const { client, orgId, ids } = await tenantWith(admin, def);
    const source = await submit(client, orgId, { workflowId: ids.chain, workflowVersion: { tag: "$LIVE" }, inputJson: { n: 1 } });
    expect((await waitForJob(client, orgId, source)).job.status).toBe("SUCCEEDED");
    // A SUCCEEDED job has no step it stopped at: fromStep is required.
    const missing = await client.post(`/organizations/${orgId}/jobs/${source}/rerun`, {});
    expect(missing.status).toBe(400);
    expect(missing.body.message).toContain("fromStep");

    const { jobId } = await client.expect(201, client.post(`/organizations/${orgId}/jobs/${source}/rerun`, { fromStep: "b", inputJson: JSON.stringify({ n: 2 }) }));
    const { job } = await waitForJob(client, orgId, jobId);
    expect(job).toMatchObject({ status: "SUCCEEDED", output: { n: 2, fromA: 1 }, rerunOf: { jobId: source, fromStep: "b" }, billableTransactionUnits: 2 });
    expect((await seen(a)).map((r) => JSON.parse(r.body))).toEqual([{ n: 1 }]);
    expect((await seen(b)).map((r) => JSON.parse(r.body))).toEqual([{ n: 1, fromA: 1 }, { n: 2, fromA: 1 }]);
    expect((await seen(c)).length).toBe(2);
    expect((await state(client, orgId, jobId)).executionHistory.map((h: any) => h.stepName)).toEqual(["b", "c"]);
  });

  it("refuses a bad fromStep, a refused input, a running source and an unknown one, creating nothing", async () => {
    const o = await orders("bad");
    const { client, orgId, ids } = await tenantWith(admin, o.v1);
    const source = await submit(client, orgId, { workflowId: ids.order, workflowVersion: { tag: "$LIVE" }, inputJson: { sku: "A-1" } });
    await waitForJob(client, orgId, source);
    const held = await deployWorkflow(client, orgId, workflow("held", [step("hold", "/justworkflowit/waitForEventIds", { config: { eventIds: ["go"] } })]));
    const running = await submit(client, orgId, { workflowId: held.workflowId, workflowVersion: { tag: "$LIVE" } });
    const before = (await jobs(client, orgId)).length;
    const path = `/organizations/${orgId}/jobs/${source}/rerun`;

    const unknownStep = await client.post(path, { fromStep: "refund" });
    expect(unknownStep.status).toBe(400);
    expect(unknownStep.body).toMatchObject({ code: "ValidationError", fields: { fromStep: expect.stringContaining('no step "refund"') } });
    // A version that lacks the step: v2 without "ship".
    const v2 = await deployWorkflow(client, orgId, { ...o.v1, steps: o.v1.steps.slice(0, 2).map((s: any) => (s.name === "charge" ? { ...s, transitionToStep: null } : s)) });
    const lacks = await client.post(path, { workflowVersion: { versionId: v2.versionId } });
    expect(lacks.status).toBe(400);
    expect(lacks.body.message).toContain('Step "ship" is not a step of version 2');
    // A step of the workflow that the job never reached: none here, so the first step after a rerun of a rerun is tested below.
    const input = await client.post(path, { inputJson: [1, 2], workflowVersion: { versionNumber: 1 } });
    expect(input.status).toBe(400);
    expect(input.body.message).toContain("workflowInput schema");
    expect((await client.post(path, { inputJson: "{not json" })).status).toBe(400);
    expect((await client.post(`/organizations/${orgId}/jobs/${running}/rerun`, {})).status).toBe(409);
    expect((await client.post(`/organizations/${orgId}/jobs/${crypto.randomUUID()}/rerun`, {})).status).toBe(404);
    expect((await client.post(`/organizations/${orgId}/jobs/not-a-uuid/rerun`, {})).status).toBe(404);
    expect((await client.post(path, { workflowVersion: { versionNumber: 9 } })).status).toBe(404);
    expect((await jobs(client, orgId)).length).toBe(before);
  });

  it("refuses with 400 copied data that the chosen version's schemas refuse, naming the step and the mismatch", async () => {
    const o = await orders("schema");
    const { client, orgId, ids } = await tenantWith(admin, o.v1);
    const source = await submit(client, orgId, { workflowId: ids.order, workflowVersion: { tag: "$LIVE" }, inputJson: { sku: "A-1" } });
    await waitForJob(client, orgId, source);
    // v3 wants a charge output with a `currency` the source's charge never returned, and a numeric sku.
    const strict = {
      ...o.v2,
      definitions: {
        ...o.v2.definitions,
        workflowInput: { type: "object", properties: { sku: { type: "number" } } },
        receipt: { type: "object", properties: { receipt: { type: "string" }, currency: { type: "string" } }, required: ["receipt", "currency"] },
      },
    };
    const v3 = await deployWorkflow(client, orgId, strict);
    const res = await client.post(`/organizations/${orgId}/jobs/${source}/rerun`, { workflowVersion: { versionId: v3.versionId } });
    expect(res.status).toBe(400);
    expect(res.body.message).toContain('from step "ship" on version 2');
    expect(res.body.errors).toEqual([expect.stringContaining("workflowInput"), expect.stringMatching(/^step "charge", its output \(chargeOutput\): .*currency/)]);
    expect((await jobs(client, orgId)).length).toBe(1);
  });

  it("reruns a rerun, says which job to rerun for a step only its source ran, and ListJobs lists each job's reruns", async () => {
    const o = await orders("again");
    const { client, orgId, ids } = await tenantWith(admin, o.v1);
    const source = await submit(client, orgId, { workflowId: ids.order, workflowVersion: { tag: "$LIVE" }, inputJson: { sku: "A-1" } });
    await waitForJob(client, orgId, source);
    // The first rerun, on the same (broken) version, fails at ship again. (No body at all: every field is optional.)
    const { jobId: first } = await client.expect(201, client.call("POST", `/organizations/${orgId}/jobs/${source}/rerun`));
    expect((await waitForJob(client, orgId, first)).job).toMatchObject({ status: "FAILED", rerunOf: { jobId: source, fromStep: "ship" } });
    const early = await client.post(`/organizations/${orgId}/jobs/${first}/rerun`, { fromStep: "charge" });
    expect(early.status).toBe(400);
    expect(early.body.message).toContain(`It reruns job ${source} from step "ship"`);

    const v2 = await deployWorkflow(client, orgId, o.v2);
    const { jobId: second } = await client.expect(201, client.post(`/organizations/${orgId}/jobs/${first}/rerun`, { workflowVersion: { versionId: v2.versionId } }));
    const { job } = await waitForJob(client, orgId, second);
    expect(job).toMatchObject({ status: "SUCCEEDED", output: { shipped: "r-1", item: "A-1" }, rerunOf: { jobId: first, fromStep: "ship" } });
    expect((await seen(o.ids.charge)).length).toBe(1);
    expect((await seen(o.ids.ship)).length).toBe(2);

    // The lineage both ways in the job index: a job's reruns (extension `rerunOf`), each saying what it reruns.
    const reruns = async (of: string) => (await client.expect(200, client.get(`/organizations/${orgId}/jobs?rerunOf=${of.toUpperCase()}`))).jobs;
    expect(await reruns(source)).toEqual([expect.objectContaining({ jobId: first, rerunOf: { jobId: source, fromStep: "ship" } })]);
    expect(await reruns(first)).toEqual([expect.objectContaining({ jobId: second, rerunOf: { jobId: first, fromStep: "ship" } })]);
    expect(await reruns(second)).toEqual([]);
    const listed = await jobs(client, orgId);
    expect(listed.find((j) => j.jobId === source).rerunOf).toBeUndefined();
    expect(listed.find((j) => j.jobId === second).rerunOf).toEqual({ jobId: first, fromStep: "ship" });
  });

  it("reruns a job that continued as new from its latest run's data", async () => {
    const finish = await scenario("can-finish", [refused]);
    const looper = (last: unknown) =>
      workflow("looper", [
        step("work", transform, { config: { output: { i: { "+": [{ var: "workflowInput.i" }, 1] } } } }, { if: [{ "<": [{ var: "work.output.i" }, 3] }, "again", "finish"] }),
        step("again", again, { config: { nextStep: "work" } }),
        last,
      ]);
    const { client, orgId, ids } = await tenantWith(admin, looper(call("finish", finish)));
    const source = await submit(client, orgId, { workflowId: ids.looper, workflowVersion: { tag: "$LIVE" }, inputJson: { i: 0 } });
    expect((await waitForJob(client, orgId, source)).job).toMatchObject({ status: "FAILED", runNumber: 3, error: { stepName: "finish" } });
    const v2 = await deployWorkflow(client, orgId, looper(step("finish", transform, { config: { output: { total: { var: "workOutput.i" }, from: { var: "workflowInput.i" } } } })));
    const { jobId } = await client.expect(201, client.post(`/organizations/${orgId}/jobs/${source}/rerun`, { workflowVersion: { versionId: v2.versionId } }));
    const { job } = await waitForJob(client, orgId, jobId);
    // Run 3 began with workflowInput {i: 2} and computed work {i: 3}.
    expect(job).toMatchObject({ status: "SUCCEEDED", runNumber: 1, output: { total: 3, from: 2 }, billableTransactionUnits: 1 });
  });

  it("rebuilds a value that a run started with and overwrote later, for a job that rolled over at its history bound", async () => {
    const land = await scenario("roll-land", [refused]);
    // 100 ticks fill run 1's history (the pool's bound is 100); run 2 begins at the last tick, then lands.
    const ticker = (last: unknown) =>
      workflow(
        "ticker",
        [
          step("init", noop, { input: "workflowInput", output: "counter" }, "tick"),
          step("tick", transform, { input: "counter", output: "counter", config: { output: { n: { "-": [{ var: "previousStep.output.n" }, 1] } } } }, { if: [{ ">": [{ var: "tickOutput.n" }, 0] }, "tick", "land"] }),
          last,
        ],
        { workflowInput: { type: "object", required: ["n"] }, counter: { type: "object", properties: { n: { type: "integer" } }, required: ["n"] } },
      );
    const { client, orgId, ids } = await tenantWith(admin, ticker(call("land", land)));
    const source = await submit(client, orgId, { workflowId: ids.ticker, workflowVersion: { tag: "$LIVE" }, inputJson: { n: 100 } });
    const { job: failed } = await waitForJob(client, orgId, source, undefined, 30_000);
    expect(failed).toMatchObject({ status: "FAILED", runNumber: 2, error: { stepName: "land" } });
    expect((await state(client, orgId, source)).executionHistory.map((h: any) => h.stepName)).toEqual(["tick", "land"]);
    const v2 = await deployWorkflow(client, orgId, ticker(step("land", transform, { config: { output: { landedAt: { var: "tickOutput.n" }, before: { var: "previousStep.output.n" } } } })));
    // From run 2's only tick: its input is the tick before it, from run 1, which that tick then overwrote.
    const { jobId } = await client.expect(201, client.post(`/organizations/${orgId}/jobs/${source}/rerun`, { fromStep: "tick", workflowVersion: { versionId: v2.versionId } }));
    const { job } = await waitForJob(client, orgId, jobId);
    expect(job).toMatchObject({ status: "SUCCEEDED", output: { landedAt: 0, before: 0 }, billableTransactionUnits: 2 });
    const rerun = await state(client, orgId, jobId);
    expect(rerun.executionHistory.map((h: any) => [h.stepName, h.input])).toEqual([
      ["tick", { n: 1 }],
      ["land", { n: 0 }],
    ]);
  });

  it("rebuilds a fan-out's results a rolled-over run started with (received as a reference) after the run ran that step again", async () => {
    const land = await scenario("roll-kids-land", [refused]);
    const child = workflow("item", [step("echo", noop)]);
    const tick = { n: { if: [{ var: "tickOutput" }, { "-": [{ var: "tickOutput.n" }, 1] }, { "-": [{ var: "workflowInput.n" }, 1] }] } };
    // spawn, then 98 ticks: run 1 fills its history (the pool's bound is 100) with spawn and all but the
    // last; run 2 begins at the last tick, spawns again (replacing spawnOutput) and fails at land.
    const roller = (afterTicks: string, last: unknown) =>
      workflow("roller", [
        step("spawn", run, { config: { children: [{ workflowName: "item", workflowVersion: { tag: "$LIVE" }, forEach: { arrayPath: "workflowInput.items" } }] } }, { if: [{ "==": [{ var: "tickOutput.n" }, 0] }, "land", "tick"] }),
        step("tick", transform, { config: { output: tick } }, { if: [{ ">": [{ var: "tickOutput.n" }, 0] }, "tick", afterTicks] }),
        last,
      ]);
    const { client, orgId, ids } = await tenantWith(admin, child, roller("spawn", call("land", land)));
    const source = await submit(client, orgId, { workflowId: ids.roller, workflowVersion: { tag: "$LIVE" }, inputJson: { n: 98, items: [{ i: 1 }, { i: 2 }] } });
    const { job: failed } = await waitForJob(client, orgId, source, undefined, 30_000);
    expect(failed).toMatchObject({ status: "FAILED", runNumber: 2, error: { stepName: "land" } });
    const run2History = (await state(client, orgId, source)).executionHistory;
    expect(run2History.map((h: any) => h.stepName)).toEqual(["tick", "spawn", "land"]);
    // Attempt numbers go on across runs (spawn's second attempt of the job), while the console's words
    // place it in this run: its first iteration here, its first try of one allowed.
    expect(run2History[1]).toMatchObject({ stepName: "spawn", attempt: 2, iteration: 1, executionAttempt: 1, attemptsAllowed: 1 });
    const firstIds = (await client.expect(200, client.get(`/organizations/${orgId}/jobs/${source}/state?runNumber=1`))).state.executionData.spawnOutput.results.map((r: any) => r.jobId);
    const secondIds = (await state(client, orgId, source)).executionData.spawnOutput.results.map((r: any) => r.jobId);
    expect(firstIds).toHaveLength(2);
    expect(secondIds).toHaveLength(2);
    expect(secondIds.some((id: string) => firstIds.includes(id))).toBe(false);
    // Run 2 kept what it started with once it had received it: run 1's results as a reference to the
    // child rows it received with them, which its own second spawn (the next attempt number) left alone.
    const run2 = env.JOBS.get(env.JOBS.idFromName(runObjectName(source, 2))) as DurableObjectStub<JobObject>;
    const kept = await runInDurableObject(run2, (o: JobObject) => ({
      start: o.store.timeTravel.dataCells("start_data").get("spawnOutput")?.cell,
      first: o.store.children("spawn", 1).map((r) => r.jobId),
      second: o.store.children("spawn", 2).map((r) => r.jobId),
    }));
    expect(kept).toEqual({ start: { kind: "ref", ref: { children: { stepName: "spawn", attempt: 1, count: 2 } } }, first: firstIds, second: secondIds });

    // From run 2's tick (the data it started with): v2 lands after the ticks, reading the results run 2 began with.
    const v2 = await deployWorkflow(client, orgId, roller("land", step("land", transform, { config: { output: { ids: [{ var: "spawnOutput.results.0.jobId" }, { var: "spawnOutput.results.1.jobId" }], first: { var: "spawnOutput.results.0.output" } } } })));
    const { jobId } = await client.expect(201, client.post(`/organizations/${orgId}/jobs/${source}/rerun`, { fromStep: "tick", workflowVersion: { versionId: v2.versionId } }));
    const { job, childJobs } = await waitForJob(client, orgId, jobId);
    expect(job).toMatchObject({ status: "SUCCEEDED", output: { ids: firstIds, first: { i: 1 } }, billableTransactionUnits: 2 });
    expect(childJobs).toBeUndefined();
  });

  it("copies a runChildJob result with the child rows it is built from, and runs no child again", async () => {
    const item = await scenario("kids-item");
    const after = await scenario("kids-after", [refused]);
    const child = workflow("item", [call("work", item)]);
    const parent = (last: unknown) =>
      workflow("parent", [
        step("spawn", run, { config: { children: [{ workflowName: "item", workflowVersion: { tag: "$LIVE" }, forEach: { arrayPath: "workflowInput.items" } }] } }, "after"),
        last,
      ]);
    const { client, orgId, ids } = await tenantWith(admin, child, parent(call("after", after)));
    const items = [{ i: 1 }, { i: 2 }, { i: 3 }];
    const source = await submit(client, orgId, { workflowId: ids.parent, workflowVersion: { tag: "$LIVE" }, inputJson: { items } });
    expect((await waitForJob(client, orgId, source)).job).toMatchObject({ status: "FAILED", error: { stepName: "after" } });
    const sourceResults = (await state(client, orgId, source)).executionData.spawnOutput;
    expect(sourceResults.results).toHaveLength(3);
    const v2 = await deployWorkflow(client, orgId, parent(step("after", transform, { config: { output: { ok: { var: "spawnOutput.succeeded" }, first: { var: "spawnOutput.results.0.output" } } } })));

    const { jobId } = await client.expect(201, client.post(`/organizations/${orgId}/jobs/${source}/rerun`, { workflowVersion: { versionId: v2.versionId } }));
    const { job, childJobs } = await waitForJob(client, orgId, jobId);
    expect(job).toMatchObject({ status: "SUCCEEDED", output: { ok: 3, first: { i: 1 } }, billableTransactionUnits: 1 });
    expect(childJobs).toBeUndefined();
    expect((await seen(item)).length).toBe(3);
    expect((await state(client, orgId, jobId)).executionData.spawnOutput).toEqual(sourceResults);
    // Stored as a reference to copied rows, as in the source: one row per child, no units of theirs.
    const rows = await runInDurableObject(stub(jobId), (o: JobObject) => o.store.children("spawn", 1));
    expect(rows.map((r) => [r.jobId, r.status, r.units])).toEqual(sourceResults.results.map((r: any) => [r.jobId, "SUCCEEDED", 0]));
    // Copied in ranges bounded by count and by bytes (shown at small bounds; the real ones are in limits.ts).
    const ranges = await runInDurableObject(stub(source), (o: JobObject) => {
      const copy = o.store.childRows;
      return [copy.copyRanges("spawn", 1, 1_000_000, 2), copy.copyRanges("spawn", 1, 1, 100)];
    });
    expect(ranges).toEqual([
      [{ fromIndex: 0, toIndex: 1 }, { fromIndex: 2, toIndex: 2 }],
      [{ fromIndex: 0, toIndex: 0 }, { fromIndex: 1, toIndex: 1 }, { fromIndex: 2, toIndex: 2 }],
    ]);
  });

  it("checks a copied fan-out's results over the payload limit only where a schema must read them, and refuses that with 400", async () => {
    // Four children echo 300 KB each: 1.2 MB of results, over MAX_PAYLOAD_BYTES, kept by reference.
    const chunk = workflow("chunk", [step("echo", transform, { config: { output: { pad: { var: "workflowInput.pad" } } } })]);
    const four = { children: ["a", "b", "c", "d"].map((id) => ({ id, workflowName: "chunk", workflowVersion: { tag: "$LIVE" } })) };
    const land = await scenario("wide-land", [refused]);
    const wide = (output: string) => workflow("wide", [step("fan", run, { config: four, output }, "land"), call("land", land)], { strict: { type: "object", required: ["results"] } });
    const { client, orgId, ids } = await tenantWith(admin, chunk, wide("any"));
    const source = await submit(client, orgId, { workflowId: ids.wide, workflowVersion: { tag: "$LIVE" }, inputJson: { pad: "q".repeat(300_000) } });
    const { job: failed } = await waitForJob(client, orgId, source, undefined, 60_000);
    expect(failed).toMatchObject({ status: "FAILED", error: { stepName: "land" } });
    const strict = await deployWorkflow(client, orgId, wide("strict"));
    const refusedRerun = await client.expect(400, client.post(`/organizations/${orgId}/jobs/${source}/rerun`, { workflowVersion: { versionId: strict.versionId } }));
    expect(refusedRerun.errors).toEqual([expect.stringMatching(/^step "fan", its output \(fanOutput\): PAYLOAD_TOO_LARGE: .* is more than \d+ bytes of JSON/)]);
    // The version it ran (a schema that accepts any value) reads none of them: copied by reference.
    const { jobId } = await client.expect(201, client.post(`/organizations/${orgId}/jobs/${source}/rerun`, { workflowVersion: { versionId: failed.workflowVersion.versionId } }));
    expect((await waitForJob(client, orgId, jobId, undefined, 60_000)).job).toMatchObject({ status: "FAILED", error: { stepName: "land" }, billableTransactionUnits: 1 });
  });

  it("copies values in several bounded pages", async () => {
    // Five outputs of 900 KB (and each next step's input): about 10 MB of data, three pages of 4 MiB.
    const big = "x".repeat(900 * 1024);
    const steps = ["a", "b", "c", "d", "e"].map((name, i, all) => step(name, transform, { config: { output: { [name]: { var: "workflowInput.big" } } } }, all[i + 1] ?? "fail"));
    const failing = await scenario("pages-fail", [refused]);
    const { client, orgId, ids } = await tenantWith(admin, workflow("pages", [...steps, call("fail", failing)]));
    const source = await submit(client, orgId, { workflowId: ids.pages, workflowVersion: { tag: "$LIVE" }, inputJson: { big } });
    const { job: failed } = await waitForJob(client, orgId, source);
    const version = await client.expect(200, client.get(`/organizations/${orgId}/workflows/${ids.pages}/versions/${failed.workflowVersion.versionId}`));
    const plan = await stub(source).planRerun(orgId, { target: { versionId: version.versionId, versionNumber: 1, definition: version.definition }, replacesInput: false });
    if (!plan.ok || !("plan" in plan.value)) throw new Error(JSON.stringify(plan));
    expect(plan.value.plan.pages.filter((p) => "values" in p).length).toBe(3);
    // The far end now answers: the rerun's fail step succeeds.
    await fetch(`${fakeOrigin()}/__scenario/${encodeURIComponent(failing)}`, { method: "PUT", body: JSON.stringify({ replies: [{ json: { ok: true } }] }) });
    const { jobId } = await client.expect(201, client.post(`/organizations/${orgId}/jobs/${source}/rerun`, {}));
    const { job } = await waitForJob(client, orgId, jobId);
    expect(job).toMatchObject({ status: "SUCCEEDED", output: { ok: true } });
    // Each value is over GetWorkflowState's share (a marker there): read it whole where the marker points.
    for (const name of ["a", "b", "c", "d", "e"]) {
      const { value } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state/data/${name}Output`));
      expect(value[name]).toHaveLength(big.length);
    }
  });
});

describe("the copy's requests and writes", () => {
  it("writes a copied 1 MiB value and child row without binding a string over 2 MB (Cloudflare refuses one; local workerd does not)", async () => {
    // 500,000 backslashes are 1,000,000 characters of JSON, and twice that escaped into a bulk array.
    const json = JSON.stringify({ s: "\\".repeat(500_000) });
    const largest = await runInDurableObject(stub(crypto.randomUUID()), (o: JobObject, ctx) => {
      const sql = ctx.storage.sql as unknown as { exec: (...args: unknown[]) => unknown };
      const real = sql.exec.bind(sql);
      let most = 0;
      sql.exec = (...args: unknown[]) => {
        for (const a of args.slice(1)) if (typeof a === "string") most = Math.max(most, new TextEncoder().encode(a).byteLength);
        return real(...args);
      };
      o.store.timeTravel.writeData([{ key: "big", json }], []);
      o.store.timeTravel.writeChildRows([
        { job_id: crypto.randomUUID(), step: "fan", step_attempt: 1, idx: 0, key: "0", spec: "{}", status: "SUCCEEDED", workflow_name: "item", output: json, error: null },
      ]);
      sql.exec = real;
      return { most, value: o.store.data("big"), child: o.store.children("fan", 1)[0]?.output };
    });
    expect(largest.most).toBeGreaterThan(1_000_000);
    expect(largest.most).toBeLessThan(2_000_000);
    expect(largest.value).toEqual({ value: JSON.parse(json), json });
    expect(largest.child).toEqual(JSON.parse(json));
  });

  it(`holds at most ${RERUN_COPY_PAGE_ROWS} child rows and about ${RERUN_COPY_PAGE_BYTES} bytes per request`, async () => {
    const rowsOf = (n: number, output: string) =>
      Array.from({ length: n }, (_, i) => ({
        job_id: crypto.randomUUID(),
        step: "fan",
        step_attempt: 1,
        idx: i,
        key: String(i),
        spec: "{}",
        status: "SUCCEEDED",
        workflow_name: "item",
        output,
        error: null,
      }));
    const ranges = await runInDurableObject(stub(crypto.randomUUID()), (o: JobObject) => {
      const copy = o.store.timeTravel;
      copy.writeChildRows(rowsOf(RERUN_COPY_PAGE_ROWS + 1, "{}"));
      const byCount = o.store.childRows.copyRanges("fan", 1, RERUN_COPY_PAGE_BYTES, RERUN_COPY_PAGE_ROWS);
      copy.clearCopy();
      copy.writeChildRows(rowsOf(5, JSON.stringify("x".repeat(900 * 1024))));
      return { byCount, byBytes: o.store.childRows.copyRanges("fan", 1, RERUN_COPY_PAGE_BYTES, RERUN_COPY_PAGE_ROWS) };
    });
    expect(ranges.byCount).toEqual([
      { fromIndex: 0, toIndex: RERUN_COPY_PAGE_ROWS - 1 },
      { fromIndex: RERUN_COPY_PAGE_ROWS, toIndex: RERUN_COPY_PAGE_ROWS },
    ]);
    expect(ranges.byBytes).toEqual([
      { fromIndex: 0, toIndex: 3 },
      { fromIndex: 4, toIndex: 4 },
    ]);
  });
});

describe("RerunJobs", () => {
  /** Polls until every source has heard of its rerun (the rerun tells it from its alarm). */
  async function sourcesKnowTheirReruns(sources: string[]): Promise<void> {
    for (let i = 0; i < 400; i++) {
      const known = await Promise.all(sources.map((id) => runInDurableObject(stub(id), (o: JobObject) => o.store.timeTravel.rerunMade() !== undefined)));
      if (known.every(Boolean)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error("a source never heard of its rerun");
  }

  it("reruns every FAILED job of a workflow on the new version, newest first; asked again, reruns nothing twice", async () => {
    const o = await orders("bulk");
    const other = workflow("other", [step("boom", transform, { output: "never", config: { output: { x: 1 } } })], { never: { type: "string" } });
    const { client, orgId, ids } = await tenantWith(admin, o.v1, other);
    const sources: string[] = [];
    for (const sku of ["A", "B", "C"]) sources.unshift(await submit(client, orgId, { workflowId: ids.order, workflowVersion: { tag: "$LIVE" }, inputJson: { sku } }));
    const otherJob = await submit(client, orgId, { workflowId: ids.other, workflowVersion: { tag: "$LIVE" } });
    for (const id of [...sources, otherJob]) expect((await waitForJob(client, orgId, id)).job.status).toBe("FAILED");
    const v2 = await deployWorkflow(client, orgId, o.v2);

    // One source is rerun first by RerunJob, with a new input: RerunJobs answers that rerun for it.
    const { jobId: byHand } = await client.expect(201, client.post(`/organizations/${orgId}/jobs/${sources[0]}/rerun`, { workflowVersion: { versionId: v2.versionId }, inputJson: { sku: "C" } }));
    await sourcesKnowTheirReruns([sources[0]!]);
    const body = { filter: { workflowName: "order", status: "FAILED" }, workflowVersion: { versionNumber: v2.versionNumber } };
    const { results } = await client.expect(200, client.post(`/organizations/${orgId}/jobs/rerun`, body));
    expect(results.map((r: any) => r.sourceJobId)).toEqual(sources);
    expect(results[0].jobId).toBe(byHand);
    for (const [i, r] of results.entries()) {
      const { job } = await waitForJob(client, orgId, r.jobId);
      expect(job).toMatchObject({ status: "SUCCEEDED", rerunOf: { jobId: sources[i], fromStep: "ship" }, workflowVersion: { versionNumber: 2 } });
    }
    expect((await seen(o.ids.charge)).length).toBe(3);
    expect((await seen(o.ids.ship)).length).toBe(3);
    const listed = (await jobs(client, orgId)).length;
    expect(listed).toBe(7);

    // Again, by id this time: the same reruns answer, nothing starts.
    const again = await client.expect(200, client.post(`/organizations/${orgId}/jobs/rerun`, { ...body, filter: { workflowId: ids.order, status: "FAILED" } }));
    expect(again.results).toEqual(results);
    expect((await jobs(client, orgId)).length).toBe(listed);
    // Onto yet another version: each source was carried on by its rerun, which is the one to rerun.
    await sourcesKnowTheirReruns(sources);
    const v3 = await deployWorkflow(client, orgId, o.v2);
    const third = await client.expect(200, client.post(`/organizations/${orgId}/jobs/rerun`, { ...body, workflowVersion: { versionId: v3.versionId }, maxJobs: 2 }));
    expect(third.results).toEqual(
      sources.slice(0, 2).map((sourceJobId, i) => ({ sourceJobId, error: { code: "ConflictError", message: expect.stringContaining(`rerun as job ${results[i].jobId}`) } })),
    );
    expect((await seen(o.ids.charge)).length).toBe(3);
  });

  it("spreads more sources than one object reruns over several, one result each, in order", async () => {
    const broken = workflow("tiny", [step("only", transform, { output: "text", config: { output: { n: { var: "workflowInput.n" } } } })], { text: { type: "string" } });
    const fixed = workflow("tiny", [step("only", transform, { config: { output: { n: { var: "workflowInput.n" } } } })]);
    const { client, orgId, ids } = await tenantWith(admin, broken);
    const count = RERUN_SOURCES_PER_OBJECT + 1;
    const batch = await client.expect(200, client.post(`/organizations/${orgId}/jobs/batch`, { jobs: Array.from({ length: count }, (_, n) => ({ workflowId: ids.tiny, workflowVersion: { tag: "$LIVE" }, inputJson: { n } })) }));
    const sourceIds: string[] = batch.results.map((r: any) => r.jobId);
    for (const id of sourceIds) expect((await waitForJob(client, orgId, id)).job.status).toBe("FAILED");
    await deployWorkflow(client, orgId, fixed);
    const { results } = await client.expect(200, client.post(`/organizations/${orgId}/jobs/rerun`, { filter: { workflowId: ids.tiny, status: "FAILED" }, workflowVersion: { tag: "$LIVE" }, maxJobs: count }));
    const newestFirst = (await jobs(client, orgId)).filter((j) => j.status === "FAILED").map((j) => j.jobId);
    expect(results.map((r: any) => r.sourceJobId)).toEqual(newestFirst);
    expect(new Set(results.map((r: any) => r.jobId)).size).toBe(count);
    const outputs = await Promise.all(results.map(async (r: any) => (await waitForJob(client, orgId, r.jobId)).job.output.n));
    expect(outputs.sort((a, b) => a - b)).toEqual(Array.from({ length: count }, (_, n) => n));
    // One object handed all of them splits them among objects of its own: the same answers, nothing new.
    const listed = (await jobs(client, orgId)).length;
    const versionId = (await waitForJob(client, orgId, results[0].jobId)).job.workflowVersion.versionId;
    const byOne = await env.RERUN_BATCHES.get(env.RERUN_BATCHES.newUniqueId()).rerun({
      organizationId: orgId,
      submittedByUser: "tests",
      workflowId: ids.tiny!,
      versionId,
      sources: newestFirst.map((jobId) => ({ jobId, versionId })),
    });
    expect(byOne).toEqual(results);
    expect((await jobs(client, orgId)).length).toBe(listed);
  });

  it("refuses a bad request before rerunning anything", async () => {
    const o = await orders("bulk-bad");
    const { client, orgId, ids } = await tenantWith(admin, o.v1);
    const path = `/organizations/${orgId}/jobs/rerun`;
    const filter = { workflowId: ids.order, status: "FAILED" };
    expect((await client.post(path, { filter, maxJobs: MAX_RERUN_JOBS + 1 })).status).toBe(400);
    expect((await client.post(path, { filter: { ...filter, workflowName: "order" } })).status).toBe(400);
    expect((await client.post(path, { filter: { ...filter, status: "RUNNING" } })).status).toBe(400);
    expect((await client.post(path, { filter: { workflowName: "nope", status: "FAILED" } })).status).toBe(404);
    expect((await client.post(path, { filter, workflowVersion: { versionNumber: 5 } })).status).toBe(404);
    expect(await client.expect(200, client.post(path, { filter, maxJobs: MAX_RERUN_JOBS }))).toEqual({ results: [] });
  });
});
