/**
 * A runChildJob step's results may be far larger than one value (they are assembled from the
 * children's rows), but no answer, message or read is: GetJob leaves a large output out and says
 * where to read it, GetWorkflowState shows markers for large values, both are read page by page,
 * a step that must read results over the payload limit fails without assembling them, and a
 * parent applies its children's reports in batches bounded by bytes.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { tenantWith } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import type { JobObject } from "../../../src/job/job-object";
import { ANSWER_DATA_BYTES, ANSWER_VALUE_SHARE_BYTES, INBOX_BATCH, INBOX_BATCH_BYTES, MAX_ANSWER_BYTES, MAX_PAYLOAD_BYTES } from "../../../src/limits";

const run = "/justworkflowit/runChildJob";
const transform = "/canopy/transform";
const noop = "/justworkflowit/noop";
const waitEvents = "/justworkflowit/waitForEventIds";

const stub = (jobId: string): DurableObjectStub<JobObject> => env.JOBS.get(env.JOBS.idFromName(jobId));
const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value)).byteLength;

/** A child that returns its 300 KB input; four of them make 1.2 MB of results. */
const chunk = workflow("chunk", [step("echo", transform, { config: { output: { pad: { var: "workflowInput.pad" } } } })]);
const four = { children: ["a", "b", "c", "d"].map((id) => ({ id, workflowName: "chunk", workflowVersion: { tag: "$LIVE" } })) };
const pad = "q".repeat(300_000);

/** Reads every page of a value at `path`; returns the pages' bodies. */
async function pages(client: any, path: string): Promise<any[]> {
  const out: any[] = [];
  let token: string | undefined;
  do {
    const res = await client.get(`${path}${token ? `&pageToken=${token}` : ""}`);
    expect(res.status).toBe(200);
    expect(JSON.stringify(res.body).length).toBeLessThanOrEqual(MAX_ANSWER_BYTES + 16 * 1024);
    out.push(res.body);
    token = res.body.nextPageToken;
  } while (token);
  return out;
}

describe("a runChildJob step's results over the payload limit", () => {
  it("succeed by reference; GetJob leaves the output out and says where to read it page by page", async () => {
    const wide = workflow("wide", [step("fan", run, { config: four }, "after"), step("after", noop)]);
    const { client, orgId, ids } = await tenantWith(admin, chunk, wide);
    const jobId = await submit(client, orgId, { workflowId: ids.wide, workflowVersion: { tag: "$LIVE" }, inputJson: { pad } });
    const got = await waitForJob(client, orgId, jobId, undefined, 60_000);
    expect(JSON.stringify(got).length).toBeLessThan(64 * 1024);
    const { job } = got;
    expect(job.status).toBe("SUCCEEDED");
    expect(job.output).toBeUndefined();
    expect(job.outputTooLarge).toEqual({
      bytes: expect.any(Number),
      executionDataKey: "afterOutput",
      read: `/organizations/${orgId}/jobs/${jobId}/state/data/afterOutput?runNumber=1`,
    });
    expect(job.outputTooLarge.bytes).toBeGreaterThan(MAX_PAYLOAD_BYTES);

    const read = await pages(client, job.outputTooLarge.read);
    expect(read.length).toBeGreaterThan(1);
    const results = read.flatMap((p) => p.value.results);
    expect(results.map((r: any) => [r.id, r.status, r.output.pad.length])).toEqual(["a", "b", "c", "d"].map((id) => [id, "SUCCEEDED", pad.length]));
    for (const p of read) expect(p.value).toMatchObject({ succeeded: 4, failed: 0 });
    // The size GetJob gave is the exact size of the whole output.
    expect(job.outputTooLarge.bytes).toBe(bytes({ results, succeeded: 4, failed: 0 }));

    // GetWorkflowState: one answer of about 1 MiB at most, large values as markers, each readable.
    const res = await client.get(`/organizations/${orgId}/jobs/${jobId}/state`);
    expect(res.status).toBe(200);
    expect(JSON.stringify(res.body).length).toBeLessThanOrEqual(MAX_ANSWER_BYTES + 16 * 1024);
    const { state, omittedValues } = res.body;
    expect(state.executionData.fanOutput).toEqual({ canopyOmitted: { bytes: job.outputTooLarge.bytes, read: `/organizations/${orgId}/jobs/${jobId}/state/data/fanOutput?runNumber=1` } });
    expect(state.executionData.workflowInput.canopyOmitted.bytes).toBe(bytes({ pad }));
    expect(omittedValues).toEqual(expect.arrayContaining(["executionData.fanOutput", "executionData.workflowInput", "executionHistory.0.output.payload"]));
    const fanItem = state.executionHistory[0];
    expect(fanItem).toMatchObject({ stepName: "fan", output: { status: "success", payload: { canopyOmitted: { bytes: job.outputTooLarge.bytes } } } });
    const fromHistory = await pages(client, fanItem.output.payload.canopyOmitted.read);
    expect(fromHistory.flatMap((p) => p.value.results)).toEqual(results);
    const input = await client.expect(200, client.get(state.executionData.workflowInput.canopyOmitted.read));
    expect(input).toEqual({ value: { pad } });

    // The metadata's size is that of the whole state, summed without assembling it.
    const whole = {
      state: {
        executionData: { workflowInput: { pad }, fanInput: { pad }, fanOutput: { results, succeeded: 4, failed: 0 }, afterInput: 0, afterOutput: 0 },
        executionHistory: [] as unknown[],
      },
    };
    whole.state.executionData.afterInput = whole.state.executionData.fanOutput as never;
    whole.state.executionData.afterOutput = whole.state.executionData.fanOutput as never;
    let token: string | undefined;
    do {
      const page = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state${token ? `?pageToken=${token}` : ""}`));
      whole.state.executionHistory.push(...page.state.executionHistory);
      token = page.nextPageToken;
    } while (token);
    expect(whole.state.executionHistory.map((h: any) => h.stepName)).toEqual(["fan", "after"]);
    (whole.state.executionHistory[0] as any).input = { pad };
    (whole.state.executionHistory[0] as any).output.payload = whole.state.executionData.fanOutput;
    (whole.state.executionHistory[1] as any).input = whole.state.executionData.fanOutput;
    (whole.state.executionHistory[1] as any).output.payload = whole.state.executionData.fanOutput;
    const meta = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state/metadata`));
    expect(meta.contentLengthBytes).toBe(bytes(whole));

    // A child's GetJob names its parent without reading the parent's output.
    await runInDurableObject(stub(jobId), (instance: object) => {
      (instance as { outputView: () => never }).outputView = () => {
        throw new Error("the parent's output was read");
      };
    });
    const child = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${results[0].jobId}`));
    expect(child.parentJob).toMatchObject({ jobId, status: "SUCCEEDED", stepName: "fan" });
  }, 90_000);

  it("fail a step whose schema must read them with PAYLOAD_TOO_LARGE, counted as they are read", async () => {
    const strict = workflow("strictWide", [step("fan", run, { config: four }, "check"), step("check", noop, { input: "needsResults" })], {
      needsResults: { type: "object", required: ["results"] },
    });
    const { client, orgId, ids } = await tenantWith(admin, chunk, strict);
    const jobId = await submit(client, orgId, { workflowId: ids.strictWide, workflowVersion: { tag: "$LIVE" }, inputJson: { pad } });
    const { job } = await waitForJob(client, orgId, jobId, undefined, 60_000);
    expect(job).toMatchObject({ status: "FAILED", error: { code: "PAYLOAD_TOO_LARGE", stepName: "check" } });
    expect(job.error.message).toMatch(/^Execution data "checkInput" is more than \d+ bytes of JSON \(at least \d+ counted before reading stopped\)/);
    // It stopped at the first child past the limit: four of 300 KB pass 1 MiB at the fourth.
    const counted = Number(/at least (\d+)/.exec(job.error.message)![1]);
    expect(counted).toBeGreaterThan(MAX_PAYLOAD_BYTES);
    expect(counted).toBeLessThan(MAX_PAYLOAD_BYTES + 320_000);
  }, 90_000);
});

describe("a parent's inbox", () => {
  it("applies children's reports in batches of at most INBOX_BATCH_BYTES, and all of them in the end", async () => {
    const held = workflow("heldChild", [step("hold", waitEvents, { config: { eventIds: ["go"] } })]);
    const parent = workflow("inboxParent", [step("spawn", run, { config: { children: [1, 2, 3, 4, 5, 6].map((i) => ({ id: `c${i}`, workflowName: "heldChild", workflowVersion: { tag: "$LIVE" } })) } })]);
    const { client, orgId, ids } = await tenantWith(admin, held, parent);
    const jobId = await submit(client, orgId, { workflowId: ids.inboxParent, workflowVersion: { tag: "$LIVE" } });
    let children: string[] = [];
    for (let i = 0; i < 200 && children.length < 6; i++) {
      children = await runInDurableObject(stub(jobId), (o: JobObject) => o.store.children("spawn", 1).filter((c) => c.status === "STARTING").map((c) => c.jobId));
      if (children.length < 6) await new Promise((r) => setTimeout(r, 25));
    }
    // Six reports of ~900 KB arrive at once: the parent reads them a few MiB at a time.
    const big = "r".repeat(900_000);
    const report = (i: number) => ({ childJobId: children[i]!, workflowName: "heldChild", status: "SUCCEEDED" as const, units: 1, output: { i, big } });
    const batch = Math.floor(INBOX_BATCH_BYTES / bytes(report(0)));
    expect(batch).toBe(4);
    const read = await runInDurableObject(stub(jobId), async (o: JobObject) => {
      for (const i of children.keys()) await o.receiveChildReport(report(i));
      // In the same event as the receipt, so no alarm has applied any yet.
      return [o.store.queue.inbox(INBOX_BATCH, Number.MAX_SAFE_INTEGER).length, o.store.queue.inbox(INBOX_BATCH, INBOX_BATCH_BYTES).length];
    });
    expect(read).toEqual([6, batch]);
    const { job } = await waitForJob(client, orgId, jobId);
    expect(job).toMatchObject({ status: "SUCCEEDED", outputTooLarge: { executionDataKey: "spawnOutput" } });
    expect(job.outputTooLarge.bytes).toBeGreaterThan(6 * 900_000);
    for (const c of children) await client.post(`/organizations/${orgId}/jobs/${c}/cancel`);
  }, 60_000);

  it("shows a state whose values fit the share whole, without markers", async () => {
    const small = workflow("smallState", [step("echo", transform, { config: { output: { pad: { var: "workflowInput.pad" } } } })]);
    const { client, orgId, ids } = await tenantWith(admin, small);
    const fits = "s".repeat(ANSWER_VALUE_SHARE_BYTES - 10);
    const jobId = await submit(client, orgId, { workflowId: ids.smallState, workflowVersion: { tag: "$LIVE" }, inputJson: { pad: fits } });
    await waitForJob(client, orgId, jobId);
    const body = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state`));
    expect(body.omittedValues).toBeUndefined();
    expect(body.nextPageToken).toBeUndefined();
    expect(body.state.executionData.workflowInput).toEqual({ pad: fits });
    expect(body.state.executionHistory[0].output.payload).toEqual({ pad: fits });
    const meta = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state/metadata`));
    expect(meta.contentLengthBytes).toBe(bytes({ state: body.state }));
  });

  it("shows execution data whole up to ANSWER_DATA_BYTES, and markers for the values past it", async () => {
    // workflowInput and five noop steps' inputs and outputs: eleven values of 60 KB, 660 KB in all.
    const steps = [1, 2, 3, 4, 5].map((i) => step(`s${i}`, noop, {}, i < 5 ? `s${i + 1}` : null));
    const { client, orgId, ids } = await tenantWith(admin, workflow("manyValues", steps));
    const jobId = await submit(client, orgId, { workflowId: ids.manyValues, workflowVersion: { tag: "$LIVE" }, inputJson: { pad: "v".repeat(60_000) } });
    await waitForJob(client, orgId, jobId);
    const body = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state`));
    const entries = Object.entries(body.state.executionData) as [string, any][];
    expect(entries).toHaveLength(11);
    const shown = entries.filter(([, v]) => !v.canopyOmitted);
    const marked = entries.filter(([, v]) => v.canopyOmitted);
    expect(shown.reduce((n, [, v]) => n + bytes(v), 0)).toBeLessThanOrEqual(ANSWER_DATA_BYTES);
    expect(shown.length).toBe(Math.floor(ANSWER_DATA_BYTES / bytes({ pad: "v".repeat(60_000) })));
    expect(marked.length).toBe(11 - shown.length);
    expect(body.omittedValues).toEqual(expect.arrayContaining(marked.map(([k]) => `executionData.${k}`)));
    for (const [, v] of marked) expect(await client.expect(200, client.get(v.canopyOmitted.read))).toEqual({ value: { pad: "v".repeat(60_000) } });
  });
});
