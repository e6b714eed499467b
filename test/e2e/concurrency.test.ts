// Concurrency over real HTTP: 200 submissions at once, and 500 events (plus duplicates) at once to one
// job. Every acknowledged request takes effect exactly once, and nothing answers 500.
import { beforeAll, describe, expect, it } from "vitest";
import { deployWorkflow, newTenant, type ApiResponse } from "../helpers/client";
import { step, submit, waitForJob, workflow } from "../helpers/jobs";
import { countJobs, getJobs, listAllJobs, printServerLogsOnFailure, waitForCount } from "./jobs";
import { SharedServer } from "./shared-server";

const SUBMISSIONS = 200;
const EVENTS = 500;
const DUPLICATED = 100;

const quick = workflow("quick", [step("one", "/justworkflowit/noop", {}, "two"), step("two", "/justworkflowit/noop")]);
const eventIds = Array.from({ length: EVENTS }, (_, i) => `e-${i}`);
const gather = workflow("gather", [step("collect", "/justworkflowit/waitForEventIds", { config: { eventIds } })]);

/** No answer may be a 5xx; the message shows the first one. */
function expectNo5xx(responses: ApiResponse[]): void {
  const bad = responses.find((r) => r.status >= 500);
  expect(bad, bad && `HTTP ${bad.status}: ${JSON.stringify(bad.body)}`).toBeUndefined();
}

describe("concurrent requests", () => {
  const server = new SharedServer();
  beforeAll(() => server.connect());
  printServerLogsOnFailure(server);

  it("accepts 200 concurrent submissions, each once, and runs every one to the end", async () => {
    const { orgId, client } = await newTenant(server.admin);
    const { workflowId } = await deployWorkflow(client, orgId, quick);
    const body = (i: number) => ({ workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: { i } });
    // A tenth of them share one idempotency key: together they make one job.
    const responses = await Promise.all(
      Array.from({ length: SUBMISSIONS }, (_, i) =>
        client.post(`/organizations/${orgId}/jobs`, i % 10 === 0 ? { ...body(i), idempotencyKey: "same-order" } : body(i)),
      ),
    );
    expectNo5xx(responses);
    expect(responses.map((r) => r.status)).toEqual(responses.map(() => 200));
    const keyed = new Set(responses.filter((_, i) => i % 10 === 0).map((r) => r.body.jobId));
    expect(keyed.size).toBe(1);
    const jobIds = [...new Set(responses.map((r) => r.body.jobId as string))];
    expect(jobIds).toHaveLength(SUBMISSIONS - SUBMISSIONS / 10 + 1);

    await waitForCount(client, orgId, { status: "SUCCEEDED" }, jobIds.length, 120_000);
    expect(await countJobs(client, orgId)).toBe(jobIds.length);
    expect((await listAllJobs(client, orgId)).map((j) => j.jobId).sort()).toEqual([...jobIds].sort());
    for (const { job } of await getJobs(client, orgId, jobIds)) {
      expect(job.status).toBe("SUCCEEDED");
      expect(job.billableTransactionUnits).toBe(2);
    }
  });

  it("applies 500 concurrent events to one job once each, and a duplicated event id once", async () => {
    const { orgId, client } = await newTenant(server.admin);
    const { workflowId } = await deployWorkflow(client, orgId, gather);
    const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" } });
    const path = `/organizations/${orgId}/jobs/${jobId}/events`;
    // Every event once with payload {k<i>: "a"}, and the first 100 a second time with "b", all at once.
    const sends = [
      ...eventIds.map((eventId, i) => ({ eventId, payload: { [`k${i}`]: "a" } })),
      ...eventIds.slice(0, DUPLICATED).map((eventId, i) => ({ eventId, payload: { [`k${i}`]: "b" } })),
    ];
    const responses = await Promise.all(sends.map((e) => client.post(path, e)));
    expectNo5xx(responses);
    expect(responses.filter((r) => r.status !== 200).map((r) => `${r.status} ${JSON.stringify(r.body)}`)).toEqual([]);
    expect(responses.map((r) => r.body.eventId)).toEqual(sends.map((e) => e.eventId));

    const { job } = await waitForJob(client, orgId, jobId, undefined, 60_000);
    expect(job.status).toBe("SUCCEEDED");
    const { state } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state`));
    const received = state.executionHistory.filter((h: any) => h.historySource === "external");
    // One history item per event id, whichever of its duplicates came first.
    expect(received.map((h: any) => h.eventId).sort()).toEqual([...eventIds].sort());
    const kept = new Map<string, any>(received.map((h: any) => [h.eventId, h.output.payload]));
    // The output merges exactly the payloads that were recorded, in the wait's list order.
    const expected = Object.assign({}, ...eventIds.map((id) => kept.get(id)));
    expect(job.output).toEqual(expected);
    expect(Object.keys(job.output)).toHaveLength(EVENTS);
    for (let i = 0; i < EVENTS; i++) expect(i < DUPLICATED ? ["a", "b"] : ["a"]).toContain(job.output[`k${i}`]);
    expect(state.executionHistory.filter((h: any) => h.historySource === "engine")).toHaveLength(1);
    expect(job.billableTransactionUnits).toBe(1);
  });
});
