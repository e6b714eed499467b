/**
 * What an operator reads to answer "what failed, why, and what is it waiting for" (the console's
 * step inspector, its pending-state line and its job list), through the HTTP API: a failed
 * attempt's answer in its history (bounded, secrets replaced), attempts told apart from loop
 * iterations, the step a job was cancelled at, GetJob's `waitingFor`, where a job came from, and
 * the ListJobs extensions the console pages and searches with.
 */
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { deployWorkflow, newTenant, tenantWith, type TestClient } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { createTrigger, postHook, standardHeaders } from "../../helpers/webhooks";
import { admin, anonymous } from "../../helpers/workerd";
import { MAX_FAILED_ATTEMPT_PAYLOAD_BYTES } from "../../../src/limits";
import { fakeOrigin, scenario } from "../integrations/fake";

const http = "/canopy/http";
const noop = "/justworkflowit/noop";
const transform = "/canopy/transform";
const waitEvents = "/justworkflowit/waitForEventIds";
const runChild = "/justworkflowit/runChildJob";
const delay = "/canopy/delay";

type Tenant = { client: TestClient; orgId: string };

const charged = { type: "object", required: ["charged", "amount"], properties: { charged: { type: "boolean" }, amount: { type: "number" } } };

async function history(t: Tenant, jobId: string): Promise<any[]> {
  return (await t.client.expect(200, t.client.get(`/organizations/${t.orgId}/jobs/${jobId}/state`))).state.executionHistory;
}

async function run(t: Tenant, def: { workflowName: string } & Record<string, unknown>, input: unknown = {}) {
  const { workflowId } = await deployWorkflow(t.client, t.orgId, def);
  const jobId = await submit(t.client, t.orgId, { workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: input });
  const { job } = await waitForJob(t.client, t.orgId, jobId, undefined, 30_000);
  return { job, jobId, history: await history(t, jobId) };
}

describe("a failed attempt's history keeps the answer that failed it", () => {
  it("the response that broke the output schema, with its status code, as the failed attempt's payload", async () => {
    const t = await newTenant(admin);
    const id = await scenario("schema", [{ json: { charged: "yes", amount: "twelve" } }]);
    const def = workflow("charge", [step("charge", http, { output: "charged", config: { url: `${fakeOrigin()}/s/${id}` } })], { charged });
    const { job, history: items } = await run(t, def, { orderId: 7 });
    expect(job).toMatchObject({ status: "FAILED", error: { code: "OutputValidationError", stepName: "charge" } });
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({
      stepName: "charge",
      input: { orderId: 7 },
      output: { status: "failure", payload: { charged: "yes", amount: "twelve" } },
      statusCode: 200,
      executionAttempt: 1,
      attemptsAllowed: 1,
      iteration: 1,
    });
    expect(items[0].errors[0]).toMatch(/^OutputValidationError: .*charged/);
    expect(items[0].retryAt).toBeUndefined();
    // The execution data keeps no output for the failed step: only its history shows what came back.
    const { state } = await t.client.expect(200, t.client.get(`/organizations/${t.orgId}/jobs/${job.jobId}/state`));
    expect(state.executionData.chargeOutput).toBeUndefined();
  });

  it("an HTTP error's body and status on every try, which tries will be retried and when, and the last one final", async () => {
    const t = await newTenant(admin);
    const body = { error: "card declined", code: "do_not_honor" };
    const id = await scenario("declined", [{ status: 503, json: body }]);
    const def = workflow("charge", [
      step("charge", http, { retries: 2, retryPolicy: { initialIntervalSeconds: 0.05 }, config: { url: `${fakeOrigin()}/s/${id}` } }),
    ]);
    const { job, history: items } = await run(t, def);
    expect(job).toMatchObject({ status: "FAILED", error: { code: "HTTP_503" } });
    expect(items.map((h) => [h.executionAttempt, h.attemptsAllowed, h.iteration, h.statusCode])).toEqual([
      [1, 3, 1, 503],
      [2, 3, 1, 503],
      [3, 3, 1, 503],
    ]);
    for (const h of items) expect(h.output).toEqual({ status: "failure", payload: body });
    // Tries 1 and 2 say when the next one runs; try 3 used up the retries.
    expect(Date.parse(items[0].retryAt)).toBeGreaterThanOrEqual(Date.parse(items[0].endTimestamp));
    expect(Date.parse(items[1].startTimestamp)).toBeGreaterThanOrEqual(Date.parse(items[0].retryAt));
    expect(items[1].retryAt).toBeDefined();
    expect(items[2].retryAt).toBeUndefined();
  });

  it(`cuts an answer longer than ${MAX_FAILED_ATTEMPT_PAYLOAD_BYTES} bytes, and says it was cut and from how much`, async () => {
    const t = await newTenant(admin);
    const long = "é".repeat(6000); // 12,000 bytes of UTF-8: a cut must not split a character
    const id = await scenario("long", [{ status: 400, body: long }]);
    const { history: items } = await run(t, workflow("charge", [step("charge", http, { config: { url: `${fakeOrigin()}/s/${id}` } })]));
    const [h] = items;
    expect(h.statusCode).toBe(400);
    expect(h.payloadTruncated).toEqual({ originalBytes: 12_000 });
    expect(typeof h.output.payload).toBe("string");
    expect(Buffer.byteLength(h.output.payload)).toBe(MAX_FAILED_ATTEMPT_PAYLOAD_BYTES);
    expect(long.startsWith(h.output.payload)).toBe(true);
    // An answer at the bound is kept whole.
    const exact = "x".repeat(MAX_FAILED_ATTEMPT_PAYLOAD_BYTES);
    const id2 = await scenario("exact", [{ status: 400, body: exact }]);
    const [h2] = (await run(t, workflow("charge2", [step("charge", http, { config: { url: `${fakeOrigin()}/s/${id2}` } })]))).history;
    expect(h2.output.payload).toBe(exact);
    expect(h2.payloadTruncated).toBeUndefined();
  });

  it("replaces the values of the step's secrets wherever the answer or the error echoes them, before any cut", async () => {
    const t = await newTenant(admin);
    const secret = "sk_live_" + "Z".repeat(40);
    await t.client.expect(200, t.client.post(`/organizations/${t.orgId}/secrets`, { key: "PAYMENTS_KEY", value: secret }));
    const headers = { authorization: { secret: "PAYMENTS_KEY" } };
    // An error body that echoes the key, with the key straddling the 4 KiB cut.
    const pad = "p".repeat(MAX_FAILED_ATTEMPT_PAYLOAD_BYTES - 20);
    const errorId = await scenario("echo-error", [{ status: 401, body: `${pad}${secret} rejected ${secret}` }]);
    // A 200 whose echo of the key fails the output schema.
    const schemaId = await scenario("echo-schema", [{ json: { charged: secret, amount: "twelve", [secret]: 1 } }]);
    const schemaRun = await run(t, workflow("secretive", [step("charge", http, { output: "charged", config: { url: `${fakeOrigin()}/s/${schemaId}`, headers } })], { charged }));
    expect(schemaRun.job.status).toBe("FAILED");
    expect(schemaRun.history[0].output.payload).toEqual({ charged: "[secret]", amount: "twelve", "[secret]": 1 });
    const errorRun = await run(t, workflow("secretive2", [step("call", http, { config: { url: `${fakeOrigin()}/s/${errorId}`, headers } })]));
    expect(errorRun.job.error.code).toBe("HTTP_401");
    const payload: string = errorRun.history[0].output.payload;
    expect(payload.startsWith(pad + "[secret] rejected")).toBe(true);
    for (const r of [schemaRun, errorRun]) {
      const everything = JSON.stringify(r) + JSON.stringify(await t.client.get(`/organizations/${t.orgId}/jobs/${r.jobId}`));
      // Neither the key nor any start of it longer than its fixed prefix reaches the API.
      expect(everything).not.toContain(secret.slice(0, 12));
    }
  });
});

describe("attempts, iterations and cancellation in the history", () => {
  it("tells a loop's iterations apart from retries", async () => {
    const t = await newTenant(admin);
    const countdown = workflow(
      "countdown",
      [
        step("init", noop, {}, "tick"),
        step("tick", transform, { retries: 1, config: { output: { n: { "-": [{ var: "previousStep.output.n" }, 1] } } } }, {
          if: [{ ">": [{ var: "tickOutput.n" }, 0] }, "tick", null],
        }),
      ],
      { workflowInput: { type: "object" } },
    );
    const { job, history: items } = await run(t, countdown, { n: 3 });
    expect(job.status).toBe("SUCCEEDED");
    expect(items.map((h) => [h.stepName, h.iteration, h.executionAttempt, h.attemptsAllowed])).toEqual([
      ["init", 1, 1, 1],
      ["tick", 1, 1, 2],
      ["tick", 2, 1, 2],
      ["tick", 3, 1, 2],
    ]);
  });

  it("records the step a job was cancelled at, and names it in the job's error", async () => {
    const t = await tenantWith(admin, workflow("held", [step("approve", waitEvents, { config: { eventIds: ["manager-approved"] } })]));
    const jobId = await submit(t.client, t.orgId, { workflowId: t.ids.held, workflowVersion: { tag: "$LIVE" } });
    await waitForJob(t.client, t.orgId, jobId, (j) => j.status === "RUNNING");
    await t.client.expect(200, t.client.post(`/organizations/${t.orgId}/jobs/${jobId}/cancel`));
    const { job } = await waitForJob(t.client, t.orgId, jobId);
    expect(job).toMatchObject({ status: "CANCELLED", error: { code: "CANCELLED", stepName: "approve" } });
    const items = await history(t, jobId);
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ stepName: "approve", cancelled: true, output: { status: "failure" }, errors: ["CANCELLED: The job was cancelled."] });
    // It is no attempt: no unit was used for it.
    expect(items[0].attempt).toBeUndefined();
    expect(job.billableTransactionUnits).toBe(1);
  });
});

describe("GetJob's waitingFor", () => {
  it("names the events not yet received, and those that arrived", async () => {
    const t = await tenantWith(admin, workflow("approval", [step("approve", waitEvents, { config: { eventIds: ["manager-approved", "finance-approved"], timeoutSeconds: 3600 } })]));
    const jobId = await submit(t.client, t.orgId, { workflowId: t.ids.approval, workflowVersion: { tag: "$LIVE" } });
    const first = await waitForJob(t.client, t.orgId, jobId, (j) => j.waitingFor?.kind === "events");
    expect(first.job.waitingFor).toMatchObject({ kind: "events", stepName: "approve", eventIds: ["manager-approved", "finance-approved"], received: [] });
    expect(Date.parse(first.job.waitingFor.timeoutAt) - Date.parse(first.job.waitingFor.since)).toBe(3600_000);
    // A typo is kept (it may be awaited later) and changes nothing of what the job waits for.
    await t.client.expect(200, t.client.post(`/organizations/${t.orgId}/jobs/${jobId}/events`, { eventId: "manager-aproved" }));
    await t.client.expect(200, t.client.post(`/organizations/${t.orgId}/jobs/${jobId}/events`, { eventId: "finance-approved" }));
    const { job } = await t.client.expect(200, t.client.get(`/organizations/${t.orgId}/jobs/${jobId}`));
    expect(job.waitingFor).toMatchObject({ kind: "events", eventIds: ["manager-approved"], received: ["finance-approved"] });
    await t.client.expect(200, t.client.post(`/organizations/${t.orgId}/jobs/${jobId}/events`, { eventId: "manager-approved" }));
    const done = await waitForJob(t.client, t.orgId, jobId);
    expect(done.job.status).toBe("SUCCEEDED");
    expect(done.job.waitingFor).toBeUndefined();
  });

  it("names the retry's time and try, a delay's end, and counts a fan-out's children", async () => {
    const t = await newTenant(admin);
    const id = await scenario("busy", [{ status: 503, body: "busy" }]);
    await deployWorkflow(t.client, t.orgId, workflow("leaf", [step("nap", delay, { config: { seconds: 3600 } })]));
    const { workflowId } = await deployWorkflow(
      t.client,
      t.orgId,
      workflow("waits", [
        step("charge", http, { retries: 3, retryPolicy: { initialIntervalSeconds: 3600, maxIntervalSeconds: 3600 }, config: { url: `${fakeOrigin()}/s/${id}` } }),
      ]),
    );
    const retrying = await submit(t.client, t.orgId, { workflowId, workflowVersion: { tag: "$LIVE" } });
    const r = await waitForJob(t.client, t.orgId, retrying, (j) => j.waitingFor?.kind === "retry");
    expect(r.job.waitingFor).toMatchObject({ kind: "retry", stepName: "charge", attempt: 2, attemptsAllowed: 4 });
    expect(Date.parse(r.job.waitingFor.until) - Date.parse(r.job.waitingFor.since)).toBe(3600_000);

    const sleeper = (await deployWorkflow(t.client, t.orgId, workflow("sleeper", [step("nap", delay, { config: { seconds: 600 } })]))).workflowId;
    const sleeping = await submit(t.client, t.orgId, { workflowId: sleeper, workflowVersion: { tag: "$LIVE" } });
    const s = await waitForJob(t.client, t.orgId, sleeping, (j) => j.waitingFor?.kind === "timer");
    expect(Date.parse(s.job.waitingFor.until) - Date.parse(s.job.waitingFor.since)).toBe(600_000);

    const fan = await deployWorkflow(
      t.client,
      t.orgId,
      workflow("fan", [
        step("fanOut", runChild, {
          config: { maxConcurrency: 3, children: [{ workflowName: "leaf", workflowVersion: { tag: "$LIVE" }, forEach: { arrayPath: "workflowInput.items" } }] },
        }),
      ]),
    );
    const parent = await submit(t.client, t.orgId, { workflowId: fan.workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: { items: [{}, {}, {}, {}, {}] } });
    const p = await waitForJob(t.client, t.orgId, parent, (j) => j.waitingFor?.running === 3);
    expect(p.job.waitingFor).toMatchObject({ kind: "children", stepName: "fanOut", total: 5, running: 3, notStarted: 2, succeeded: 0, failed: 0, toleratedFailures: 0 });
    for (const jobId of [retrying, sleeping, parent]) await t.client.expect(200, t.client.post(`/organizations/${t.orgId}/jobs/${jobId}/cancel`));
  });
});

describe("where a job came from, and the console's ListJobs", () => {
  it("keeps the API token that submitted a job, and the trigger whose delivery started one", async () => {
    const t = await tenantWith(admin, workflow("orders", [step("accept", noop)]));
    const { tokens } = await admin.expect(200, admin.get(`/organizations/${t.orgId}/api-auth-tokens`));
    const tokenId = tokens[0].apiAuthTokenId;
    const byToken = await submit(t.client, t.orgId, { workflowId: t.ids.orders, workflowVersion: { tag: "$LIVE" } });
    const byAdmin = await submit(admin, t.orgId, { workflowId: t.ids.orders, workflowVersion: { tag: "$LIVE" } });
    const batch = await t.client.expect(200, t.client.post(`/organizations/${t.orgId}/jobs/batch`, { jobs: [{ workflowId: t.ids.orders, workflowVersion: { tag: "$LIVE" } }] }));
    const trigger = await createTrigger(t.client, t.orgId, { name: "shop", workflowId: t.ids.orders, workflowVersion: { tag: "$LIVE" }, scheme: "standard-webhooks" });
    const body = JSON.stringify({ orderId: "o-1" });
    const delivered = await postHook((url, init) => SELF.fetch(url, init), trigger.url, body, standardHeaders(trigger.secret, body));
    expect(delivered.status).toBe(202);
    const fromHook = delivered.body.jobId;

    const expected: Record<string, Record<string, unknown>> = {
      [byToken]: { apiAuthTokenId: tokenId },
      [batch.results[0].jobId]: { apiAuthTokenId: tokenId },
      [fromHook]: { triggerId: trigger.triggerId },
      [byAdmin]: {},
    };
    for (const [jobId, origin] of Object.entries(expected)) {
      const { job } = await waitForJob(t.client, t.orgId, jobId);
      expect({ triggerId: job.triggerId, apiAuthTokenId: job.apiAuthTokenId }, jobId).toEqual({ triggerId: undefined, apiAuthTokenId: undefined, ...origin });
    }
    const listed = (await t.client.expect(200, t.client.get(`/organizations/${t.orgId}/jobs?pageSize=10`))).jobs;
    for (const [jobId, origin] of Object.entries(expected)) {
      const row = listed.find((j: any) => j.jobId === jobId);
      expect({ triggerId: row.triggerId, apiAuthTokenId: row.apiAuthTokenId }, jobId).toEqual({ triggerId: undefined, apiAuthTokenId: undefined, ...origin });
    }
  });

  it("lists the step a running top-level job is at now, not only the one it first stopped at", async () => {
    const t = await tenantWith(
      admin,
      workflow("two-waits", [step("first", waitEvents, { config: { eventIds: ["a"] } }, "second"), step("second", waitEvents, { config: { eventIds: ["b"] } })]),
    );
    const jobId = await submit(t.client, t.orgId, { workflowId: t.ids["two-waits"], workflowVersion: { tag: "$LIVE" } });
    const listed = async () => (await t.client.expect(200, t.client.get(`/organizations/${t.orgId}/jobs?jobIdPrefix=${jobId}`))).jobs[0]?.currentStepName;
    await expect.poll(listed, { timeout: 30_000 }).toBe("first");
    await t.client.expect(200, t.client.post(`/organizations/${t.orgId}/jobs/${jobId}/events`, { eventId: "a" }));
    await expect.poll(listed, { timeout: 30_000 }).toBe("second");
    await t.client.expect(200, t.client.post(`/organizations/${t.orgId}/jobs/${jobId}/events`, { eventId: "b" }));
    await waitForJob(t.client, t.orgId, jobId);
    await expect.poll(listed, { timeout: 30_000 }).toBeUndefined();
  });

  it("finds a job by the first characters of its id, in either case, and refuses what no id contains", async () => {
    const t = await tenantWith(admin, workflow("orders", [step("accept", noop)]));
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await submit(t.client, t.orgId, { workflowId: t.ids.orders, workflowVersion: { tag: "$LIVE" } }));
    const base = `/organizations/${t.orgId}/jobs`;
    for (const id of ids) {
      for (const prefix of [id.slice(0, 1), id.slice(0, 8).toUpperCase(), id]) {
        const found = await t.client.expect(200, t.client.get(`${base}?jobIdPrefix=${prefix}`));
        expect(found.jobs.map((j: any) => j.jobId), prefix).toContain(id);
        expect(found.jobs.every((j: any) => j.jobId.startsWith(prefix.toLowerCase())), prefix).toBe(true);
      }
      expect((await t.client.expect(200, t.client.get(`${base}?jobIdPrefix=${id}`))).totalCount).toBe(1);
    }
    // Another organization's job is not found by its id.
    const other = await newTenant(admin);
    expect((await other.client.expect(200, other.client.get(`/organizations/${other.orgId}/jobs?jobIdPrefix=${ids[0]}`))).totalCount).toBe(0);
    for (const bad of ["xyz", "a%", "0".repeat(37)]) {
      const res = await t.client.get(`${base}?jobIdPrefix=${encodeURIComponent(bad)}`);
      expect(res.status, bad).toBe(400);
      expect(res.body.code).toBe("ValidationError");
    }
  });

  it("lists a job's children as its step listed them, with each child's key and place, paged and filtered by status", async () => {
    const t = await newTenant(admin);
    await deployWorkflow(
      t.client,
      t.orgId,
      workflow("item", [step("check", transform, { config: { output: { ok: { "!==": [{ var: "workflowInput.fail" }, true] } } } }, {
        if: [{ var: "checkOutput.ok" }, null, "boom"],
      }), step("boom", http, { config: { url: `${fakeOrigin()}/s/${await scenario("boom", [{ status: 400, body: "no" }])}` } })]),
    );
    const items = Array.from({ length: 12 }, (_, i) => ({ n: i, fail: i % 5 === 2 }));
    const { workflowId } = await deployWorkflow(
      t.client,
      t.orgId,
      workflow("fan", [step("fanOut", runChild, { config: { toleratedFailureCount: 10, children: [{ workflowName: "item", workflowVersion: { tag: "$LIVE" }, forEach: { arrayPath: "workflowInput.items" } }] } })]),
    );
    const parent = await submit(t.client, t.orgId, { workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: { items } });
    await waitForJob(t.client, t.orgId, parent, undefined, 60_000);
    const base = `/organizations/${t.orgId}/jobs?parentJobId=${parent}`;
    await expect.poll(async () => (await t.client.expect(200, t.client.get(`${base}&pageSize=1`))).totalCount, { timeout: 30_000 }).toBe(12);
    const keys: string[] = [];
    let pageToken: string | undefined;
    do {
      const page = await t.client.expect(200, t.client.get(`${base}&pageSize=5${pageToken ? `&pageToken=${pageToken}` : ""}`));
      for (const j of page.jobs) {
        keys.push(j.childKey);
        expect(j.childIndex).toBe(Number(j.childKey));
      }
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(keys).toEqual(items.map((_, i) => String(i)));
    const failed = await t.client.expect(200, t.client.get(`${base}&status=FAILED`));
    expect(failed.jobs.map((j: any) => j.childKey)).toEqual(["2", "7"]);
    expect(failed.statusCounts).toMatchObject({ FAILED: 2, SUCCEEDED: 0 });
    const { job } = await t.client.expect(200, t.client.get(`/organizations/${t.orgId}/jobs/${failed.jobs[1].jobId}`));
    expect(job).toMatchObject({ childKey: "7", childIndex: 7, parentJobId: parent });
    // A token of one listing is refused by the other.
    const newest = await t.client.expect(200, t.client.get(`/organizations/${t.orgId}/jobs?pageSize=1`));
    expect((await t.client.get(`${base}&pageToken=${newest.nextPageToken}`)).status).toBe(400);
  });
});

describe("GET /users/me", () => {
  it("tells a token its organization and permissions, even one that may not read its organization", async () => {
    const { orgId } = await newTenant(admin);
    const made = await admin.expect(200, admin.post(`/organizations/${orgId}/api-auth-tokens`, { name: "reader", permissions: ["job:read", "job:list"] }));
    const reader = admin.as(made.token);
    expect((await reader.get("/organizations")).status).toBe(403);
    expect(await reader.expect(200, reader.get("/users/me"))).toEqual({
      caller: { type: "token", organizationId: orgId, apiAuthTokenId: made.apiAuthTokenId, name: "reader" },
      permissions: ["job:read", "job:list"],
    });
    const me = await admin.expect(200, admin.get("/users/me"));
    expect(me.caller).toEqual({ type: "admin" });
    expect(me.permissions).toContain("job:cancel");
    expect((await anonymous.get("/users/me")).status).toBe(401);
    await admin.expect(200, admin.delete(`/organizations/${orgId}/api-auth-tokens/${made.apiAuthTokenId}`));
    expect((await reader.get("/users/me")).body.code).toBe("AuthenticationError");
  });
});
