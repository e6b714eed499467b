/**
 * The data the console's browser tests look at, set up through the API as an operator's day would
 * leave it: a fan-out with failed children, a step whose answer broke its schema, a step whose
 * retries ran out, jobs waiting for an event, a retry and their children, a loop, a schedule, a
 * webhook trigger, tokens with fewer permissions, a history longer than one answer and values too
 * large for one.
 */
import countdown from "../fixtures/countdown.json";
import orderBatch from "../fixtures/order-batch.json";
import orderItem from "../fixtures/order-item.json";
import { deployWorkflow, newTenant, type TestClient } from "../helpers/client";
import { step, submit, waitForJob, workflow } from "../helpers/jobs";
import { createTrigger, postHook, standardHeaders } from "../helpers/webhooks";
import type { FarEnd } from "./far-end";
import type { EngineServer } from "./server";

const http = "/canopy/http";
const runChild = "/justworkflowit/runChildJob";

export const items = (n: number) => ({ items: Array.from({ length: n }, (_, i) => ({ sku: `SKU-${String(i + 1).padStart(4, "0")}`, qty: (i % 5) + 1 })) });

/** The SKUs whose charge the far end declines: 3 of the 60 children of the charge batch fail. */
export const FAILING_SKUS = new Set(["SKU-0007", "SKU-0023", "SKU-0051"]);
export const CHARGE_BATCH_SIZE = 60;
/** A secret the declined charge sends, which the far end echoes back in its error. */
export const PAYMENTS_KEY = "sk_live_console_e2e_0123456789abcdef";

const chargeResult = { type: "object", required: ["charged", "amount"], properties: { charged: { type: "boolean" }, amount: { type: "number" } } };

export interface ConsoleData {
  client: TestClient;
  token: string;
  orgId: string;
  ids: Record<string, string>;
  jobs: {
    batch50: string;
    batch1000: string;
    sleeper: string;
    charge: string;
    declined: string;
    chargeBatch: string;
    retrying: string;
    fanWait: string;
    fromHook: string;
    /** A fan-out of two sleeping children, for Pause and Unpause. */
    pauseMe: string;
    /** A loop whose history (24 items of a 60 KB output) spans 2+ GetWorkflowState pages; it then waits for event `go`. */
    longHistory: string;
    /** SUCCEEDED with a 300 KB input and 1.2 MB of results: GetJob's outputTooLarge, GetWorkflowState's markers. */
    wide: string;
  };
  /** ship-order: two jobs of v1 FAILED at step ship; v2 fixes ship, v3 has no step ship. */
  shipOrder: { failed: [string, string]; v2: number; v3: number };
  scheduleId: string;
  triggerId: string;
  /** A token that may read jobs and workflows, and nothing else (not even its organization). */
  readerToken: string;
}

/** Registers the workflows, starts the jobs and waits until each is in the state the tests look at. */
export async function setUpConsoleData(server: EngineServer, far: FarEnd): Promise<ConsoleData> {
  const { client, token, orgId } = await newTenant(server.admin);
  await client.expect(200, client.post(`/organizations/${orgId}/secrets`, { key: "PAYMENTS_KEY", value: PAYMENTS_KEY }));
  const defs = [
    orderItem,
    orderBatch,
    countdown,
    workflow("sleeper", [step("nap", "/canopy/delay", { config: { seconds: 3600 } })]),
    workflow(
      "charge",
      [step("charge", http, { input: "workflowInput", output: "chargeResult", config: { url: `${far.origin}/charge` } })],
      { workflowInput: { type: "object", required: ["orderId"], properties: { orderId: { type: "integer" } } }, chargeResult },
    ),
    workflow("declined-charge", [
      step("charge", http, {
        retries: 3,
        retryPolicy: { initialIntervalSeconds: 0.05 },
        config: { url: `${far.origin}/declined`, headers: { authorization: { secret: "PAYMENTS_KEY" } } },
      }),
    ]),
    workflow("charge-item", [step("charge", http, { config: { url: `${far.origin}/item` } })]),
    workflow("charge-batch", [
      step("fanOut", runChild, {
        config: { maxConcurrency: 20, children: [{ workflowName: "charge-item", workflowVersion: { tag: "$LIVE" }, forEach: { arrayPath: "workflowInput.items" } }] },
      }),
    ]),
    workflow("retrying", [
      step("charge", http, { retries: 3, retryPolicy: { initialIntervalSeconds: 3600, maxIntervalSeconds: 3600 }, config: { url: `${far.origin}/down` } }),
    ]),
    // A loop that carries 60 KB from step to step (each payload under ANSWER_VALUE_SHARE_BYTES, so
    // shown whole): its history outgrows one 1 MiB answer.
    workflow("long-history", [
      step("init", "/justworkflowit/noop", {}, "tick"),
      step(
        "tick",
        "/canopy/transform",
        { config: { output: { n: { "-": [{ var: "previousStep.output.n" }, 1] }, pad: { var: "previousStep.output.pad" } } } },
        { if: [{ ">": [{ var: "tickOutput.n" }, 0] }, "tick", "hold"] },
      ),
      step("hold", "/justworkflowit/waitForEventIds", { config: { eventIds: ["go"] } }),
    ]),
    // Four children each return the 300 KB input: 1.2 MB of results, over MAX_PAYLOAD_BYTES.
    workflow("chunk", [step("echo", "/canopy/transform", { config: { output: { pad: { var: "workflowInput.pad" } } } })]),
    workflow("wide", [
      step("fan", runChild, { config: { children: ["a", "b", "c", "d"].map((id) => ({ id, workflowName: "chunk", workflowVersion: { tag: "$LIVE" } })) } }, "after"),
      step("after", "/justworkflowit/noop"),
    ]),
    workflow("fan-wait", [
      step("fanOut", runChild, { config: { children: [{ workflowName: "sleeper", workflowVersion: { tag: "$LIVE" }, forEach: { arrayPath: "workflowInput.items" } }] } }),
    ]),
  ];
  const ids: Record<string, string> = {};
  for (const d of defs) ids[d.workflowName] = (await deployWorkflow(client, orgId, d as never)).workflowId;
  const start = (workflowName: string, inputJson: unknown = {}) => submit(client, orgId, { workflowName, workflowVersion: { tag: "$LIVE" }, inputJson });

  const jobs = {
    batch50: await start("order-batch", items(50)),
    batch1000: await start("order-batch", items(1000)),
    sleeper: await start("sleeper"),
    charge: await start("charge", { orderId: 7 }),
    declined: await start("declined-charge", { orderId: 8 }),
    chargeBatch: await start("charge-batch", items(CHARGE_BATCH_SIZE)),
    retrying: await start("retrying", { orderId: 9 }),
    fanWait: await start("fan-wait", { items: [{ n: 1 }, { n: 2 }, { n: 3 }] }),
    fromHook: "",
    pauseMe: await start("fan-wait", { items: [{ n: 1 }, { n: 2 }] }),
    longHistory: await start("long-history", { n: 24, pad: "p".repeat(60_000) }),
    wide: await start("wide", { pad: "q".repeat(300_000) }),
  };
  // Set up while the jobs above run.
  const shipOrderReady = setUpShipOrder(client, orgId, far);
  const trigger = await createTrigger(client, orgId, { name: "countdown-hook", workflowId: ids.countdown, workflowVersion: { tag: "$LIVE" }, scheme: "standard-webhooks" });
  const body = JSON.stringify({ n: 1 });
  const delivered = await postHook((url, init) => fetch(url, init), trigger.url.replace(/^https?:\/\/[^/]+/, server.baseUrl), body, standardHeaders(trigger.secret, body));
  if (delivered.status !== 202) throw new Error(`the webhook delivery failed: ${delivered.status} ${JSON.stringify(delivered.body)}`);
  jobs.fromHook = delivered.body.jobId;
  const { scheduleId } = await client.expect(
    200,
    client.post(`/organizations/${orgId}/schedules`, { workflowName: "countdown", workflowVersion: { tag: "$LIVE" }, cron: "0 0 1 1 *", inputJson: { n: 1 } }),
  );
  const reader = await server.admin.expect(
    200,
    server.admin.post(`/organizations/${orgId}/api-auth-tokens`, { name: "reader", permissions: ["job:read", "job:list", "workflow:read", "workflow:version:read"] }),
  );

  const wait = (jobId: string, until?: (j: any) => boolean, ms = 180_000) => waitForJob(client, orgId, jobId, until, ms);
  await Promise.all([
    wait(jobs.batch50, (j) => j.currentStepName === "approve"),
    wait(jobs.charge),
    wait(jobs.declined),
    wait(jobs.chargeBatch),
    wait(jobs.retrying, (j) => j.waitingFor?.kind === "retry"),
    wait(jobs.fanWait, (j) => j.waitingFor?.kind === "children" && j.waitingFor.running === 3),
    wait(jobs.sleeper, (j) => j.currentStepName === "nap"),
    wait(jobs.fromHook),
    wait(jobs.pauseMe, (j) => j.waitingFor?.kind === "children" && j.waitingFor.running === 2),
    wait(jobs.longHistory, (j) => j.currentStepName === "hold"),
    wait(jobs.wide),
  ]);
  const shipOrder = await shipOrderReady;
  return { client, token, orgId, ids, jobs, shipOrder, scheduleId, triggerId: trigger.triggerId, readerToken: reader.token };
}

/**
 * Time travel's data: ship-order v1 reserves, then ships through a far end that is down, so its two
 * jobs FAIL at ship; v2 ships by a transform (the fix); v3 renamed ship to dispatch.
 */
async function setUpShipOrder(client: TestClient, orgId: string, far: FarEnd): Promise<ConsoleData["shipOrder"]> {
  const schemas = { workflowInput: { type: "object", required: ["sku"], properties: { sku: { type: "string" } } } };
  const reserve = (next: string) => step("reserve", "/canopy/transform", { config: { output: { reserved: { var: "workflowInput.sku" } } } }, next);
  const shipped = { config: { output: { shipped: { var: "workflowInput.sku" } } } };
  const v1 = await deployWorkflow(client, orgId, workflow("ship-order", [reserve("ship"), step("ship", http, { config: { url: `${far.origin}/down` } })], schemas));
  const submitV1 = (sku: string) => submit(client, orgId, { workflowId: v1.workflowId, workflowVersion: { versionId: v1.versionId }, inputJson: { sku } });
  const failed: [string, string] = [await submitV1("A-1"), await submitV1("B-1")];
  for (const jobId of failed) await waitForJob(client, orgId, jobId, undefined, 180_000);
  const v2 = await deployWorkflow(client, orgId, workflow("ship-order", [reserve("ship"), step("ship", "/canopy/transform", shipped)], schemas));
  const v3 = await deployWorkflow(client, orgId, workflow("ship-order", [reserve("dispatch"), step("dispatch", "/canopy/transform", shipped)], schemas));
  return { failed, v2: v2.versionNumber, v3: v3.versionNumber };
}
