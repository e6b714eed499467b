/**
 * The console in a real browser against a real `npm start`: sign in, a 50-child fan-out's tree,
 * collapse and expand, send an event, cancel, workflow graphs, job list, triggers, and an axe-core
 * check of every page. It measures (and prints, never asserts) how long a 1,000-child job's page
 * takes to show its tree.
 */
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import orderBatch from "../fixtures/order-batch.json";
import orderItem from "../fixtures/order-item.json";
import { deployWorkflow, newTenant, type TestClient } from "../helpers/client";
import { step, submit, waitForJob, workflow } from "../helpers/jobs";
import { collectCspViolations, launchChromium, screenshot, seriousViolations } from "./browser";
import { listAllJobs, printServerLogsOnFailure } from "./jobs";
import { EngineServer } from "./server";

const server = new EngineServer();
printServerLogsOnFailure(server);

const items = (n: number) => ({ items: Array.from({ length: n }, (_, i) => ({ sku: `SKU-${String(i + 1).padStart(4, "0")}`, qty: (i % 5) + 1 })) });
const short = (id: string) => id.slice(0, 8);

let browser: Browser;
let page: Page;
/** Content-Security-Policy violations on any page the suite visits (the console is served under a strict CSP). */
let cspViolations: string[] = [];
let client: TestClient;
let token: string;
let orgId: string;
let batchWorkflowId: string;
let batch50: string;
let batch1000: string;
let sleeper: string;

const url = (path: string) => `${server.baseUrl}/console${path}`;
const orgUrl = (path: string) => url(`/organizations/${orgId}${path}`);

/** No serious or critical accessibility violation on the page as it is now. */
async function expectAccessible(what: string) {
  const violations = await seriousViolations(page);
  expect(violations, `${what}: ${JSON.stringify(violations, null, 2)}`).toEqual([]);
}

/** Every row of the virtualized tree, found by scrolling it from top to bottom. */
async function allTreeRows(): Promise<Map<string, { short: string; status: string; depth: number }>> {
  const rows = new Map<string, { short: string; status: string; depth: number }>();
  const tree = page.getByTestId("job-tree");
  await tree.evaluate((el) => (el.scrollTop = 0));
  for (let guard = 0; guard < 2000; guard++) {
    const seen = await tree.evaluate((el) =>
      [...el.querySelectorAll("[data-job-id]")].map((r) => ({
        id: r.getAttribute("data-job-id")!,
        depth: Number(r.getAttribute("data-depth")),
        short: r.querySelector(".short-id")?.textContent ?? "",
        status: r.querySelector(".status")?.textContent ?? "",
      })),
    );
    for (const r of seen) rows.set(r.id, r);
    const done = await tree.evaluate((el) => {
      const atEnd = el.scrollTop + el.clientHeight >= el.scrollHeight - 2;
      el.scrollTop += el.clientHeight * 0.8;
      return atEnd;
    });
    if (done) {
      // At the bottom: finished unless a page of children is still coming in.
      const pending = await tree.locator(".more").count();
      if (pending === 0) break;
      await page.waitForTimeout(200);
    }
    await page.waitForTimeout(30);
  }
  await tree.evaluate((el) => (el.scrollTop = 0));
  return rows;
}

beforeAll(async () => {
  await server.start();
  const t = await newTenant(server.admin);
  ({ client, token, orgId } = t);
  await deployWorkflow(client, orgId, orderItem as never);
  batchWorkflowId = (await deployWorkflow(client, orgId, orderBatch as never)).workflowId;
  await deployWorkflow(client, orgId, workflow("sleeper", [step("nap", "/canopy/delay", { config: { seconds: 3600 } })]));
  batch50 = await submit(client, orgId, { workflowName: "order-batch", workflowVersion: { tag: "$LIVE" }, inputJson: items(50) });
  batch1000 = await submit(client, orgId, { workflowName: "order-batch", workflowVersion: { tag: "$LIVE" }, inputJson: items(1000) });
  sleeper = await submit(client, orgId, { workflowName: "sleeper", workflowVersion: { tag: "$LIVE" } });
  await waitForJob(client, orgId, batch50, (j) => j.currentStepName === "approve", 180_000);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  cspViolations = collectCspViolations(page);
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await server.dispose();
});

describe("the console", () => {
  it("serves the app at every path under /console/, and the API as before", async () => {
    for (const path of ["/console/", `/console/organizations/${orgId}/jobs/${batch50}`, "/console/no/such/page"]) {
      const res = await fetch(server.baseUrl + path);
      expect(res.status, path).toBe(200);
      expect(await res.text()).toContain('<div id="root">');
    }
    const missing = await fetch(`${server.baseUrl}/console/assets/missing.js`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: "NotFoundError" });
    const unknown = await fetch(`${server.baseUrl}/no-such-route`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: "UnknownOperation" });
    expect((await fetch(`${server.baseUrl}/organizations`)).status).toBe(401);
    // In the browser, a page the console does not have still loads the app (which asks to sign in first).
    await page.goto(url("/no/such/page"));
    await page.getByLabel("API token").waitFor();
    await screenshot(page, "00-deep-link-sign-in");
  });

  it("signs in on a deep link: a wrong token shows the API's error, the right one opens the page", async () => {
    await page.goto(orgUrl(`/jobs/${batch50}`));
    await page.getByLabel("API token").fill("not-a-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").textContent()).toContain("AuthenticationError");
    await expectAccessible("sign-in page");
    await screenshot(page, "01-sign-in-error");

    await page.getByLabel("API token").fill(token);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { level: 1, name: `order-batch ${short(batch50)}` }).waitFor();
    expect(page.url()).toBe(orgUrl(`/jobs/${batch50}`));
    expect(page.url()).not.toContain(token);
    expect(await page.evaluate(() => sessionStorage.getItem("canopy.token"))).toBe(token);
  });

  it("shows a 50-child fan-out's tree with every child's short id and status, and its units", async () => {
    await page.locator('[data-depth="1"]').first().waitFor();
    const rows = await allTreeRows();
    const children = await listAllJobs(client, orgId, { parentJobId: batch50 });
    expect(children).toHaveLength(50);
    const childRows = [...rows.values()].filter((r) => r.depth === 1);
    expect(childRows).toHaveLength(50);
    for (const c of children) expect(rows.get(c.jobId), c.jobId).toEqual({ id: c.jobId, short: short(c.jobId), status: "SUCCEEDED", depth: 1 });
    const root = page.locator(`[data-job-id="${batch50}"]`);
    await expect.poll(() => root.textContent()).toContain("50 children: 50 succeeded");
    await expect.poll(() => root.textContent()).toContain("RUNNING");
    await page.getByRole("heading", { name: "Timeline" }).waitFor();
    await page.locator(".timeline-row.child").first().waitFor();
    await page.locator("table.history").getByText("fanOut").first().waitFor();
    await page.getByTestId("workflow-graph").locator('[data-step="approve"].current').waitFor();
    await expectAccessible("job page");
    await screenshot(page, "02-job-tree-50");
  });

  it("collapses and expands a subtree", async () => {
    const label = `order-batch ${short(batch50)}`;
    await page.getByRole("button", { name: `Collapse ${label}` }).click();
    await expect.poll(() => page.locator('[data-depth="1"]').count()).toBe(0);
    await screenshot(page, "03-tree-collapsed");
    await page.getByRole("button", { name: `Expand ${label}` }).click();
    await expect.poll(() => page.locator('[data-depth="1"]').count()).toBeGreaterThan(5);
    expect(await page.getByRole("button", { name: `Collapse ${label}` }).getAttribute("aria-expanded")).toBe("true");
  });

  it("sends an event with a payload checked before sending, and follows the job live to its end", async () => {
    await page.getByLabel("Event id").fill("manager-approved");
    const payload = page.getByLabel("Payload (JSON)");
    await payload.fill('{"approved": tru');
    await page.getByText("Not valid JSON").waitFor();
    expect(await page.getByRole("button", { name: "Send event" }).isDisabled()).toBe(true);
    await payload.fill('{"approved": true}');
    await page.getByText("Valid JSON.").waitFor();
    await page.getByRole("button", { name: "Send event" }).click();
    await page.getByText("Event manager-approved sent.").waitFor();
    const done = await waitForJob(client, orgId, batch50, undefined, 60_000);
    expect(done.job.status).toBe("SUCCEEDED");
    expect(done.job.output).toEqual({ approved: true });
    // The page saw the end by itself, and stopped updating.
    await page.locator(".summary .status", { hasText: "SUCCEEDED" }).waitFor({ timeout: 30_000 });
    await page.getByText("ended, not updating").waitFor();
    await expect.poll(() => page.locator(`[data-job-id="${batch50}"]`).textContent()).toContain("SUCCEEDED");
    await page.locator("table.history tr.external").getByText("external event: manager-approved").waitFor();
    await screenshot(page, "04-event-sent");
    if (process.env.UPDATE_DOCS_SCREENSHOT) {
      mkdirSync(resolve(import.meta.dirname, "../../docs"), { recursive: true });
      await page.screenshot({ path: resolve(import.meta.dirname, "../../docs/console.png") });
    }
  });

  it("cancels a running job after a confirmation", async () => {
    await waitForJob(client, orgId, sleeper, (j) => j.currentStepName === "nap", 60_000);
    await page.goto(orgUrl(`/jobs/${sleeper}`));
    await page.getByRole("button", { name: "Cancel job" }).click();
    const dialog = page.getByRole("dialog", { name: "Cancel this job?" });
    await dialog.waitFor();
    await expectAccessible("cancel dialog");
    await dialog.getByRole("button", { name: "Keep it" }).click();
    expect((await client.expect(200, client.get(`/organizations/${orgId}/jobs/${sleeper}`))).job.status).toBe("RUNNING");
    await page.getByRole("button", { name: "Cancel job" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Yes, cancel it" }).click();
    const { job } = await waitForJob(client, orgId, sleeper, undefined, 60_000);
    expect(job.status).toBe("CANCELLED");
    await page.locator(".summary .status", { hasText: "CANCELLED" }).waitFor({ timeout: 30_000 });
    await page.getByRole("button", { name: "Resume job" }).waitFor();
    // Who cancelled it, from the audit log: the signed-in token, by its id.
    const tokenId = (await client.expect(200, client.get(`/organizations/${orgId}/api-auth-tokens`))).tokens[0].apiAuthTokenId as string;
    await page.locator('.job-audit li[data-action="job.cancel"]', { hasText: `Cancelled by token ${short(tokenId)}` }).waitFor({ timeout: 30_000 });
    await screenshot(page, "05-cancelled");
  });

  it("draws a workflow's graph: steps with their executors, labelled branches, terminal steps, child workflows", async () => {
    await page.goto(orgUrl("/workflows"));
    await page.getByRole("link", { name: "order-batch" }).waitFor();
    await page.getByRole("cell", { name: /v1\s*\$LIVE/ }).first().waitFor();
    await expectAccessible("workflows page");
    await screenshot(page, "06-workflows");

    await page.getByRole("link", { name: "order-batch" }).click();
    const graph = page.getByTestId("workflow-graph");
    await graph.locator("[data-step]").first().waitFor();
    const names = await graph.locator("[data-step] .step-name").allTextContents();
    expect(names.sort()).toEqual(["approve", "fanOut", "load"]);
    expect(await graph.locator('[data-step="fanOut"]').textContent()).toContain("runChildJob");
    expect(await graph.locator('[data-step="fanOut"]').textContent()).toContain("starts order-item");
    expect(await graph.locator('[data-step="approve"]').textContent()).toContain("terminal");
    expect(await graph.locator('[data-step="load"]').textContent()).toContain("terminal");
    // load → fanOut when there are items, load → end otherwise; fanOut → approve; approve → end.
    expect(await graph.locator(".react-flow__edge").count()).toBe(4);
    expect((await graph.locator(".react-flow__edge-text").allTextContents()).sort()).toEqual(["else", "loadOutput.items.length > 0"]);
    await graph.locator(".end-node").waitFor();
    expect(await page.getByLabel("The definition's JSON").textContent()).toContain('"workflowName": "order-batch"');
    expect(await page.getByLabel("Version").inputValue()).toBeTruthy();
    expect(page.url()).toBe(orgUrl(`/workflows/${batchWorkflowId}`));
    await expectAccessible("workflow graph page");
    await screenshot(page, "07-workflow-graph");
  });

  it("lists jobs with filters and totalCount, paged", async () => {
    // Every child of the 1,000-item batch is created by the time it waits for its approval.
    await waitForJob(client, orgId, batch1000, (j) => j.currentStepName === "approve", 280_000);
    await page.goto(orgUrl("/jobs?hierarchy=TOP_LEVEL_ONLY"));
    await expect.poll(() => page.getByTestId("total-count").textContent()).toContain("3 jobs");
    await page.getByLabel("Status").selectOption("CANCELLED");
    await page.getByRole("button", { name: "Apply" }).click();
    await expect.poll(() => page.getByTestId("total-count").textContent()).toContain("1 job");
    expect(await page.locator("tbody tr").count()).toBe(1);
    await page.goto(orgUrl("/jobs?hierarchy=CHILD_JOBS_ONLY&workflowName=order-item"));
    await expect.poll(() => page.getByTestId("total-count").textContent()).toMatch(/^1050 jobs/);
    expect(await page.locator("tbody tr").count()).toBe(50);
    await page.getByRole("button", { name: "Next page" }).click();
    await expect.poll(() => page.getByTestId("total-count").textContent()).toContain("page 2");
    await expectAccessible("jobs page");
    await screenshot(page, "08-jobs");
  });

  it("creates a webhook trigger (the secret shown once), lists it, deletes it", async () => {
    await page.goto(orgUrl("/triggers"));
    await page.getByText("No webhook triggers yet.").waitFor();
    await expectAccessible("triggers page (empty)");
    await page.getByLabel("Name").fill("orders-hook");
    await page.getByLabel("Workflow").selectOption({ label: "order-batch" });
    await page.getByRole("button", { name: "Create trigger" }).click();
    const secret = await page.getByTestId("trigger-secret").textContent();
    expect(secret).toMatch(/^whsec_/);
    await page.locator('tr[data-trigger="orders-hook"]').waitFor();
    await expectAccessible("triggers page");
    await screenshot(page, "09-trigger-created");
    const listed = await client.expect(200, client.get(`/organizations/${orgId}/webhook-triggers`));
    expect(listed.webhookTriggers.map((t: { name: string }) => t.name)).toEqual(["orders-hook"]);
    expect(JSON.stringify(listed)).not.toContain(secret!);

    await page.getByRole("button", { name: "Delete orders-hook" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Yes, delete it" }).click();
    await page.getByText("No webhook triggers yet.").waitFor();
    expect((await client.expect(200, client.get(`/organizations/${orgId}/webhook-triggers`))).webhookTriggers).toEqual([]);
  });

  it("shows the audit log with a filter by action; the job page hides it from a token that may not read it", async () => {
    await page.getByRole("link", { name: "Audit log" }).click();
    await page.getByRole("heading", { level: 1, name: "Audit log" }).waitFor();
    await page.locator('tr[data-action="job.cancel"]').waitFor();
    await page.locator('tr[data-action="trigger.create"]').waitFor();
    await expectAccessible("audit log page");
    await screenshot(page, "10-audit-log");
    await page.getByLabel("Action").selectOption("trigger.delete");
    await expect.poll(() => page.locator("tbody tr").count()).toBe(1);
    expect(await page.locator("tbody tr").first().getAttribute("data-action")).toBe("trigger.delete");
    expect(page.url()).toBe(orgUrl("/audit-log?action=trigger.delete"));

    // A token without organization:read sees the job page without the audit part, and no error. (The
    // sign-in form checks a token with ListOrganizations, which needs organization:read, so the token
    // is put in the tab's session the way the form would.)
    const reader = await client.expect(200, client.post(`/organizations/${orgId}/api-auth-tokens`, { name: "reader", permissions: ["job:read", "job:list", "workflow:read", "workflow:version:read"] }));
    await page.evaluate(`sessionStorage.setItem("canopy.token", ${JSON.stringify(reader.token)})`);
    await page.goto(orgUrl(`/jobs/${sleeper}`));
    await page.locator(".summary .status", { hasText: "CANCELLED" }).waitFor();
    await page.getByRole("heading", { name: "History" }).waitFor();
    await page.waitForTimeout(2500);
    expect(await page.locator(".job-audit").count()).toBe(0);
    expect(await page.getByRole("alert").count()).toBe(0);
  });

  it("lets an admin token pick an organization", async () => {
    // With one organization there is nothing to pick; a second one makes the admin choose.
    await newTenant(server.admin);
    await page.getByRole("button", { name: "Sign out" }).click();
    expect(await page.evaluate(() => sessionStorage.getItem("canopy.token"))).toBeNull();
    await page.getByLabel("API token").fill(server.adminToken);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Organizations" }).waitFor();
    await expectAccessible("organization picker");
    await screenshot(page, "10-organizations");
    const org = await client.expect<{ displayName: string }>(200, client.get(`/organizations/${orgId}`));
    await page.getByRole("link", { name: org.displayName }).click();
    await page.getByRole("heading", { name: "Jobs" }).waitFor();
    expect(page.url()).toBe(orgUrl("/jobs"));
  });

  it("shows a 1,000-child job's tree, paged in as it scrolls (time to show it printed, not asserted)", async () => {
    await waitForJob(client, orgId, batch1000, (j) => j.currentStepName === "approve", 280_000);
    await page.goto("about:blank");
    const started = Date.now();
    await page.goto(orgUrl(`/jobs/${batch1000}`));
    await page.locator('[data-depth="1"]').first().waitFor({ timeout: 60_000 });
    const firstRows = Date.now() - started;
    await expect.poll(() => page.locator(`[data-job-id="${batch1000}"]`).textContent(), { timeout: 60_000 }).toContain("1000 children: 1000 succeeded");
    const rows = await allTreeRows();
    const scrolled = Date.now() - started;
    expect([...rows.values()].filter((r) => r.depth === 1)).toHaveLength(1000);
    // Virtualized: only the rows on screen are in the page.
    expect(await page.locator("[data-job-id]").count()).toBeLessThan(80);
    const measured = `1,000-child job page: tree shown ${firstRows} ms after navigation; all 1,000 rows paged in and scrolled through after ${scrolled} ms`;
    console.log(measured);
    // vitest shows a passed test's console only when not silent (vitest.config.ts): this line always shows.
    process.stderr.write(`\n${measured}\n`);
    await screenshot(page, "11-job-tree-1000");
  });

  it("ran every page above under its Content-Security-Policy without a violation, and the API reference too", async () => {
    // The API reference (/docs) is served under the same policy, from the engine's own files.
    await page.goto(`${server.baseUrl}/docs`);
    await page.locator(".swagger-ui .opblock").first().waitFor({ timeout: 60_000 });
    await screenshot(page, "12-api-reference");
    const policy = (await page.request.get(url("/"))).headers()["content-security-policy"];
    expect(policy).toContain("frame-ancestors 'none'");
    expect(cspViolations).toEqual([]);
    // The watch sees a violation when there is one: an inline style, which the policy refuses.
    await page.goto(url("/"));
    await page.evaluate(`{ const s = document.createElement("style"); s.textContent = "body { color: red }"; document.head.append(s); }`);
    await expect.poll(() => cspViolations.join("\n")).toContain("style-src");
  });
});
