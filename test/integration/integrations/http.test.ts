import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { deployWorkflow, newTenant } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import type { JobObject } from "../../../src/job/job-object";
import { fakeOrigin, scenario, seen, type Reply } from "./fake";

const http = "/canopy/http";

/** Deploys a one-step `/canopy/http` workflow against scenario `id`, runs a job and waits for it to settle. */
async function runHttpStep(id: string, stepExtra: Record<string, any>, configExtra: Record<string, unknown> = {}) {
  const { client, orgId } = await newTenant(admin);
  const def = workflow("call", [step("call", http, { ...stepExtra, config: { url: `${fakeOrigin()}/s/${id}/orders?x=1`, ...configExtra } })]);
  const { workflowId } = await deployWorkflow(client, orgId, def);
  const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: { orderId: 42 } });
  const { job } = await waitForJob(client, orgId, jobId, undefined, 30_000);
  const { state } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state`));
  return { job, history: state.executionHistory as any[], client, orgId, jobId };
}

const gaps = (times: number[]) => times.slice(1).map((t, i) => t - times[i]!);
const busy: Reply = { status: 503, body: "busy: the database is overloaded, try again" };

describe("/canopy/http", () => {
  it("retries a 503 with exponential backoff, recording each failed attempt, then succeeds", async () => {
    const id = await scenario("http-503", [busy, busy, { json: { accepted: true, id: "o-42" } }]);
    const { job, history } = await runHttpStep(id, { retries: 3, retryPolicy: { initialIntervalSeconds: 0.2, backoffCoefficient: 2 } });
    expect(job).toMatchObject({ status: "SUCCEEDED", output: { accepted: true, id: "o-42" }, billableTransactionUnits: 3 });

    const requests = await seen(id);
    expect(requests).toHaveLength(3);
    for (const r of requests) {
      expect(r).toMatchObject({ method: "POST", url: `/s/${id}/orders?x=1`, body: JSON.stringify({ orderId: 42 }) });
      expect(r.headers["content-type"]).toBe("application/json");
    }
    // The far end saw the backoff: 200 ms, then 400 ms (lower bounds; the alarm may fire later, never sooner).
    const [first, second] = gaps(requests.map((r) => r.at));
    expect(first).toBeGreaterThanOrEqual(200);
    expect(second).toBeGreaterThanOrEqual(400);

    expect(history.map((h) => h.output.status)).toEqual(["failure", "failure", "success"]);
    for (const h of history.slice(0, 2)) {
      expect(h).toMatchObject({ stepName: "call", stepExecutorType: http, input: { orderId: 42 } });
      expect(h.errors).toHaveLength(1);
      expect(h.errors[0]).toMatch(/^HTTP_503: POST http:\/\/127\.0\.0\.1:\d+\/s\/\S+ answered 503: busy: the database is overloaded, try again$/);
    }
    expect(history[2].output.payload).toEqual({ accepted: true, id: "o-42" });
    const recorded = gaps(history.flatMap((h) => [Date.parse(h.startTimestamp), Date.parse(h.endTimestamp)]));
    expect(recorded[1]).toBeGreaterThanOrEqual(200); // end of try 1 → start of try 2
    expect(recorded[3]).toBeGreaterThanOrEqual(400); // end of try 2 → start of try 3
  });

  it("fails on 422 without retrying, naming the status and an excerpt of the body", async () => {
    const body = JSON.stringify({ error: "orderId 42 is already shipped", detail: "x".repeat(1000) });
    const id = await scenario("http-422", [{ status: 422, body, headers: { "content-type": "application/json" } }]);
    const { job, history } = await runHttpStep(id, { retries: 3, retryPolicy: { initialIntervalSeconds: 0.05 } });
    expect(job).toMatchObject({ status: "FAILED", error: { code: "HTTP_422", stepName: "call" }, billableTransactionUnits: 1 });
    expect(job.error.message).toContain("answered 422: {\"error\":\"orderId 42 is already shipped\"");
    expect(job.error.message.length).toBeLessThan(400); // an excerpt, not the whole body
    expect(await seen(id)).toHaveLength(1);
    expect(history).toHaveLength(1);
    expect(history[0].errors[0]).toMatch(/^HTTP_422: .*already shipped/);
  });

  it("waits at least as long as Retry-After asks before the next attempt", async () => {
    const id = await scenario("http-429", [{ status: 429, body: "slow down", headers: { "retry-after": "1" } }, { json: { ok: true } }]);
    const { job, history } = await runHttpStep(id, { retries: 2, retryPolicy: { initialIntervalSeconds: 0.05 } });
    expect(job).toMatchObject({ status: "SUCCEEDED", output: { ok: true } });
    const requests = await seen(id);
    expect(requests).toHaveLength(2);
    expect(requests[1]!.at - requests[0]!.at).toBeGreaterThanOrEqual(1000);
    expect(history[0].errors[0]).toMatch(/^HTTP_429: .* answered 429: slow down$/);
    expect(Date.parse(history[1].startTimestamp) - Date.parse(history[0].endTimestamp)).toBeGreaterThanOrEqual(1000);
  });

  it("schedules the retry exactly at Retry-After when it exceeds the backoff", async () => {
    const id = await scenario("http-retry-after", [{ status: 503, body: "maintenance", headers: { "retry-after": "120" } }]);
    const { client, orgId } = await newTenant(admin);
    const def = workflow("later", [step("call", http, { retries: 1, retryPolicy: { initialIntervalSeconds: 0.05 }, config: { url: `${fakeOrigin()}/s/${id}` } })]);
    const { workflowId } = await deployWorkflow(client, orgId, def);
    const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" } });
    await waitForJob(client, orgId, jobId, (j) => j.billableTransactionUnits === 1 && j.status === "RUNNING");
    const stub = env.JOBS.get(env.JOBS.idFromName(jobId));
    let retry: { at: number; alarm: number | null; failedAt: number } | null = null;
    for (let i = 0; i < 200 && !retry; i++) {
      retry = await runInDurableObject(stub, async (o: JobObject, ctx) => {
        const wait = o.state!.current?.wait;
        const last = o.history().at(-1);
        return wait?.type === "retry" && last ? { at: wait.at, alarm: await ctx.storage.getAlarm(), failedAt: Date.parse(last.endTimestamp) } : null;
      });
      if (!retry) await new Promise((r) => setTimeout(r, 20));
    }
    expect(retry).not.toBeNull();
    expect(retry!.at - retry!.failedAt).toBe(120_000);
    expect(retry!.alarm).toBe(retry!.at);
    expect(await seen(id)).toHaveLength(1);
  });

  it("records a call that outlives config.timeoutMs as TIMEOUT, and retries it", async () => {
    const id = await scenario("http-hang", [{ hang: true }]);
    const { job, history } = await runHttpStep(id, { retries: 1, retryPolicy: { initialIntervalSeconds: 0.05 } }, { timeoutMs: 300 });
    expect(job).toMatchObject({ status: "FAILED", error: { code: "TIMEOUT", stepName: "call" }, billableTransactionUnits: 2 });
    expect(job.error.message).toMatch(/did not answer within its time limit; it may still have run/);
    expect(await seen(id)).toHaveLength(2);
    expect(history.map((h) => h.errors[0])).toEqual([expect.stringMatching(/^TIMEOUT: /), expect.stringMatching(/^TIMEOUT: /)]);
  });

  it("records a call that outlives the step's timeoutSeconds as TIMEOUT", async () => {
    const id = await scenario("http-hang-step", [{ hang: true }]);
    const { job, history } = await runHttpStep(id, { timeoutSeconds: 1 });
    expect(job).toMatchObject({ status: "FAILED", error: { code: "TIMEOUT", stepName: "call" } });
    expect(await seen(id)).toHaveLength(1);
    expect(history).toHaveLength(1);
    expect(Date.parse(history[0].endTimestamp) - Date.parse(history[0].startTimestamp)).toBeGreaterThanOrEqual(1000);
  });

  it("lets a step's own header replace a default whatever its case (Accept over accept)", async () => {
    const id = await scenario("http-accept", [{ json: { ok: true } }]);
    const { job } = await runHttpStep(id, {}, { headers: { Accept: "application/vnd.api+json", "X-Trace": "t-1" } });
    expect(job.status).toBe("SUCCEEDED");
    const [r] = await seen(id);
    expect(r!.headers.accept).toBe("application/vnd.api+json");
    expect(r!.headers["x-trace"]).toBe("t-1");
    expect(r!.headers["content-type"]).toBe("application/json");
  });

  it("aborts a call that sets no time limit after the default one (DEFAULT_CALL_TIMEOUT_MS), so the job moves on", async () => {
    const id = await scenario("http-hang-default", [{ hang: true }]);
    const { job, history } = await runHttpStep(id, {});
    expect(job).toMatchObject({ status: "FAILED", error: { code: "TIMEOUT", stepName: "call" } });
    expect(await seen(id)).toHaveLength(1);
    // The test bindings set the default to 1.5 s (wrangler.toml: 30 s).
    expect(Date.parse(history[0].endTimestamp) - Date.parse(history[0].startTimestamp)).toBeGreaterThanOrEqual(1500);
  }, 60_000);

  it("sends a GET without a body and fails a 200 that is not JSON without retry", async () => {
    const id = await scenario("http-get", [{ body: "<html>hello</html>", headers: { "content-type": "text/html" } }]);
    const { job } = await runHttpStep(id, { retries: 2 }, { method: "GET", headers: { "x-request-source": "canopy" } });
    expect(job).toMatchObject({ status: "FAILED", error: { code: "InvalidResponse" } });
    expect(job.error.message).toContain("<html>hello</html>");
    const requests = await seen(id);
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ method: "GET", body: "" });
    expect(requests[0]!.headers["x-request-source"]).toBe("canopy");
  });
});
