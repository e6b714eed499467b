// Nothing larger than its limit reaches storage: a job input, an event payload, a definition or a
// webhook delivery over it is a 413 in the API's error format and nothing is created or changed;
// the D1 job index keeps a bounded error message and never a job's output.
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { MAX_ERROR_MESSAGE_CHARS, MAX_BODY_BYTES, MAX_DEFINITION_BYTES, MAX_INDEXED_ERROR_MESSAGE_CHARS, MAX_PAYLOAD_BYTES } from "../../../src/limits";
import { deployWorkflow, newTenant } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { createTrigger, jobCount, postHook, standardHeaders } from "../../helpers/webhooks";
import { admin } from "../../helpers/workerd";

const TIMEOUT = 60_000;
const BASE = "https://canopy.test";
const waiting = workflow("waiting", [step("wait", "/justworkflowit/waitForEventIds", { config: { eventIds: ["go"] } })]);

/** Sends a JSON text exactly as given (the test client would re-encode a value). */
async function postText(token: string, path: string, text: string) {
  const res = await SELF.fetch(BASE + path, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: text,
  });
  return { status: res.status, errorType: res.headers.get("x-amzn-errortype"), body: (await res.json()) as { code: string; message: string } };
}

/**
 * A JSON object text far smaller than 1 MiB whose value takes exactly `bytes` as JSON: `1e20` is
 * stored as `100000000000000000000`, so a request under the body limit can carry a larger value.
 * `extra` adds fields to the object.
 */
function expandingJson(bytes: number, extra: Record<string, unknown> = {}): string {
  const n = 40_000;
  const base = JSON.stringify({ ...extra, n: new Array(n).fill(1e20), p: "" }).length;
  const prefix = JSON.stringify(extra).slice(1, -1);
  const text = `{${prefix}${prefix ? "," : ""}"n":[${"1e20,".repeat(n - 1)}1e20],"p":"${"x".repeat(bytes - base)}"}`;
  expect(new TextEncoder().encode(JSON.stringify(JSON.parse(text))).byteLength).toBe(bytes);
  expect(text.length).toBeLessThan(MAX_PAYLOAD_BYTES / 2);
  return text;
}

const tooLarge = (what: string, bytes: number, limit: number) => ({
  status: 413,
  errorType: "PayloadTooLarge",
  body: { code: "PayloadTooLarge", message: `${what} is ${bytes} bytes of JSON; the limit is ${limit} bytes.` },
});
const bodyTooLarge = { status: 413, errorType: "PayloadTooLarge", body: { code: "PayloadTooLarge", message: `The request body exceeds ${MAX_BODY_BYTES} bytes.` } };

describe("SubmitJob", () => {
  it(
    `refuses a job input over ${MAX_PAYLOAD_BYTES} bytes with 413 and creates nothing, however the input is sent`,
    async () => {
      const { orgId, token, client } = await newTenant(admin);
      const { workflowId } = await deployWorkflow(client, orgId, waiting);
      const o = `/organizations/${orgId}`;
      const submitBody = (input: string, extra = "") => `{"workflowId":"${workflowId}","workflowVersion":{"tag":"$LIVE"}${extra},"inputJson":${input}}`;
      const over = expandingJson(MAX_PAYLOAD_BYTES + 1);

      // A request over the body limit.
      const big = JSON.stringify({ workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: { pad: "x".repeat(MAX_BODY_BYTES) } });
      expect(await postText(token, `${o}/jobs`, big)).toMatchObject(bodyTooLarge);
      // inputJson as a JSON string, as the JustWorkflowIt client sends it: small, but over the limit once parsed.
      expect(await postText(token, `${o}/jobs`, submitBody(JSON.stringify(over)))).toMatchObject(tooLarge("The job input", MAX_PAYLOAD_BYTES + 1, MAX_PAYLOAD_BYTES));
      // inputJson as a JSON value.
      expect(await postText(token, `${o}/jobs`, submitBody(over))).toMatchObject(tooLarge("The job input", MAX_PAYLOAD_BYTES + 1, MAX_PAYLOAD_BYTES));
      // With an idempotency key: the key is not claimed by the refused submission.
      expect(await postText(token, `${o}/jobs`, submitBody(over, `,"idempotencyKey":"k1"`))).toMatchObject({ status: 413 });
      expect((await client.expect(200, client.get(`${o}/jobs`))).totalCount).toBe(0);

      // The refused key is still free: a small input with it creates the job.
      const accepted = await client.expect(200, client.post(`${o}/jobs`, submitBody(`{"small":true}`, `,"idempotencyKey":"k1"`)));
      await waitForJob(client, orgId, accepted.jobId, (j) => j.currentStepName === "wait", TIMEOUT);
      expect((await client.expect(200, client.get(`${o}/jobs`))).totalCount).toBe(1);
    },
    TIMEOUT,
  );

  it(
    `accepts a job input and an event payload of exactly ${MAX_PAYLOAD_BYTES} bytes`,
    async () => {
      const { orgId, client } = await newTenant(admin);
      const { workflowId } = await deployWorkflow(client, orgId, waiting);
      const o = `/organizations/${orgId}`;
      const input = JSON.stringify(expandingJson(MAX_PAYLOAD_BYTES));
      const { jobId } = await client.expect(200, client.post(`${o}/jobs`, `{"workflowId":"${workflowId}","workflowVersion":{"tag":"$LIVE"},"inputJson":${input}}`));
      await waitForJob(client, orgId, jobId, (j) => j.currentStepName === "wait", TIMEOUT);
      await client.expect(200, client.post(`${o}/jobs/${jobId}/events`, `{"eventId":"go","payload":${expandingJson(MAX_PAYLOAD_BYTES)}}`));
      expect((await waitForJob(client, orgId, jobId, undefined, TIMEOUT)).job.status).toBe("SUCCEEDED");
    },
    TIMEOUT,
  );
});

describe("SendJobEvent", () => {
  it(
    `refuses an event payload over ${MAX_PAYLOAD_BYTES} bytes with 413 and leaves the job as it was`,
    async () => {
      const { orgId, token, client } = await newTenant(admin);
      const { workflowId } = await deployWorkflow(client, orgId, waiting);
      const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" } });
      const j = `/organizations/${orgId}/jobs/${jobId}`;
      await waitForJob(client, orgId, jobId, (job) => job.currentStepName === "wait", TIMEOUT);
      const before = await client.expect(200, client.get(`${j}/state`));
      const jobBefore = (await client.expect(200, client.get(j))).job;

      const big = JSON.stringify({ eventId: "go", payload: { pad: "x".repeat(MAX_BODY_BYTES) } });
      expect(await postText(token, `${j}/events`, big)).toMatchObject(bodyTooLarge);
      const over = expandingJson(MAX_PAYLOAD_BYTES + 1);
      expect(await postText(token, `${j}/events`, `{"eventId":"go","payload":${over}}`)).toMatchObject(
        tooLarge("The event payload", MAX_PAYLOAD_BYTES + 1, MAX_PAYLOAD_BYTES),
      );

      expect(await client.expect(200, client.get(`${j}/state`))).toEqual(before);
      expect((await client.expect(200, client.get(j))).job).toEqual(jobBefore);
      // The refused deliveries used nothing up: the same event id, small, finishes the job.
      await client.expect(200, client.post(`${j}/events`, { eventId: "go", payload: { ok: true } }));
      expect((await waitForJob(client, orgId, jobId, undefined, TIMEOUT)).job.status).toBe("SUCCEEDED");
    },
    TIMEOUT,
  );
});

describe("RegisterWorkflowVersion", () => {
  /** A definition sent as an object whose stored JSON text is exactly `bytes` long. */
  function definitionOf(bytes: number): string {
    const shell = { ...waiting, definitions: { ...waiting.definitions, big: { enum: new Array(20_000).fill(1e20), description: "" } } };
    const base = JSON.stringify(shell).length;
    const text = JSON.stringify(shell).replaceAll("100000000000000000000", "1e20").replace('"description":""', `"description":"${"x".repeat(bytes - base)}"`);
    expect(new TextEncoder().encode(JSON.stringify(JSON.parse(text))).byteLength).toBe(bytes);
    expect(text.length).toBeLessThan(MAX_DEFINITION_BYTES);
    return text;
  }

  it(
    `refuses a definition over ${MAX_DEFINITION_BYTES} bytes with 413 and creates no version`,
    async () => {
      const { orgId, token, client } = await newTenant(admin);
      const { workflowId } = await deployWorkflow(client, orgId, waiting);
      const w = `/organizations/${orgId}/workflows/${workflowId}`;

      const big = JSON.stringify({ definition: JSON.stringify({ ...waiting, description: "x".repeat(MAX_DEFINITION_BYTES) }) });
      expect(await postText(token, `${w}/versions`, big)).toMatchObject(bodyTooLarge);
      const over = definitionOf(MAX_DEFINITION_BYTES + 1);
      for (const path of [`${w}/versions`, `${w}/versions/validate`]) {
        expect(await postText(token, path, `{"definition":${over}}`)).toMatchObject(
          tooLarge("The workflow definition", MAX_DEFINITION_BYTES + 1, MAX_DEFINITION_BYTES),
        );
      }
      expect((await client.expect(200, client.get(`${w}/versions`))).versions).toHaveLength(1);

      // At the limit exactly, the version is stored whole.
      const created = await client.expect(200, client.post(`${w}/versions`, `{"definition":${definitionOf(MAX_DEFINITION_BYTES)}}`));
      const stored = await client.expect(200, client.get(`${w}/versions/${created.versionId}`));
      expect(new TextEncoder().encode(stored.definition).byteLength).toBe(MAX_DEFINITION_BYTES);
      expect((await client.expect(200, client.get(`${w}/versions`))).versions).toHaveLength(2);
    },
    TIMEOUT,
  );
});

describe("webhook deliveries", () => {
  const orders = workflow("orders", [step("accept", "/justworkflowit/noop")], {
    workflowInput: { type: "object", required: ["orderId"], properties: { orderId: { type: "string" } } },
  });

  it(
    `refuses a delivery whose job input would be over ${MAX_PAYLOAD_BYTES} bytes with 413, starts nothing and records nothing`,
    async () => {
      const { orgId, client } = await newTenant(admin);
      const { workflowId } = await deployWorkflow(client, orgId, orders);
      const hook = (trigger: any, body: string, headers: Record<string, string>) =>
        postHook((url, init) => SELF.fetch(url, init), trigger.url, body, headers);

      // The body itself, under the body limit, is the input: its numbers grow once stored.
      const plain = await createTrigger(client, orgId, { name: "plain", workflowId, workflowVersion: { tag: "$LIVE" }, scheme: "standard-webhooks" });
      const grows = expandingJson(MAX_PAYLOAD_BYTES + 1, { orderId: "o-1" });
      const refused = await hook(plain, grows, standardHeaders(plain.secret, grows));
      expect(refused).toMatchObject({ status: 413, body: { code: "PayloadTooLarge", message: tooLarge("The job input", MAX_PAYLOAD_BYTES + 1, MAX_PAYLOAD_BYTES).body.message } });
      expect(refused.headers.get("x-amzn-errortype")).toBe("PayloadTooLarge");

      // An inputTransformer that copies a 600 KB body twice.
      const copies = await createTrigger(client, orgId, {
        name: "copies",
        workflowId,
        workflowVersion: { tag: "$LIVE" },
        scheme: "standard-webhooks",
        inputTransformer: { fieldset: [{ from: "body.orderId", to: "orderId" }, { from: "body", to: "first" }, { from: "body", to: "second" }] },
      });
      const body = JSON.stringify({ orderId: "o-2", pad: "x".repeat(600_000) });
      const headers = standardHeaders(copies.secret, body);
      expect((await hook(copies, body, headers)).status).toBe(413);
      // Nothing was recorded: the sender's retry is refused again, not answered as a replay.
      expect((await hook(copies, body, headers)).status).toBe(413);
      expect(await jobCount(client, orgId)).toBe(0);
    },
    TIMEOUT,
  );
});

describe("the D1 job index", () => {
  it(
    "keeps a failed job's error message to a few KiB and never a job's output; GetJob has the output whole and the message up to MAX_ERROR_MESSAGE_CHARS",
    async () => {
      const { orgId, client } = await newTenant(admin);
      // The transition yields the input's `next`, not a step name: the job fails with a message quoting it.
      const failing = workflow("failing", [step("only", "/justworkflowit/noop", {}, { if: [true, { var: "workflowInput.next" }, null] })]);
      const echo = workflow("echo", [step("only", "/justworkflowit/noop")]);
      const failingId = (await deployWorkflow(client, orgId, failing)).workflowId;
      const echoId = (await deployWorkflow(client, orgId, echo)).workflowId;
      const long = "y".repeat(100_000);
      const failedId = await submit(client, orgId, { workflowId: failingId, workflowVersion: { tag: "$LIVE" }, inputJson: { next: long } });
      const succeededId = await submit(client, orgId, { workflowId: echoId, workflowVersion: { tag: "$LIVE" }, inputJson: { big: long } });

      const failed = (await waitForJob(client, orgId, failedId, undefined, TIMEOUT)).job;
      expect(failed.status).toBe("FAILED");
      // The message is cut where it is made (it quotes the 100 KB value); the index keeps less of it.
      expect(failed.error.message.length).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_CHARS);
      expect(failed.error.message).toContain(long.slice(0, 100));
      const succeeded = (await waitForJob(client, orgId, succeededId, undefined, TIMEOUT)).job;
      expect(succeeded).toMatchObject({ status: "SUCCEEDED", output: { big: long } });

      // The index is written after the job settles: wait for ListJobs to show both finished.
      let listed: any[] = [];
      const deadline = Date.now() + TIMEOUT;
      while (Date.now() < deadline) {
        listed = (await client.expect(200, client.get(`/organizations/${orgId}/jobs`))).jobs;
        if (listed.length === 2 && listed.every((j) => j.status === "FAILED" || j.status === "SUCCEEDED")) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const failedRow = listed.find((j) => j.jobId === failedId);
      const succeededRow = listed.find((j) => j.jobId === succeededId);
      expect(failedRow.status).toBe("FAILED");
      expect(failedRow.error.code).toBe(failed.error.code);
      expect(failedRow.error.message).toHaveLength(MAX_INDEXED_ERROR_MESSAGE_CHARS);
      expect(failedRow.error.message.endsWith("…")).toBe(true);
      expect(failed.error.message.startsWith(failedRow.error.message.slice(0, -1))).toBe(true);
      expect(succeededRow.status).toBe("SUCCEEDED");
      expect(succeededRow).not.toHaveProperty("output");
    },
    TIMEOUT,
  );
});
