/**
 * The console in a real browser against a real `npm start`, driven as an on-call operator would:
 * sign in (also with a token that may only read jobs), reach a failed fan-out's failed children,
 * inspect a failed step's input and the answer that failed it (a real HTTP endpoint answers), see
 * what a waiting job waits for, find a job by its id, start a job, manage a schedule; and the
 * 50-child tree, events, cancel, workflow graphs, triggers and the organization picker. Every page
 * is checked with axe-core in light and dark modes. It measures (and prints, never asserts) how
 * long a 1,000-child job's page takes to show its tree.
 */
import { mkdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newTenant, type TestClient } from "../helpers/client";
import { waitForJob } from "../helpers/jobs";
import { collectCspViolations, launchChromium, screenshot, seriousViolations } from "./browser";
import { CHARGE_BATCH_SIZE, FAILING_SKUS, PAYMENTS_KEY, setUpConsoleData, type ConsoleData } from "./console-data";
import { FarEnd } from "./far-end";
import { listAllJobs, printServerLogsOnFailure } from "./jobs";
import { EngineServer } from "./server";

const server = new EngineServer();
const far = new FarEnd(FAILING_SKUS);
printServerLogsOnFailure(server);

const short = (id: string) => id.slice(0, 8);

let browser: Browser;
let context: BrowserContext;
let page: Page;
/** Content-Security-Policy violations on any page the suite visits (the console is served under a strict CSP). */
let cspViolations: string[] = [];
let data: ConsoleData;
let client: TestClient;
let token: string;
let orgId: string;

const url = (path: string) => `${server.baseUrl}/console${path}`;
const orgUrl = (path: string) => url(`/organizations/${orgId}${path}`);

/** No serious or critical accessibility violation on the page as it is now, in light and in dark mode. */
async function expectAccessible(what: string) {
  for (const colorScheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme });
    const violations = await seriousViolations(page);
    expect(violations, `${what} (${colorScheme}): ${JSON.stringify(violations, null, 2)}`).toEqual([]);
  }
  await page.emulateMedia({ colorScheme: "light" });
}

/** Every row of the virtualized tree, in order, found by scrolling it from top to bottom. */
async function allTreeRows(): Promise<{ id: string; short: string; status: string; depth: number; key: string }[]> {
  const rows = new Map<string, { id: string; short: string; status: string; depth: number; key: string; top: number }>();
  const tree = page.getByTestId("job-tree");
  await tree.evaluate((el) => (el.scrollTop = 0));
  for (let guard = 0; guard < 2000; guard++) {
    const seen = await tree.evaluate((el) =>
      [...el.querySelectorAll("[data-job-id]")].map((r) => ({
        id: r.getAttribute("data-job-id")!,
        depth: Number(r.getAttribute("data-depth")),
        short: r.querySelector(".short-id")?.textContent ?? "",
        status: r.querySelector(".status")?.textContent ?? "",
        key: r.querySelector(".child-key")?.textContent ?? "",
        top: Number(/translateY\((\d+)px\)/.exec((r as unknown as { style: { transform: string } }).style.transform)?.[1] ?? 0),
      })),
    );
    for (const r of seen) rows.set(r.id, r);
    // At the bottom, finished unless a page of children is still coming in: both read at once, so a
    // page that arrives in between (the list grows, its next placeholder out of view) is not missed.
    const end = await tree.evaluate((el) => ({ atEnd: el.scrollTop + el.clientHeight >= el.scrollHeight - 2, more: el.querySelectorAll(".more").length }));
    if (end.atEnd) {
      if (end.more === 0) break;
      await tree.locator(".more").first().waitFor({ state: "detached", timeout: 30_000 }).catch(() => undefined);
      continue;
    }
    await tree.evaluate(async (el) => {
      el.scrollTop += el.clientHeight * 0.8;
      // The virtualizer renders the rows now in view after the scroll event: read them only once it
      // has (on a busy machine it may take several frames), or a window of rows is never seen.
      const frame = () => new Promise((r) => (globalThis as any).requestAnimationFrame(r));
      for (let i = 0; i < 120; i++) {
        await frame();
        const tops = [...el.querySelectorAll(".tree-row")].map((r) => Number(/translateY\((\d+)px\)/.exec((r as unknown as { style: { transform: string } }).style.transform)?.[1] ?? 0));
        if (tops.length > 0 && Math.min(...tops) <= el.scrollTop && Math.max(...tops) + 40 >= el.scrollTop + el.clientHeight) break;
      }
    });
  }
  await tree.evaluate((el) => (el.scrollTop = 0));
  return [...rows.values()].sort((a, b) => a.top - b.top).map(({ top: _, ...r }) => r);
}

/** An ended job's page offers the signed-in token (which may do everything) Rerun and no other action. */
async function expectOnlyRerunOffered() {
  const actions = page.locator(".actions-panel > .actions > button");
  await expect.poll(() => actions.allTextContents()).toEqual(["Rerun…"]);
  expect(await page.getByRole("form", { name: "Send an event" }).count()).toBe(0);
}

async function signIn(withToken: string) {
  if (await page.getByRole("button", { name: "Sign out" }).isVisible().catch(() => false)) await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByLabel("API token").fill(withToken);
  await page.getByRole("button", { name: "Sign in" }).click();
}

beforeAll(async () => {
  await Promise.all([server.start(), far.start()]);
  data = await setUpConsoleData(server, far);
  ({ client, token, orgId } = data);
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, permissions: ["clipboard-read", "clipboard-write"] });
  page = await context.newPage();
  cspViolations = collectCspViolations(page);
}, 400_000);

afterAll(async () => {
  await browser?.close();
  await far.stop();
  await server.dispose();
});

describe("the console: signing in and a fan-out", () => {
  it("serves the app at every path under /console/, and the API as before", async () => {
    for (const path of ["/console/", `/console/organizations/${orgId}/jobs/${data.jobs.batch50}`, "/console/no/such/page"]) {
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
    expect(await page.title()).toBe("Sign in · Canopy");
    await screenshot(page, "00-deep-link-sign-in");
  });

  it("signs in on a deep link: a wrong token shows the API's error, the right one opens the page", async () => {
    await page.goto(orgUrl(`/jobs/${data.jobs.batch50}`));
    await page.getByLabel("API token").fill("not-a-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").textContent()).toContain("AuthenticationError");
    await expectAccessible("sign-in page");
    await screenshot(page, "01-sign-in-error");

    await page.getByLabel("API token").fill(token);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { level: 1, name: `order-batch ${short(data.jobs.batch50)}` }).waitFor();
    expect(page.url()).toBe(orgUrl(`/jobs/${data.jobs.batch50}`));
    expect(page.url()).not.toContain(token);
    expect(await page.evaluate(() => sessionStorage.getItem("canopy.token"))).toBe(token);
    await expect.poll(() => page.title()).toBe(`order-batch ${short(data.jobs.batch50)} (RUNNING) · Canopy`);
  });

  it("shows a 50-child fan-out's tree in its step's order, each child's key and status, and no Expand on a leaf", async () => {
    await page.locator('[data-depth="1"]').first().waitFor();
    const rows = await allTreeRows();
    const children = await listAllJobs(client, orgId, { parentJobId: data.jobs.batch50 });
    expect(children).toHaveLength(50);
    const childRows = rows.filter((r) => r.depth === 1);
    expect(childRows.map((r) => r.key)).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));
    for (const c of children) expect(childRows.find((r) => r.id === c.jobId), c.jobId).toMatchObject({ short: short(c.jobId), status: "SUCCEEDED" });
    // order-item starts no children: its rows have no toggle at all.
    expect(await page.locator('[data-depth="1"] .toggle').count()).toBe(0);
    const root = page.locator(`[data-job-id="${data.jobs.batch50}"]`);
    await expect.poll(() => root.textContent()).toContain("50 children: 50 succeeded");
    await expect.poll(() => root.textContent()).toContain("RUNNING");
    await page.locator(".timeline-row.child").first().waitFor();
    await page.locator("table.history").getByText("fanOut").first().waitFor();
    await page.getByTestId("workflow-graph").locator('[data-step="approve"].current').waitFor();
    await expectAccessible("job page");
    await screenshot(page, "02-job-tree-50");
  });

  it("collapses and expands a subtree", async () => {
    const label = `order-batch ${short(data.jobs.batch50)}, RUNNING`;
    await page.getByRole("button", { name: `Collapse ${label}` }).click();
    await expect.poll(() => page.locator('[data-depth="1"]').count()).toBe(0);
    await screenshot(page, "03-tree-collapsed");
    await page.getByRole("button", { name: `Expand ${label}` }).click();
    await expect.poll(() => page.locator('[data-depth="1"]').count()).toBeGreaterThan(5);
    expect(await page.getByRole("button", { name: `Collapse ${label}` }).getAttribute("aria-expanded")).toBe("true");
  });

  it("says what a waiting job waits for, suggests that event, and asks before sending one it does not await", async () => {
    const waiting = page.getByTestId("waiting-for");
    await expect.poll(() => waiting.textContent()).toMatch(/waiting for event manager-approved since \d/);
    expect(await page.locator("#awaited-events option").evaluateAll((os) => os.map((o) => o.getAttribute("value")))).toContain("manager-approved");
    await page.getByLabel("Event id").fill("manager-aproved");
    await page.getByText("The job does not wait for manager-aproved: it waits for manager-approved.").waitFor();
    await page.getByRole("button", { name: "Send event" }).click();
    const dialog = page.getByRole("dialog", { name: "Send an event the job does not await?" });
    await dialog.waitFor();
    await expectAccessible("unawaited event dialog");
    await dialog.getByRole("button", { name: "Keep it" }).click();
    expect((await client.expect(200, client.get(`/organizations/${orgId}/jobs/${data.jobs.batch50}/state`))).state.executionHistory.some((h: any) => h.eventId)).toBe(false);
    // Sent anyway, it is kept, marked as awaited by no step, and the job still waits.
    await page.getByRole("button", { name: "Send event" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Send it anyway" }).click();
    await page.getByText("Event manager-aproved sent.").waitFor();
    await page.locator("table.history tr.external", { hasText: "manager-aproved" }).getByText("awaited by no step").waitFor();
    expect(await waiting.textContent()).toContain("waiting for event manager-approved");
    await screenshot(page, "04-unawaited-event");
  });

  it("sends the awaited event with a payload checked before sending, and follows the job live to its end", async () => {
    await page.getByLabel("Event id").fill("manager-approved");
    await expect.poll(() => page.locator("#event-hint").textContent()).toBe("The job waits for manager-approved.");
    const payload = page.getByLabel("Payload (JSON)");
    await payload.fill('{"approved": tru');
    await page.getByText("Not valid JSON").waitFor();
    expect(await page.getByRole("button", { name: "Send event" }).isDisabled()).toBe(true);
    await payload.fill('{"approved": true}');
    await page.getByText("Valid JSON.").waitFor();
    await page.getByRole("button", { name: "Send event" }).click();
    await page.getByText("Event manager-approved sent.").waitFor();
    const done = await waitForJob(client, orgId, data.jobs.batch50, undefined, 60_000);
    expect(done.job.status).toBe("SUCCEEDED");
    expect(done.job.output).toEqual({ approved: true });
    // The page saw the end by itself, and stopped updating; a succeeded job offers only Rerun.
    await page.locator("h1 .status", { hasText: "SUCCEEDED" }).waitFor({ timeout: 30_000 });
    await page.getByText("ended, not updating").waitFor();
    await expect.poll(() => page.locator(`[data-job-id="${data.jobs.batch50}"]`).textContent()).toContain("SUCCEEDED");
    await page.locator("table.history tr.external").getByText("external event: manager-approved").waitFor();
    await expectOnlyRerunOffered();
    expect(await page.getByTestId("waiting-for").count()).toBe(0);
    await screenshot(page, "05-event-sent");
  });

  it("cancels a running job after a confirmation, and shows the step it was cancelled at, and by what", async () => {
    await page.goto(orgUrl(`/jobs/${data.jobs.sleeper}`));
    await expect.poll(() => page.getByTestId("waiting-for").textContent()).toMatch(/sleeping until .* at step nap \(in \d+ min\)/);
    await page.getByRole("button", { name: "Cancel job" }).click();
    const dialog = page.getByRole("dialog", { name: "Cancel this job?" });
    await dialog.waitFor();
    await expectAccessible("cancel dialog");
    await dialog.getByRole("button", { name: "Keep it" }).click();
    expect((await client.expect(200, client.get(`/organizations/${orgId}/jobs/${data.jobs.sleeper}`))).job.status).toBe("RUNNING");
    await page.getByRole("button", { name: "Cancel job" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Yes, cancel it" }).click();
    const { job } = await waitForJob(client, orgId, data.jobs.sleeper, undefined, 60_000);
    expect(job.status).toBe("CANCELLED");
    await page.locator("h1 .status", { hasText: "CANCELLED" }).waitFor({ timeout: 30_000 });
    expect(await page.getByTestId("job-outcome").textContent()).toBe("Cancelled at step nap via the API.");
    // Who cancelled it, from the audit log: the signed-in token, by its id.
    const tokenId = (await client.expect(200, client.get(`/organizations/${orgId}/api-auth-tokens`))).tokens.find((t: { name: string }) => t.name !== "reader").apiAuthTokenId as string;
    await page.locator('.job-audit li[data-action="job.cancel"]', { hasText: `Cancelled by token ${short(tokenId)}` }).waitFor({ timeout: 30_000 });
    expect(await page.locator('table.history tr.cancelled-row td[data-label="Attempt"]').textContent()).toBe("cancelled here");
    await page.locator(".timeline-row", { hasText: "nap (cancelled)" }).locator(".status-cancelled").waitFor();
    await page.getByTestId("workflow-graph").locator('[data-step="nap"].cancelled').waitFor();
    await page.getByRole("button", { name: "Resume job" }).waitFor();
    await screenshot(page, "06-cancelled");
  });
});

describe("the console: what failed and why", () => {
  it("takes a failed fan-out's operator from 'N of M did not succeed' to the failed children, filtered across all of them", async () => {
    await page.goto(orgUrl(`/jobs/${data.jobs.chargeBatch}`));
    const outcome = page.getByTestId("job-outcome");
    await expect.poll(() => outcome.textContent()).toContain(`Failed at step fanOut: ChildJobsFailed 3 of ${CHARGE_BATCH_SIZE} child jobs did not succeed`);
    await outcome.getByRole("link", { name: `3 of ${CHARGE_BATCH_SIZE} child jobs did not succeed` }).click();
    await expect.poll(() => page.url()).toContain("children=FAILED");
    await expect.poll(() => page.getByLabel("Filter children").inputValue()).toBe("FAILED");
    const root = page.locator(`[data-job-id="${data.jobs.chargeBatch}"]`);
    await expect.poll(() => root.textContent()).toContain(`${CHARGE_BATCH_SIZE} children: ${CHARGE_BATCH_SIZE - 3} succeeded · 3 failed; 3 failed shown`);
    const failed = (await allTreeRows()).filter((r) => r.depth === 1);
    // SKU-0007, SKU-0023 and SKU-0051 are items 6, 22 and 50, in their step's order.
    expect(failed.map((r) => [r.key, r.status])).toEqual([
      ["6", "FAILED"],
      ["22", "FAILED"],
      ["50", "FAILED"],
    ]);
    await expectAccessible("failed children");
    await screenshot(page, "07-failed-children");
    if (process.env.UPDATE_DOCS_SCREENSHOT) {
      mkdirSync(resolve(import.meta.dirname, "../../docs"), { recursive: true });
      await page.evaluate(() => (globalThis as any).scrollTo(0, 0));
      await page.screenshot({ path: resolve(import.meta.dirname, "../../docs/console.png") });
    }

    // One Tab stop per row, each named with its key and status.
    const first = page.locator(`[data-job-id="${failed[0]!.id}"] a`);
    await first.focus();
    expect(await first.getAttribute("aria-label")).toBe(`charge-item ${failed[0]!.short}, key 6, FAILED`);
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => (globalThis as any).document.activeElement?.getAttribute("aria-label"))).toBe(`charge-item ${failed[1]!.short}, key 22, FAILED`);

    await page.getByLabel("Filter children").selectOption("SUCCEEDED");
    await expect.poll(() => root.textContent()).toContain(`${CHARGE_BATCH_SIZE - 3} succeeded shown`);
    const succeeded = (await allTreeRows()).filter((r) => r.depth === 1);
    expect(succeeded).toHaveLength(CHARGE_BATCH_SIZE - 3);
    expect(succeeded.every((r) => r.status === "SUCCEEDED")).toBe(true);
    await page.getByLabel("Filter children").selectOption("");
    await expect.poll(async () => (await allTreeRows()).filter((r) => r.depth === 1).length).toBe(CHARGE_BATCH_SIZE);
    expect(page.url()).not.toContain("children=");

    // The first failed child: what it sent, and what the far end answered.
    await page.getByLabel("Filter children").selectOption("FAILED");
    await page.locator(`[data-job-id="${failed[0]!.id}"] a`).click();
    await page.getByRole("heading", { level: 1, name: `charge-item ${failed[0]!.short}` }).waitFor();
    expect(await page.getByTestId("job-origin").textContent()).toBe(`child of ${short(data.jobs.chargeBatch)} (step fanOut, key 6)`);
    await page.getByRole("button", { name: /^Inspect charge, attempt 1 of 1/ }).click();
    const inspector = page.getByRole("dialog", { name: /charge/ });
    await inspector.waitFor();
    expect(await inspector.getByTestId("status-code").textContent()).toBe("402");
    expect(await inspector.getByLabel("Input", { exact: true }).textContent()).toContain('"sku": "SKU-0007"');
    expect(JSON.parse((await inspector.getByLabel("Response that failed it", { exact: true }).textContent())!)).toEqual({ error: "payment required", sku: "SKU-0007" });
    expect(await inspector.textContent()).toContain("HTTP_402");
    await expectAccessible("step inspector");
    await screenshot(page, "08-inspector-http-error");
    await inspector.getByRole("button", { name: "Close" }).click();
    await page.getByTestId("workflow-graph").locator('[data-step="charge"].failed').waitFor();
  });

  it("shows the answer that broke a step's output schema, beside the input it was sent", async () => {
    await page.goto(orgUrl(`/jobs/${data.jobs.charge}`));
    await expect.poll(() => page.getByTestId("job-outcome").textContent()).toContain("Failed at step charge: OutputValidationError");
    const row = page.locator("table.history tbody tr").first();
    expect(await row.locator('td[data-label="Attempt"]').textContent()).toBe("attempt 1 of 1");
    await row.getByRole("button", { name: /^Inspect/ }).click();
    const inspector = page.getByRole("dialog", { name: /charge/ });
    expect(JSON.parse((await inspector.getByLabel("Input", { exact: true }).textContent())!)).toEqual({ orderId: 7 });
    expect(JSON.parse((await inspector.getByLabel("Response that failed it", { exact: true }).textContent())!)).toEqual({ charged: "yes", amount: "twelve" });
    expect(await inspector.getByTestId("status-code").textContent()).toBe("200");
    expect(await inspector.textContent()).toMatch(/OutputValidationError: Step output violates its schema: .*charged/);
    // Copy the answer, as an operator pasting it into a ticket would.
    await inspector.getByRole("button", { name: "Copy response that failed it" }).click();
    await expect.poll(async () => JSON.parse((await page.evaluate(() => (globalThis as any).navigator.clipboard.readText())) || "null")).toEqual({ charged: "yes", amount: "twelve" });
    await screenshot(page, "09-inspector-schema");
    await page.keyboard.press("Escape");
    await page.getByTestId("workflow-graph").locator('[data-step="charge"].failed').waitFor();
  });

  it("tells each try of a step apart, says when the retries ran out, and never shows the secret the far end echoed", async () => {
    await page.goto(orgUrl(`/jobs/${data.jobs.declined}`));
    await page.locator("table.history tbody tr").nth(3).waitFor();
    const attempts = await page.locator('table.history td[data-label="Attempt"]').allTextContents();
    expect(attempts).toHaveLength(4);
    expect(attempts.slice(0, 3).map((a) => a.replace(/retry at .*/, "retry at"))).toEqual(["attempt 1 of 4, retry at", "attempt 2 of 4, retry at", "attempt 3 of 4, retry at"]);
    expect(attempts[3]).toBe("attempt 4 of 4, retries used up");
    await page.getByRole("button", { name: "Inspect charge, attempt 4 of 4, retries used up" }).click();
    const inspector = page.getByRole("dialog", { name: /charge/ });
    expect(await inspector.getByTestId("status-code").textContent()).toBe("503");
    expect(JSON.parse((await inspector.getByLabel("Response that failed it", { exact: true }).textContent())!)).toEqual({ error: "card processor unavailable", echoedAuthorization: "[secret]" });
    expect(await page.content()).not.toContain(PAYMENTS_KEY);
    await page.keyboard.press("Escape");
  });

  it("says what a job waits for: a retry's time and try, and a fan-out's children", async () => {
    await page.goto(orgUrl(`/jobs/${data.jobs.retrying}`));
    await expect.poll(() => page.getByTestId("waiting-for").textContent()).toMatch(/retrying step charge in \d+ min \(attempt 2 of 4\)/);
    await page.goto(orgUrl(`/jobs/${data.jobs.fanWait}`));
    await expect.poll(() => page.getByTestId("waiting-for").textContent()).toContain("waiting for 3 of 3 children at step fanOut (0 succeeded, 0 did not; 0 failures tolerated)");
    await expectAccessible("waiting fan-out");
    await page.getByRole("button", { name: "Cancel job" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Yes, cancel it" }).click();
    await expect.poll(() => page.getByTestId("job-outcome").textContent(), { timeout: 30_000 }).toBe("Cancelled at step fanOut via the API.");
    const child = (await listAllJobs(client, orgId, { parentJobId: data.jobs.fanWait }))[0];
    await waitForJob(client, orgId, child.jobId);
    await page.goto(orgUrl(`/jobs/${child.jobId}`));
    await expect.poll(() => page.getByTestId("job-outcome").textContent()).toBe("Cancelled at step nap by the parent job. The parent job was cancelled.");
  });
});

describe("the console: workflows, starting jobs, the job list and schedules", () => {
  it("draws a workflow's graph: steps with their executors, labelled branches, terminal steps, child workflows, a loop", async () => {
    await page.goto(orgUrl("/workflows"));
    await page.getByRole("link", { name: "order-batch" }).waitFor();
    await page.getByRole("cell", { name: /v1\s*\$LIVE/ }).first().waitFor();
    await expectAccessible("workflows page");
    await screenshot(page, "10-workflows");

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
    expect(page.url()).toBe(orgUrl(`/workflows/${data.ids["order-batch"]}`));
    expect(await page.title()).toBe("Workflow order-batch · Canopy");
    await expectAccessible("workflow graph page");
    await screenshot(page, "11-workflow-graph");
  });

  it("starts a job from a workflow's page with an input checked against its schema as it is typed", async () => {
    await page.goto(orgUrl(`/workflows/${data.ids.countdown}`));
    // countdown's loop: tick → tick is an edge of its own.
    const loop = page.getByTestId("workflow-graph").locator('[aria-label="Edge from tick to tick"]');
    await loop.waitFor();
    expect(await loop.locator("path").first().getAttribute("d")).toMatch(/^M /);
    await page.getByRole("button", { name: "Start job" }).click();
    const dialog = page.getByRole("dialog", { name: /Start a job of countdown/ });
    const input = dialog.getByLabel("Input", { exact: true });
    expect(JSON.parse(await input.inputValue())).toEqual({ n: 0 });
    await dialog.getByText("The input matches the workflow's workflowInput schema.").waitFor();
    await input.fill('{"n": -1}');
    await dialog.getByText("/n: -1 is less than").waitFor();
    expect(await dialog.getByRole("button", { name: "Start" }).isDisabled()).toBe(true);
    await input.fill('{"n": 2');
    await dialog.getByText(/Not valid JSON/).waitFor();
    await input.fill('{"n": 2}');
    await dialog.getByText("The input matches the workflow's workflowInput schema.").waitFor();
    await expectAccessible("start job dialog");
    await dialog.getByRole("button", { name: "Start" }).click();
    await page.getByRole("heading", { level: 1, name: /^countdown / }).waitFor();
    const jobId = /\/jobs\/([0-9a-f-]{36})$/.exec(page.url())![1]!;
    const { job } = await waitForJob(client, orgId, jobId);
    expect(job).toMatchObject({ status: "SUCCEEDED", output: { n: 0 } });
    await page.locator("h1 .status", { hasText: "SUCCEEDED" }).waitFor({ timeout: 30_000 });
    // The loop was taken, and its passes are told apart from retries.
    await expect.poll(() => page.getByTestId("workflow-graph").locator('[aria-label="Edge from tick to tick"]').getAttribute("class")).toContain("taken");
    expect(await page.locator('table.history td[data-label="Attempt"]').allTextContents()).toEqual(["attempt 1 of 1", "iteration 1 · attempt 1 of 1", "iteration 2 · attempt 1 of 1"]);
    // A succeeded job without children: no empty tree box, only Rerun to offer; input and output near the top.
    expect(await page.getByRole("heading", { name: "Job tree" }).count()).toBe(0);
    await expectOnlyRerunOffered();
    expect(JSON.parse((await page.getByLabel("Job output", { exact: true }).textContent())!)).toEqual({ n: 0 });
    await page.getByRole("button", { name: "Copy job id" }).click();
    await expect.poll(() => page.evaluate(() => (globalThis as any).navigator.clipboard.readText())).toBe(jobId);
    await screenshot(page, "12-started-job");

    await page.getByRole("link", { name: "countdown", exact: true }).click();
    await page.getByRole("region", { name: "Recent jobs" }).getByRole("link", { name: short(jobId) }).waitFor();
    // Its metrics, as small charts: the run just made is counted once its end is flushed.
    await expect.poll(() => page.getByTestId("workflow-metrics").locator("figure.chart").count()).toBe(4);
    await expect.poll(async () => (await page.getByRole("img", { name: /^Runs per hour/ }).getAttribute("aria-label")) ?? "", { timeout: 60_000 }).not.toContain("no data");
    await expectAccessible("workflow page with recent jobs and metrics");
    await screenshot(page, "13-workflow-metrics");
  });

  it("finds a job by the first characters of its id; lists top-level jobs with step, error code and origin; stays live", async () => {
    await page.goto(orgUrl("/jobs"));
    await expect.poll(() => page.title()).toBe("Jobs · Canopy");
    // Top-level by default: the batches' children are not listed.
    const top = (await client.expect(200, client.get(`/organizations/${orgId}/jobs?jobHierarchy=TOP_LEVEL_ONLY&pageSize=1`))).totalCount;
    await expect.poll(() => page.getByTestId("total-count").textContent()).toMatch(new RegExp(`^${top} jobs`));
    const declined = page.locator(`tr[data-job-id="${data.jobs.declined}"]`);
    expect(await declined.locator('td[data-label="Error"]').textContent()).toBe("HTTP_503");
    expect(await page.locator(`tr[data-job-id="${data.jobs.retrying}"] td[data-label="Current step"]`).textContent()).toBe("charge");
    expect(await page.locator(`tr[data-job-id="${data.jobs.fromHook}"] td[data-label="Started by"]`).textContent()).toBe(`webhook trigger ${short(data.triggerId)}`);
    expect(await declined.locator('td[data-label="Started by"]').textContent()).toMatch(/^API token tests /);
    const created = declined.locator('td[data-label="Created"] time');
    expect(await created.textContent()).toMatch(/ago$/);
    expect(await created.getAttribute("title")).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);

    // A child's id, by its first characters: found though children are not listed by default.
    const child = (await listAllJobs(client, orgId, { parentJobId: data.jobs.chargeBatch, status: "FAILED" }))[0];
    await page.getByLabel("Search jobs").fill(short(child.jobId).toUpperCase());
    await page.getByRole("button", { name: "Apply" }).click();
    await page.locator(`tr[data-job-id="${child.jobId}"]`).waitFor();
    expect(page.url()).toContain(`q=${short(child.jobId).toUpperCase()}`);
    await expectAccessible("jobs page, searched");
    // The whole id opens the job.
    await page.getByLabel("Search jobs").fill(data.jobs.charge);
    await page.getByRole("button", { name: "Apply" }).click();
    await page.getByRole("heading", { level: 1, name: `charge ${short(data.jobs.charge)}` }).waitFor();
    // Back returns to the search before it, not to a search that would open the job again.
    await page.goBack();
    await page.locator(`tr[data-job-id="${child.jobId}"]`).waitFor();

    // A job's children, by its id, in one status: the parent filter.
    await page.goto(orgUrl(`/jobs?parentJobId=${data.jobs.chargeBatch}&status=FAILED`));
    await expect.poll(() => page.getByTestId("total-count").textContent()).toMatch(/^3 jobs/);
    expect(await page.getByLabel("Parent job id").inputValue()).toBe(data.jobs.chargeBatch);
    expect(await page.locator('tbody td[data-label="Error"]').allTextContents()).toEqual(["HTTP_402", "HTTP_402", "HTTP_402"]);
    await page.getByLabel("Parent job id").fill("");
    await page.getByLabel("Root job id").fill(data.jobs.chargeBatch);
    await page.getByRole("button", { name: "Apply" }).click();
    await expect.poll(() => page.getByTestId("total-count").textContent()).toMatch(/^4 jobs/);
    expect(page.url()).toContain(`rootJobId=${data.jobs.chargeBatch}`);

    // The page is in the URL, and the list follows a running job to its end by itself.
    await page.goto(orgUrl("/jobs?hierarchy=ALL&workflowName=order-batch"));
    const big = page.locator(`tr[data-job-id="${data.jobs.batch1000}"]`);
    await waitForJob(client, orgId, data.jobs.batch1000, (j) => j.currentStepName === "approve", 280_000);
    await expect.poll(() => big.locator(".status").textContent(), { timeout: 30_000 }).toBe("RUNNING");
    expect(await page.getByLabel("Hierarchy").inputValue()).toBe("ALL");
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${data.jobs.batch1000}/events`, { eventId: "manager-approved", payload: { approved: true } }));
    await expect.poll(() => big.locator(".status").textContent(), { timeout: 30_000 }).toBe("SUCCEEDED");
    await page.goto(orgUrl("/jobs?hierarchy=CHILD_JOBS_ONLY&workflowName=order-item"));
    await expect.poll(() => page.getByTestId("total-count").textContent()).toMatch(/^1050 jobs/);
    expect(await page.locator("tbody tr").count()).toBe(50);
    await page.getByRole("button", { name: "Next page" }).click();
    await expect.poll(() => page.getByTestId("total-count").textContent()).toContain("page 2");
    expect(page.url()).toContain("pages=");
    await page.reload();
    await expect.poll(() => page.getByTestId("total-count").textContent()).toContain("page 2");
    await expectAccessible("jobs page");
    await screenshot(page, "14-jobs");
  });

  it("lists schedules with their cron, workflow, next fire times and recent actions; triggers, pauses, unpauses and backfills one", async () => {
    await page.getByRole("navigation", { name: "Organization" }).getByRole("link", { name: "Schedules" }).click();
    const card = page.locator(`[data-schedule-id="${data.scheduleId}"]`);
    await card.getByRole("heading", { name: "0 0 1 1 * UTC" }).waitFor();
    expect(await card.getByRole("link", { name: "countdown" }).getAttribute("href")).toBe(`/console/organizations/${orgId}/workflows/${data.ids.countdown}`);
    await expect.poll(() => card.locator("h3:has-text('Next fire times') + ol li").count()).toBe(5);
    expect(await card.getByText("None yet.").count()).toBe(1);
    await expectAccessible("schedules page");

    await card.getByRole("button", { name: "Trigger now" }).click();
    await card.getByText(/^Triggered: job [0-9a-f]{8}/).waitFor();
    const jobLink = card.locator(".recent-actions a").first();
    await jobLink.waitFor();
    await card.getByRole("button", { name: "Pause" }).click();
    await card.getByText("paused", { exact: true }).waitFor();
    expect((await client.expect(200, client.get(`/organizations/${orgId}/schedules/${data.scheduleId}`))).paused).toBe(true);
    await card.getByRole("button", { name: "Unpause" }).click();
    await card.getByText("active", { exact: true }).waitFor();
    // Two past New Years: two firings.
    const year = new Date().getUTCFullYear();
    await card.getByLabel("Backfill from").fill(`${year - 2}-12-31T00:00`);
    await card.getByLabel("to", { exact: true }).fill(`${year}-01-01T12:00`);
    await card.getByRole("button", { name: "Backfill" }).click();
    await card.getByText("Backfill queued 2 firings.").waitFor();
    await expect.poll(() => card.locator(".recent-actions li").count(), { timeout: 30_000 }).toBe(3);
    await screenshot(page, "15-schedules");
    // A scheduled job names its schedule, with a link back.
    await jobLink.click();
    await page.getByTestId("job-origin").getByRole("link", { name: short(data.scheduleId) }).click();
    await expect.poll(() => page.url()).toContain(`/schedules#schedule-${data.scheduleId}`);
  });

  it("creates a webhook trigger (the secret shown once), lists it, deletes it", async () => {
    await page.goto(orgUrl("/triggers"));
    await page.locator('tr[data-trigger="countdown-hook"]').waitFor();
    await page.getByLabel("Name").fill("orders-hook");
    await page.getByLabel("Workflow").selectOption({ label: "order-batch" });
    await page.getByRole("button", { name: "Create trigger" }).click();
    const secret = await page.getByTestId("trigger-secret").textContent();
    expect(secret).toMatch(/^whsec_/);
    await page.locator('tr[data-trigger="orders-hook"]').waitFor();
    await expectAccessible("triggers page");
    await screenshot(page, "16-trigger-created");
    const listed = await client.expect(200, client.get(`/organizations/${orgId}/webhook-triggers`));
    expect(listed.webhookTriggers.map((t: { name: string }) => t.name).sort()).toEqual(["countdown-hook", "orders-hook"]);
    expect(JSON.stringify(listed)).not.toContain(secret!);

    await page.getByRole("button", { name: "Delete orders-hook" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Yes, delete it" }).click();
    await page.locator('tr[data-trigger="orders-hook"]').waitFor({ state: "detached" });
    expect((await client.expect(200, client.get(`/organizations/${orgId}/webhook-triggers`))).webhookTriggers).toHaveLength(1);
  });
});

describe("the console: time travel", () => {
  /** ship-order's first failed job's rerun, made in the first test (the bulk rerun answers it again). */
  let rerunOfFirst = "";

  it("reruns a failed job from the step it failed at, on a fixed version, with a new input checked as it is typed; a version without that step is refused in words; the lineage links both ways", async () => {
    const [first] = data.shipOrder.failed;
    await page.goto(orgUrl(`/jobs/${first}`));
    await page.getByRole("heading", { level: 1, name: `ship-order ${short(first)}` }).waitFor();
    await page.getByRole("button", { name: "Rerun…" }).click();
    const dialog = page.getByRole("dialog", { name: `Rerun ship-order ${short(first)}` });
    await dialog.waitFor();
    // The step picker lists the graph's steps, the failed one preselected.
    const steps = dialog.getByLabel("Begin at step");
    await expect.poll(() => steps.inputValue()).toBe("ship");
    expect(await steps.locator("option").allTextContents()).toEqual(["reserve", "ship (where it failed)"]);
    // The version picker lists the workflow's versions, the job's own preselected.
    const versions = dialog.getByLabel("Version");
    await expect.poll(() => versions.locator("option").allTextContents()).toEqual([`v${data.shipOrder.v3} [$LIVE]`, `v${data.shipOrder.v2}`, "v1 (this job's)"]);
    expect(await versions.locator("option:checked").textContent()).toBe("v1 (this job's)");
    await expectAccessible("the rerun dialog");

    // v3 has no step ship: the API's 400, in words, in the dialog; nothing opens.
    await versions.selectOption({ label: `v${data.shipOrder.v3} [$LIVE]` });
    await dialog.getByRole("button", { name: "Rerun", exact: true }).click();
    await expect.poll(() => dialog.getByRole("alert").textContent()).toContain(`The job was not rerun: ValidationError Step "ship" is not a step of`);
    expect(page.url()).toBe(orgUrl(`/jobs/${first}`));

    // The fix, with a new input: checked against the version's workflowInput schema as it is typed.
    await versions.selectOption({ label: `v${data.shipOrder.v2}` });
    expect(await dialog.getByRole("alert").count()).toBe(0);
    await dialog.getByLabel("Replace the job's input (workflowInput)").check();
    const input = dialog.getByLabel("New input");
    expect(JSON.parse(await input.inputValue())).toEqual({ sku: "A-1" });
    await input.fill('{"sku": 5}');
    await expect.poll(() => dialog.locator("#rerun-input-problems").textContent()).toMatch(/sku/);
    expect(await dialog.getByRole("button", { name: "Rerun", exact: true }).isDisabled()).toBe(true);
    await input.fill('{"sku": "A-2"}');
    await expect.poll(() => dialog.locator("#rerun-input-problems").textContent()).toBe("The input matches the workflow's workflowInput schema.");
    await expectAccessible("the rerun dialog with a new input");
    await screenshot(page, "23-rerun-dialog");
    await dialog.getByRole("button", { name: "Rerun", exact: true }).click();

    // The new job opens, runs only ship (on v2) and succeeds with the new input; it links to its source.
    await page.waitForURL((u) => /\/jobs\/[0-9a-f-]{36}$/.test(u.pathname) && !u.pathname.endsWith(first));
    rerunOfFirst = page.url().split("/").pop()!;
    await page.getByRole("heading", { level: 1, name: `ship-order ${short(rerunOfFirst)}` }).waitFor();
    await expect.poll(() => page.locator("h1 .status").first().textContent(), { timeout: 30_000 }).toBe("SUCCEEDED");
    expect(await page.getByTestId("job-lineage").textContent()).toBe(`Rerun of ${short(first)} from step ship, on v${data.shipOrder.v2}.`);
    expect((await client.expect(200, client.get(`/organizations/${orgId}/jobs/${rerunOfFirst}`))).job.output).toEqual({ shipped: "A-2" });
    await page.getByRole("link", { name: `job ${short(first)}, the job this one reruns` }).click();
    await page.getByRole("heading", { level: 1, name: `ship-order ${short(first)}` }).waitFor();
    const reruns = page.getByTestId("job-lineage");
    await reruns.locator(`li[data-job-id="${rerunOfFirst}"]`).waitFor();
    // The source's reruns come from the job index (ListJobs rerunOf), which learns the rerun's end a moment later.
    await expect.poll(() => reruns.textContent(), { timeout: 30_000 }).toBe(`Rerun 1 time:${short(rerunOfFirst)} from step ship on v${data.shipOrder.v2} SUCCEEDED`);
  });

  it("reruns every failed job of the listed workflow from the Jobs page on a chosen version, and shows each one's rerun", async () => {
    const [first, second] = data.shipOrder.failed;
    await page.goto(orgUrl("/jobs?workflowName=ship-order&status=FAILED"));
    await expect.poll(() => page.getByTestId("total-count").textContent()).toMatch(/^2 jobs/);
    await page.getByRole("button", { name: "Rerun failed jobs…" }).click();
    const dialog = page.getByRole("dialog", { name: "Rerun failed jobs of ship-order" });
    await dialog.waitFor();
    const versions = dialog.getByLabel("Version");
    await expect.poll(() => versions.locator("option").count()).toBe(4);
    await versions.selectOption({ label: `v${data.shipOrder.v2}` });
    expect(await dialog.getByLabel("Begin at step").locator("option").allTextContents()).toEqual(["The step each job failed at", "reserve", "ship"]);
    await expectAccessible("the rerun failed jobs dialog");
    await dialog.getByRole("button", { name: "Rerun failed jobs" }).click();
    await expect.poll(() => dialog.getByRole("status").textContent()).toBe("2 of 2 jobs rerun.");
    await expectAccessible("the rerun failed jobs dialog's results");
    await screenshot(page, "24-rerun-failed-jobs");
    // The first was rerun onto v2 from ship already: that rerun is its answer. The second gets a new one.
    const line = (jobId: string) => dialog.locator(`li[data-source-job-id="${jobId}"]`);
    expect(await line(first).getByRole("link", { name: /^its rerun/ }).getAttribute("href")).toBe(`/console/organizations/${orgId}/jobs/${rerunOfFirst}`);
    await line(second).getByRole("link", { name: /^its rerun/ }).click();
    await page.getByTestId("job-lineage").waitFor();
    expect(await page.getByTestId("job-lineage").textContent()).toBe(`Rerun of ${short(second)} from step ship, on v${data.shipOrder.v2}.`);
    await expect.poll(() => page.locator("h1 .status").first().textContent(), { timeout: 30_000 }).toBe("SUCCEEDED");
  });

  it("pauses a running fan-out and unpauses it: the badge on its page, on its row in the job list and on its children's rows in the tree", async () => {
    const jobId = data.jobs.pauseMe;
    await page.goto(orgUrl(`/jobs/${jobId}`));
    await page.getByRole("button", { name: "Pause job", exact: true }).click();
    await page.locator("h1 .status-paused").waitFor();
    expect(await page.locator("p.notice").textContent()).toBe("Paused: the job starts no new step until it is unpaused.");
    expect(await page.getByRole("button", { name: "Pause job", exact: true }).count()).toBe(0);
    // Its children hear of it from its alarm, and the job index shows them paused.
    const pausedChildren = page.getByTestId("job-tree").locator('[data-depth="1"] .status-paused');
    await expect.poll(() => pausedChildren.count(), { timeout: 30_000 }).toBe(2);
    await expectAccessible("a paused job");
    await screenshot(page, "25-paused-job");
    await page.goto(orgUrl("/jobs?workflowName=fan-wait"));
    await page.locator(`tr[data-job-id="${jobId}"] .status-paused`).waitFor();
    expect(await page.locator(`tr[data-job-id="${data.jobs.fanWait}"] .status-paused`).count()).toBe(0);

    await page.goto(orgUrl(`/jobs/${jobId}`));
    await page.getByRole("button", { name: "Unpause job" }).click();
    await expect.poll(() => page.locator("h1 .status-paused").count()).toBe(0);
    expect(await page.locator("p.notice").textContent()).toBe("Unpaused.");
    await expect.poll(() => page.getByTestId("job-tree").locator(".status-paused").count(), { timeout: 30_000 }).toBe(0);
    expect((await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}`))).job).toMatchObject({ status: "RUNNING" });
  });
});

describe("the console: long histories and large values", () => {
  /** The size as the console says it ("1.1 MiB"), from the bytes the API gave. */
  const size = (n: number) => (n < 1024 * 1024 ? `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`);
  /** Every history item id of a job, read through the API page by page, and how many pages that took. */
  async function historyIds(jobId: string): Promise<{ ids: string[]; pages: number }> {
    const ids: string[] = [];
    let pages = 0;
    let token: string | undefined;
    do {
      const p = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state${token ? `?pageToken=${token}` : ""}`));
      ids.push(...p.state.executionHistory.map((h: { id: string }) => h.id));
      token = p.nextPageToken;
      pages += 1;
    } while (token);
    return { ids, pages };
  }
  const shownIds = () => page.locator("table.history tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-history-id")));

  it("shows every item of a history longer than one answer (Load more history), and a live update keeps the pages loaded without a duplicate", async () => {
    const jobId = data.jobs.longHistory;
    const before = await historyIds(jobId);
    expect(before.pages).toBeGreaterThanOrEqual(2);
    await page.goto(orgUrl(`/jobs/${jobId}`));
    const more = page.getByRole("button", { name: "Load more history" });
    await more.waitFor();
    const first = await shownIds();
    expect(first).toEqual(before.ids.slice(0, first.length));
    expect(first.length).toBeLessThan(before.ids.length);
    expect(await page.getByTestId("history-count").textContent()).toBe(`Showing ${first.length} items; the history goes on.`);
    await expectAccessible("a long history with more to load");
    for (let pages = 1; pages < before.pages; pages++) {
      const shown = (await shownIds()).length;
      await more.click();
      await expect.poll(async () => (await shownIds()).length).toBeGreaterThan(shown);
    }
    await page.getByTestId("history-count").getByText(`All ${before.ids.length} items of the history are shown.`).waitFor();
    expect(await more.count()).toBe(0);
    expect(await shownIds()).toEqual(before.ids);
    await page.locator(`tr[data-history-id="${before.ids.at(-1)}"]`).waitFor();
    await screenshot(page, "26-long-history");
    // The job goes on (the event ends its wait): the page reads its last page again and shows the
    // event and the end, every page before still there and no item twice.
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/events`, { eventId: "go", payload: { go: true } }));
    expect((await waitForJob(client, orgId, jobId, undefined, 60_000)).job.status).toBe("SUCCEEDED");
    const after = await historyIds(jobId);
    expect(after.ids.length).toBeGreaterThan(before.ids.length);
    await page.getByText("ended, not updating").waitFor({ timeout: 30_000 });
    await expect.poll(shownIds, { timeout: 30_000 }).toEqual(after.ids);
    await expectAccessible("a long history, all loaded");
  });

  it("says a value is too large to show, with its size, and reads it whole on request: the job's input and output, and a step's", async () => {
    const jobId = data.jobs.wide;
    const { job } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}`));
    expect(job.status).toBe("SUCCEEDED");
    const tooLarge = job.outputTooLarge as { bytes: number; read: string };
    expect(tooLarge.bytes).toBeGreaterThan(1024 * 1024);
    const { state } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state`));
    const inputBytes: number = state.executionData.workflowInput.canopyOmitted.bytes;
    await page.goto(orgUrl(`/jobs/${jobId}`));

    // The output: said in words, read page by page on request, shown in part and downloadable whole.
    const output = page.getByTestId("large-value").filter({ hasText: "Job output" });
    await output.getByText(`Job output: too large to show here: ${size(tooLarge.bytes)}.`).waitFor();
    const input = page.getByTestId("large-value").filter({ hasText: "Job input" });
    await input.getByText(`Job input: too large to show here: ${size(inputBytes)}.`).waitFor();
    await expectAccessible("a job whose input and output are too large to show");
    await output.getByRole("button", { name: "Load the whole job output" }).click();
    const download = output.getByRole("link", { name: /^Download job output/ });
    await download.waitFor({ timeout: 30_000 });
    expect(await output.getByRole("status").textContent()).toContain("Showing the first 64 KiB; the download holds the whole value");
    expect(await output.getByLabel("Job output").textContent()).toMatch(/^\{\n {2}"results": \[/);
    const [file] = await Promise.all([page.waitForEvent("download"), download.click()]);
    const whole = JSON.parse(await readFile(await file.path(), "utf8"));
    expect(whole.results.map((r: any) => [r.id, r.status, r.output.pad.length])).toEqual(["a", "b", "c", "d"].map((id) => [id, "SUCCEEDED", 300_000]));
    expect(Buffer.byteLength(JSON.stringify(whole))).toBe(tooLarge.bytes);
    // The input, read whole (one page).
    await input.getByRole("button", { name: "Load the whole job input" }).click();
    await expect.poll(() => input.getByLabel("Job input").textContent(), { timeout: 30_000 }).toMatch(/^\{\n {2}"pad": "q{100}/);
    await expectAccessible("a job's large input and output, read");
    await screenshot(page, "27-large-values");

    // The fan-out step's input and output in the step inspector.
    await page.locator("table.history tr", { hasText: "fan" }).getByRole("button", { name: /^Inspect/ }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByText(`Input: too large to show here: ${size(inputBytes)}.`).waitFor();
    await dialog.getByText(`Output: too large to show here: ${size(tooLarge.bytes)}.`).waitFor();
    await expectAccessible("step inspector with values too large to show");
    await dialog.getByRole("button", { name: "Load the whole output" }).click();
    await expect.poll(() => dialog.getByLabel("Output", { exact: true }).textContent(), { timeout: 30_000 }).toMatch(/"results": \[/);
    await dialog.getByRole("link", { name: /^Download output/ }).waitFor();
    await expectAccessible("step inspector with its output read");
    await dialog.getByRole("button", { name: "Close" }).click();
  });
});

describe("the console: tokens, errors and small screens", () => {
  it("shows the audit log with a filter by action; the job page hides it from a token that may not read it", async () => {
    await page.goto(orgUrl("/jobs"));
    await page.getByRole("link", { name: "Audit log" }).click();
    await page.getByRole("heading", { level: 1, name: "Audit log" }).waitFor();
    await expect.poll(() => page.title()).toBe("Audit log · Canopy");
    await page.locator('tr[data-action="job.cancel"]').first().waitFor();
    await page.locator('tr[data-action="trigger.create"]').first().waitFor();
    await expectAccessible("audit log page");
    await screenshot(page, "18-audit-log");
    await page.getByLabel("Action").selectOption("trigger.delete");
    await expect.poll(() => page.locator("tbody tr").count()).toBe(1);
    expect(await page.locator("tbody tr").first().getAttribute("data-action")).toBe("trigger.delete");
    expect(page.url()).toBe(orgUrl("/audit-log?action=trigger.delete"));
  });

  it("reads well on a 390 px screen: the timeline, badges, tree rows and tables", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      await page.goto(orgUrl(`/jobs/${data.jobs.chargeBatch}`));
      await page.locator('[data-depth="1"]').first().waitFor();
      // Nothing of the page is wider than the screen.
      expect(await page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      const axis = page.locator(".timeline-axis span").first();
      expect(await axis.evaluate((el) => parseFloat((globalThis as any).getComputedStyle(el).fontSize))).toBeGreaterThanOrEqual(12);
      const badge = page.locator(".tree-row .status").first();
      const box = (await badge.boundingBox())!;
      expect(box.x + box.width).toBeLessThanOrEqual(390);
      await expectAccessible("job page at 390 px");
      await screenshot(page, "17-phone-job");
      await page.goto(orgUrl("/jobs"));
      await page.locator("tbody tr").first().waitFor();
      expect(await page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await expectAccessible("jobs page at 390 px");
      await screenshot(page, "18-phone-jobs");
    } finally {
      await page.setViewportSize({ width: 1400, height: 1000 });
    }
  });

  it("answers an unknown job id with a page that says so, and a way back", async () => {
    await page.goto(orgUrl(`/jobs/${crypto.randomUUID()}`));
    await page.getByRole("heading", { name: "Job not found" }).waitFor();
    expect(await page.title()).toBe("Job not found · Canopy");
    await expectAccessible("unknown job");
    await page.getByRole("link", { name: "Back to the jobs" }).click();
    await page.getByRole("heading", { name: "Jobs" }).waitFor();
  });

  it("signs in a token that may read jobs but not its organization, and offers it no action it may not take", async () => {
    await signIn(data.readerToken);
    await page.getByRole("heading", { name: "Jobs" }).waitFor();
    expect(page.url()).toBe(orgUrl("/jobs"));
    await page.goto(orgUrl(`/jobs/${data.jobs.retrying}`));
    await page.getByTestId("waiting-for").waitFor();
    for (const name of ["Cancel job", "Resume job", "Send event", "Pause job", "Unpause job"]) expect(await page.getByRole("button", { name }).count(), name).toBe(0);
    expect(await page.getByRole("heading", { name: "Actions" }).count()).toBe(0);
    await page.goto(orgUrl(`/jobs/${data.jobs.sleeper}`));
    await page.locator("h1 .status", { hasText: "CANCELLED" }).waitFor();
    expect(await page.getByRole("button", { name: "Resume job" }).count()).toBe(0);
    expect(await page.getByRole("button", { name: "Rerun…" }).count()).toBe(0);
    // Without organization:read the page leaves out who cancelled it (the audit log), and shows no error.
    await page.getByRole("heading", { name: "History" }).waitFor();
    expect(await page.locator(".job-audit").count()).toBe(0);
    expect(await page.getByRole("alert").count()).toBe(0);
    await page.goto(orgUrl("/jobs?workflowName=ship-order"));
    await page.locator(`tr[data-job-id="${data.shipOrder.failed[0]}"]`).waitFor();
    expect(await page.getByRole("button", { name: "Rerun failed jobs…" }).count()).toBe(0);
    await page.goto(orgUrl(`/workflows/${data.ids.countdown}`));
    await page.getByRole("heading", { level: 1, name: "countdown" }).waitFor();
    await page.getByTestId("workflow-graph").waitFor();
    expect(await page.getByRole("button", { name: "Start job" }).count()).toBe(0);
    // No metrics:read, no charts.
    expect(await page.getByTestId("workflow-metrics").count()).toBe(0);
    await page.goto(orgUrl("/schedules"));
    await page.locator(`[data-schedule-id="${data.scheduleId}"] h3`, { hasText: "Next fire times" }).waitFor();
    for (const name of ["Pause", "Trigger now", "Backfill"]) expect(await page.getByRole("button", { name }).count(), name).toBe(0);
    await page.goto(orgUrl("/triggers"));
    await page.locator('tr[data-trigger="countdown-hook"]').waitFor();
    expect(await page.getByRole("button", { name: "Create trigger" }).count()).toBe(0);
    expect(await page.getByRole("button", { name: /^Delete/ }).count()).toBe(0);
    await expectAccessible("a reader's triggers page");
  });

  it("returns a token that was revoked to sign-in, saying why", async () => {
    const doomed = await server.admin.expect(200, server.admin.post(`/organizations/${orgId}/api-auth-tokens`, { name: "doomed" }));
    await signIn(doomed.token);
    await page.getByRole("heading", { name: "Jobs" }).waitFor();
    await server.admin.expect(200, server.admin.delete(`/organizations/${orgId}/api-auth-tokens/${doomed.apiAuthTokenId}`));
    // The page's own live reload may find the token revoked before the click does (the Refresh
    // button is then gone with the page): either way the user is signed out, and told why.
    await page.getByRole("button", { name: "Refresh" }).click({ timeout: 5_000 }).catch(() => undefined);
    await page.getByRole("alert").getByText("You were signed out").waitFor();
    expect(await page.getByRole("alert").textContent()).toContain("Unknown, revoked or expired token.");
    expect(await page.evaluate(() => sessionStorage.getItem("canopy.token"))).toBeNull();
    await expectAccessible("signed out");
    await screenshot(page, "19-signed-out");
  });

  it("explains how to start in an empty organization", async () => {
    const empty = await newTenant(server.admin);
    // From the start page: the address still names the other organization.
    await page.goto(url("/"));
    await page.getByLabel("API token").fill(empty.token);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText(/^No jobs yet\. Start one from a workflow's page/).waitFor();
    await page.getByRole("navigation", { name: "Organization" }).getByRole("link", { name: "Workflows" }).click();
    await page.getByText(/^No workflows yet\. Register one with/).waitFor();
    await expectAccessible("empty organization");
  });

  it("lets an admin token pick an organization", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    expect(await page.evaluate(() => sessionStorage.getItem("canopy.token"))).toBeNull();
    await page.getByLabel("API token").fill(server.adminToken);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Organizations" }).waitFor();
    await expectAccessible("organization picker");
    await screenshot(page, "20-organizations");
    const org = await client.expect<{ displayName: string }>(200, client.get(`/organizations/${orgId}`));
    await page.getByRole("link", { name: org.displayName }).click();
    await page.getByRole("heading", { name: "Jobs" }).waitFor();
    expect(page.url()).toBe(orgUrl("/jobs"));
  });

  it("shows a 1,000-child job's tree, paged in as it scrolls (time to show it printed, not asserted)", async () => {
    await page.goto("about:blank");
    const started = Date.now();
    await page.goto(orgUrl(`/jobs/${data.jobs.batch1000}`));
    await page.locator('[data-depth="1"]').first().waitFor({ timeout: 60_000 });
    const firstRows = Date.now() - started;
    await expect.poll(() => page.locator(`[data-job-id="${data.jobs.batch1000}"]`).textContent(), { timeout: 60_000 }).toContain("1000 children: 1000 succeeded");
    const rows = await allTreeRows();
    const scrolled = Date.now() - started;
    expect(rows.filter((r) => r.depth === 1).map((r) => r.key)).toEqual(Array.from({ length: 1000 }, (_, i) => String(i)));
    // Virtualized: only the rows on screen are in the page.
    expect(await page.locator("[data-job-id]").count()).toBeLessThan(80);
    const measured = `1,000-child job page: tree shown ${firstRows} ms after navigation; all 1,000 rows paged in and scrolled through after ${scrolled} ms`;
    console.log(measured);
    // vitest shows a passed test's console only when not silent (vitest.config.ts): this line always shows.
    process.stderr.write(`\n${measured}\n`);
    await screenshot(page, "21-job-tree-1000");
  });

  it("ran every page above under its Content-Security-Policy without a violation, and the API reference too", async () => {
    // The API reference (/docs) is served under the same policy, from the engine's own files.
    await page.goto(`${server.baseUrl}/docs`);
    await page.locator(".swagger-ui .opblock").first().waitFor({ timeout: 60_000 });
    await screenshot(page, "22-api-reference");
    const policy = (await page.request.get(url("/"))).headers()["content-security-policy"];
    expect(policy).toContain("frame-ancestors 'none'");
    expect(cspViolations).toEqual([]);
    // The watch sees a violation when there is one: an inline style, which the policy refuses.
    await page.goto(url("/"));
    await page.evaluate(`{ const s = document.createElement("style"); s.textContent = "body { color: red }"; document.head.append(s); }`);
    await expect.poll(() => cspViolations.join("\n")).toContain("style-src");
  });
});
