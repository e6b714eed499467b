#!/usr/bin/env node
// `npm run demo`: against a running `npm start`, register the examples/ workflows, run an order batch
// fanned out to one child job per item, approve it, and print the finished job tree.
//
// Honours CANOPY_URL (default http://localhost:8787), ADMIN_TOKEN (else read from .dev.vars),
// DEMO_ITEMS (default 50) and DEMO_TIMEOUT_MS (default 120000).
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const baseUrl = (process.env.CANOPY_URL ?? "http://localhost:8787").replace(/\/+$/, "");
const itemCount = Number(process.env.DEMO_ITEMS ?? 50);
const timeoutMs = Number(process.env.DEMO_TIMEOUT_MS ?? 120_000);
const ORG_KEY = "canopy-demo";
const TERMINAL = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);

// ---------------------------------------------------------------- output

const tty = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
const sgr = (code) => (s) => (tty ? `\x1b[${code}m${s}\x1b[0m` : String(s));
const c = { bold: sgr(1), dim: sgr(2), red: sgr(31), green: sgr(32), yellow: sgr(33), cyan: sgr(36), grey: sgr(90) };
const statusColour = { SUCCEEDED: c.green, FAILED: c.red, CANCELLED: c.grey, RUNNING: c.yellow, PENDING: c.yellow };
const paint = (status) => (statusColour[status] ?? ((s) => s))(status);
const say = (msg) => console.log(`${c.cyan("▸")} ${msg}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A one-line progress indicator: rewritten in place on a terminal, silent otherwise. */
function progress(text) {
  if (tty) process.stdout.write(`\r\x1b[2K  ${c.dim(text)}`);
}
function progressDone() {
  if (tty) process.stdout.write("\r\x1b[2K");
}

class DemoError extends Error {}
function fail(message) {
  throw new DemoError(message);
}

// ---------------------------------------------------------------- HTTP

function adminToken() {
  if (process.env.ADMIN_TOKEN) return process.env.ADMIN_TOKEN;
  const path = resolve(root, ".dev.vars");
  if (existsSync(path)) {
    const m = /^ADMIN_TOKEN\s*=\s*"?([^"\n]*)"?\s*$/m.exec(readFileSync(path, "utf8"));
    if (m?.[1]) return m[1];
  }
  fail(
    "No admin token: set ADMIN_TOKEN to the token `npm start` uses, or run `npm start` once without one so\n" +
      "  that it generates .dev.vars in this directory.",
  );
}

/** A JSON client for one bearer token. Errors carry the API's code and message. */
function client(token, who) {
  const call = async (method, path, body) => {
    let res;
    try {
      res = await fetch(baseUrl + path, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (err) {
      fail(`Cannot reach Canopy at ${baseUrl} (${err.cause?.code ?? err.message}).\n  Is it running? Start it with \`npm start\` in another terminal, or set CANOPY_URL.`);
    }
    const text = await res.text();
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      fail(`${method} ${path} → ${res.status}: not JSON (is ${baseUrl} really Canopy?)\n  ${text.slice(0, 200)}`);
    }
    if (res.status === 401) {
      fail(
        `The ${who} token was refused (401 ${json?.code ?? ""}: ${json?.message ?? text}).\n` +
          (who === "admin" ? "  Set ADMIN_TOKEN to the token the server was started with (see .dev.vars)." : ""),
      );
    }
    if (!res.ok) {
      const err = new Error(`${method} ${path} → ${res.status} ${json?.code ?? ""}: ${json?.message ?? text}`);
      err.status = res.status;
      err.body = json;
      throw err;
    }
    return json;
  };
  return {
    get: (p) => call("GET", p),
    post: (p, b) => call("POST", p, b ?? {}),
    put: (p, b) => call("PUT", p, b ?? {}),
    del: (p) => call("DELETE", p),
  };
}

/** Runs fn over items with at most `limit` in flight; results keep the items' order. */
async function mapLimit(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

// ---------------------------------------------------------------- definitions

/** JSON with sorted keys, to compare definitions regardless of formatting. */
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}

/** The workflow names a definition starts as children. */
function childWorkflowNames(definition) {
  const names = [];
  for (const step of definition.steps ?? []) {
    for (const child of step.integrationDetails?.config?.children ?? []) {
      if (child.workflowName) names.push(child.workflowName);
    }
  }
  return names;
}

/** examples/*.json, each workflow after the workflows it starts as children. */
function loadExamples() {
  const dir = resolve(root, "examples");
  const byName = new Map();
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".json")).sort()) {
    const definition = JSON.parse(readFileSync(resolve(dir, file), "utf8"));
    byName.set(definition.workflowName, definition);
  }
  const ordered = [];
  const seen = new Set();
  const visit = (name) => {
    if (seen.has(name) || !byName.has(name)) return;
    seen.add(name);
    for (const child of childWorkflowNames(byName.get(name))) visit(child);
    ordered.push(byName.get(name));
  };
  for (const name of byName.keys()) visit(name);
  return ordered;
}

// ---------------------------------------------------------------- setup

async function demoOrganization(admin) {
  const find = async () => (await admin.get("/organizations")).organizations.find((o) => o.key === ORG_KEY);
  let org = await find();
  if (org) return { org, created: false };
  try {
    org = await admin.post("/organizations", { name: "Canopy demo", key: ORG_KEY, displayName: "Canopy demo" });
    return { org, created: true };
  } catch (err) {
    if (err.status === 409 && (org = await find())) return { org, created: false };
    throw err;
  }
}

/** Registers the workflow if new, adds a version if the $LIVE one differs, and points $LIVE at it. */
async function deploy(api, orgPath, workflows, definition) {
  const name = definition.workflowName;
  let workflowId = workflows.find((w) => w.name === name)?.workflowId;
  if (!workflowId) workflowId = (await api.post(`${orgPath}/workflows`, { name })).workflowId;
  const wfPath = `${orgPath}/workflows/${workflowId}`;

  let live;
  try {
    live = await api.get(`${wfPath}/tags/$LIVE`);
  } catch (err) {
    if (err.status !== 404) throw err;
  }
  if (live) {
    const stored = await api.get(`${wfPath}/versions/${live.versionId}`);
    if (canonical(JSON.parse(stored.definition)) === canonical(definition)) {
      return { name, workflowId, versionNumber: live.versionNumber, action: "unchanged" };
    }
  }
  let version;
  try {
    version = await api.post(`${wfPath}/versions`, { definition: JSON.stringify(definition) });
  } catch (err) {
    const problems = err.body?.errors?.length ? `\n    ${err.body.errors.join("\n    ")}` : "";
    fail(`examples/${name}.json was refused: ${err.message}${problems}`);
  }
  await api.put(`${wfPath}/tags/$LIVE`, { versionId: version.versionId });
  return { name, workflowId, versionNumber: version.versionNumber, action: live ? "new version" : "registered" };
}

// ---------------------------------------------------------------- run

function makeItems(n) {
  return Array.from({ length: n }, (_, i) => ({ sku: `SKU-${String(i + 1).padStart(3, "0")}`, qty: (i % 5) + 1 }));
}

/** Polls GetJob until `done(view)` holds, showing child progress; fails on a terminal status it did not want. */
async function waitFor(api, jobPath, label, done) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = await api.get(jobPath);
    if (done(view)) {
      progressDone();
      return view;
    }
    if (TERMINAL.has(view.job.status)) {
      progressDone();
      return view;
    }
    if (Date.now() > deadline) {
      progressDone();
      fail(`Timed out after ${timeoutMs / 1000}s waiting for ${label} (job is ${view.job.status}, step ${view.job.currentStepName ?? "-"}).`);
    }
    const kids = view.childJobs ?? [];
    const finished = kids.filter((k) => TERMINAL.has(k.status)).length;
    progress(`${view.job.status} at ${view.job.currentStepName ?? "-"}: ${kids.length} children, ${finished} finished, ${view.job.billableTransactionUnits} units`);
    await sleep(100);
  }
}

const ms = (a, b) => (a && b ? Date.parse(b) - Date.parse(a) : undefined);
function fmtDuration(d) {
  if (d === undefined || Number.isNaN(d)) return "—";
  if (d < 1000) return `${d} ms`;
  return `${(d / 1000).toFixed(2)} s`;
}
const visibleLength = (s) => s.replace(/\x1b\[[0-9;]*m/g, "").length;
const padEnd = (s, n) => s + " ".repeat(Math.max(0, n - visibleLength(s)));
const padStart = (s, n) => " ".repeat(Math.max(0, n - visibleLength(s))) + s;

/**
 * The parent, then its children. Per job: status, units, queued (created → started), ran (started → finished)
 * and finished (offset from the parent's start).
 */
function printTree(parent, children) {
  const label = (j) => {
    const item = j.output && typeof j.output === "object" && "sku" in j.output ? `  ${j.output.sku} ×${j.output.qty}` : "";
    return `${j.workflowName} ${c.dim(j.jobId.slice(0, 8))}${item}`;
  };
  const origin = parent.startedAt ?? parent.createdAt;
  const rows = [
    { prefix: "", name: c.bold(label(parent)), job: parent },
    ...children.map((j, i) => ({ prefix: i === children.length - 1 ? "└─ " : "├─ ", name: label(j), job: j })),
  ];
  const nameWidth = Math.max(...rows.map((r) => visibleLength(r.prefix + r.name))) + 2;
  const cols = (status, units, queued, ran, finished) =>
    padEnd(status, 10) + padStart(units, 6) + padStart(queued, 10) + padStart(ran, 10) + padStart(finished, 11);
  console.log(c.dim(padEnd("", nameWidth) + cols("status", "units", "queued", "ran", "finished")));
  for (const { prefix, name, job } of rows) {
    const end = ms(origin, job.finishedAt);
    const line =
      padEnd((prefix ? c.grey(prefix) : "") + name, nameWidth) +
      cols(
        paint(job.status),
        String(job.billableTransactionUnits),
        fmtDuration(ms(job.createdAt, job.startedAt)),
        fmtDuration(ms(job.startedAt, job.finishedAt)),
        end === undefined ? "—" : `+${fmtDuration(end)}`,
      ) +
      (job.error ? `  ${c.red(`${job.error.code}: ${job.error.message}`)}` : "");
    console.log(line);
  }
}

async function main() {
  const t0 = performance.now();
  const admin = client(adminToken(), "admin");

  // Reachability first, so a stopped server gives one clear sentence.
  try {
    const res = await fetch(`${baseUrl}/healthz`);
    if (!res.ok) fail(`${baseUrl}/healthz answered ${res.status}; is that Canopy?`);
  } catch (err) {
    if (err instanceof DemoError) throw err;
    fail(`Cannot reach Canopy at ${baseUrl} (${err.cause?.code ?? err.message}).\n  Is it running? Start it with \`npm start\` in another terminal, or set CANOPY_URL.`);
  }

  const { org, created } = await demoOrganization(admin);
  const orgPath = `/organizations/${org.organizationId}`;
  say(`Organization ${c.bold(org.key)} ${c.dim(org.organizationId)} (${created ? "created" : "reused"})`);
  const tok = await admin.post(`${orgPath}/api-auth-tokens`, { name: `demo ${new Date().toISOString()}` });
  const api = client(tok.token, "demo API");

  try {
    const { workflows } = await api.get(`${orgPath}/workflows`);
    for (const definition of loadExamples()) {
      const d = await deploy(api, orgPath, workflows, definition);
      say(`Workflow ${c.bold(d.name)} v${d.versionNumber} tagged $LIVE (${d.action})`);
    }

    const items = makeItems(itemCount);
    const tSubmit = performance.now();
    const { jobId } = await api.post(`${orgPath}/jobs`, {
      workflowName: "order-batch",
      workflowVersion: { tag: "$LIVE" },
      inputJson: { items },
    });
    const jobPath = `${orgPath}/jobs/${jobId}`;
    say(`Submitted order-batch ${c.dim(jobId)} with ${items.length} items`);

    let view = await waitFor(api, jobPath, "the approval step", (v) => v.job.currentStepName === "approve");
    if (TERMINAL.has(view.job.status)) {
      say(`order-batch ended ${paint(view.job.status)} before reaching approval`);
    } else {
      const kids = view.childJobs ?? [];
      say(
        `Fan-out done in ${fmtDuration(Math.round(performance.now() - tSubmit))}: ` +
          `${kids.filter((k) => k.status === "SUCCEEDED").length}/${kids.length} children succeeded; waiting at ${c.bold("approve")}`,
      );
      const tApprove = performance.now();
      await api.post(`${jobPath}/events`, { eventId: "manager-approved", payload: { approved: true } });
      say(`Sent manager-approved`);
      view = await waitFor(api, jobPath, "the job to finish", (v) => TERMINAL.has(v.job.status));
      say(`order-batch ${paint(view.job.status)} ${fmtDuration(Math.round(performance.now() - tApprove))} after approval`);
    }

    // The tree: the parent, then every child with its own units and timings.
    const children = await mapLimit(view.childJobs ?? [], 8, async (k) => (await api.get(`${orgPath}/jobs/${k.jobId}`)).job);
    const index = new Map(items.map((it, i) => [it.sku, i]));
    const pos = (j) => index.get(j.output?.sku) ?? Infinity;
    if (children.every((j) => pos(j) !== Infinity)) children.sort((a, b) => pos(a) - pos(b));

    console.log();
    printTree(view.job, children);
    console.log();

    const succeeded = children.filter((j) => j.status === "SUCCEEDED").length;
    const childUnits = children.reduce((s, j) => s + (j.billableTransactionUnits ?? 0), 0);
    const total = view.job.billableTransactionUnits;
    console.log(
      `${c.bold(`${succeeded}/${children.length}`)} children succeeded · ` +
        `${c.bold(total)} units (${total - childUnits} own + ${childUnits} from children) · ` +
        `job ${fmtDuration(ms(view.job.startedAt ?? view.job.createdAt, view.job.finishedAt))} · ` +
        `wall time ${c.bold(fmtDuration(Math.round(performance.now() - t0)))}`,
    );
    // The same job in the browser: the console's job page is a deep link (sign in with the admin token).
    console.log(`\nOpen it in the console: ${c.bold(`${baseUrl}/console${jobPath}`)}`);
    if (view.job.status !== "SUCCEEDED" || succeeded !== children.length) process.exitCode = 1;
  } finally {
    // The token was only for this run.
    await admin.del(`${orgPath}/api-auth-tokens/${tok.apiAuthTokenId}`).catch(() => {});
  }
}

main().catch((err) => {
  progressDone();
  console.error(`${c.red("✗")} ${err instanceof DemoError ? err.message : (err.stack ?? err.message)}`);
  process.exitCode = 1;
});
