#!/usr/bin/env node
// `npm run bench`: the same workloads on Canopy (a real `npm start`) and on Cloudflare Workflows (bench/workflows
// under the same `wrangler dev` / workerd, offline), one after the other in the same run. Prints the numbers and
// the ratios, writes bench/results.json and the results table of bench/README.md.
//
// Usage: npm run bench [-- linear fanout submissions batch pollers fanout1000 fanout300big fanout10000 loop]   (default: all)
//   linear        a linear job of 1,000 no-op steps                      (both engines)
//   fanout        a parent fanning out to 300 children and collecting them (both engines)
//   submissions   1,000 concurrent submissions of a one-step job          (both engines)
//   batch         one batch of 1,000 one-step jobs (Workflows: createBatch) (both engines)
//   pollers       200 concurrent clients reading a finished job's status   (both engines)
//   fanout1000    a parent fanning out to 1,000 children                   (Canopy only: the "Parent–child jobs" target)
//   fanout300big  the 300-child fan-out with ~3 KB per item (0.9 MB input) (Canopy only: "Job state that scales")
//   fanout10000   a parent fanning out to 10,000 children, capped at 15 min (Canopy only: "Job state that scales")
//   loop          a 25,000-iteration loop that continues as new            (Canopy only: the "continueAsNew" workload)
// The Workflows server is started only when a workload that runs on both engines is asked for.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, resolve } from "node:path";
import * as canopy from "./canopy.mjs";
import { ROOT, retried, round, sleep, startEngine, startWorkflows, tenant } from "./lib.mjs";
import * as workflows from "./workflows.mjs";

const WORKLOADS = ["linear", "fanout", "submissions", "batch", "pollers", "fanout1000", "fanout300big", "fanout10000", "loop"];
const args = process.argv.slice(2);
const unknown = args.filter((a) => !WORKLOADS.includes(a));
if (unknown.length) {
  console.error(`unknown workload(s): ${unknown.join(", ")}; choose from ${WORKLOADS.join(", ")}`);
  process.exit(2);
}
const wanted = new Set(args.length ? args : WORKLOADS);
const want = (name) => wanted.has(name);

const LINEAR_STEPS = 1000;
const FANOUT_CHILDREN = 300;
/** fanout300big: each of the 300 items carries this many bytes of text (a 0.9 MB input in all). */
const BIG_ITEM_BYTES = 3000;
const BIG_FANOUT_MAX_RATIO = 1.5;
const HUGE_FANOUT_CHILDREN = 10_000;
/** fanout10000 may take minutes on a slow engine; past this it is recorded as not finished. */
const HUGE_FANOUT_CAP_MS = 15 * 60_000;
/** time(10,000 children) ÷ time(1,000 children): at most this (growth no worse than linear, with some slack). */
const HUGE_FANOUT_MAX_GROWTH = 12;
const LINEAR_MIN_RATIO = 10;
const FANOUT_MIN_RATIO = 3;
const FANOUT_NEXT_GOAL = 5;
const SUBMISSIONS = 1000;
const BATCH = 1000;
const POLLERS = 200;
const POLL_MS = 5000;
const SUBMISSION_MIN_RATE = 300;
const SUBMISSION_MIN_RATIO = 2;
const BATCH_MIN_RATE = 3000;
const ATTEMPTS = 3;

function machine() {
  const cpuinfo = existsSync("/proc/cpuinfo") ? readFileSync("/proc/cpuinfo", "utf8") : "";
  const meminfo = existsSync("/proc/meminfo") ? readFileSync("/proc/meminfo", "utf8") : "";
  const memKb = Number(/^MemTotal:\s+(\d+)/m.exec(meminfo)?.[1] ?? 0);
  let nproc = cpus().length;
  try {
    nproc = Number(execFileSync("nproc", { encoding: "utf8" }).trim());
  } catch {}
  // The versions wrangler itself loads (it may carry its own miniflare and workerd under its node_modules).
  const version = (pkg) => {
    for (const dir of [resolve(ROOT, "node_modules/wrangler/node_modules", pkg), resolve(ROOT, "node_modules", pkg)]) {
      if (existsSync(resolve(dir, "package.json"))) return JSON.parse(readFileSync(resolve(dir, "package.json"), "utf8")).version;
    }
    return "unknown";
  };
  return {
    nproc,
    cpuModel: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model,
    memoryGiB: round((memKb ? memKb * 1024 : totalmem()) / 2 ** 30, 1),
    os: `${process.platform} ${process.arch}`,
    node: process.version,
    wrangler: version("wrangler"),
    workerd: version("workerd"),
    miniflare: version("miniflare"),
  };
}

const now = new Date().toISOString();
// Anything else running on the machine skews both engines; the load average is recorded with the results.
const loadAtStart = round(loadavg()[0], 2);
if (loadAtStart > 1) console.warn(`note: the 1-minute load average is ${loadAtStart} before the run; the numbers will be noisier`);
const measured = { canopy: {}, workflows: {} };
const runtime = { canopy: {}, workflows: {} };

/** 200 concurrent GET /healthz: what the local runtime's request path alone allows, for reading the numbers. */
async function requestFloor(baseUrl, n = 200) {
  await Promise.all(Array.from({ length: 20 }, () => fetch(`${baseUrl}/healthz`).then((r) => r.text())));
  const t0 = performance.now();
  await Promise.all(Array.from({ length: n }, () => fetch(`${baseUrl}/healthz`).then((r) => r.text())));
  const ms = performance.now() - t0;
  return { requests: n, ms: round(ms, 1), perSecond: round((n / ms) * 1000, 1) };
}

/** On a failure, the server's output goes to bench/.out/<name>-server.log (ignored by git). */
function keepLogs(name, server) {
  const path = resolve(ROOT, `bench/.out/${name}-server.log`);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, server.logs());
  console.error(`the ${name} server's output is in ${path}`);
}

/** wrangler dev rebuilds and restarts the Worker when a source file changes; such a run measures nothing. */
function assertNoReload(server, name) {
  if (/Reloading local server/.test(server.logs())) {
    throw new Error(`${name}: wrangler dev reloaded the Worker during the run (a source file changed); run again on a quiet tree`);
  }
}

/**
 * Runs `list` ([key, label, fn(ctx)]) against one server, alone on the machine. wrangler 4.124's dev server
 * exits when a proxied request is dropped (an empty "✘ [ERROR]"; cloudflare/workers-sdk#15317, #15451), which
 * happens here when a request waits about 5 s on a busy workerd. Then the exit is counted and the workload runs
 * again, from its warm-up, on a fresh server; after ATTEMPTS attempts it is recorded as failed and the run goes on.
 */
async function phase(name, startServer, setup, list) {
  if (list.length === 0) return;
  const info = (runtime[name] = { serverExits: [] });
  let server = await startServer();
  let ctx = await setup(server);
  const before = retried.gets;
  try {
    info.healthz = await requestFloor(server.baseUrl);
    for (const [key, label, fn] of list) {
      for (let attempt = 1; ; attempt++) {
        try {
          measured[name][key] = await fn(ctx);
          console.log(`${name.padEnd(9)} ${label}:`, measured[name][key]);
          break;
        } catch (e) {
          for (let i = 0; i < 20 && server.alive(); i++) await sleep(100);
          if (server.alive()) {
            // The server is up, so the workload itself failed: a job that failed or hit its time cap, an error
            // answer. Recorded (with what the workload could say, e.g. how far a capped fan-out got), not fatal;
            // the other workloads run on a fresh server, since a capped job may still be running on this one.
            assertNoReload(server, name);
            measured[name][key] = { failed: String(e?.message ?? e).slice(0, 500), ...(e?.result ?? {}) };
            console.warn(`${name}: ${key} failed: ${measured[name][key].failed}`);
            keepLogs(`${name}-${key}-failed`, server);
            await ctx.close?.();
            await server.stop();
            server = await startServer();
            ctx = await setup(server);
            break;
          }
          info.serverExits.push({ workload: key, attempt, error: String(e).slice(0, 200) });
          keepLogs(`${name}-exit-${info.serverExits.length}`, server);
          console.warn(`${name}: wrangler dev exited during ${key} (${String(e).slice(0, 120)}); starting a fresh server`);
          await ctx.close?.();
          await server.stop();
          server = await startServer();
          ctx = await setup(server);
          if (attempt >= ATTEMPTS) {
            // Recorded, not fatal: the other workloads still run.
            measured[name][key] = { failed: `wrangler dev exited in all ${ATTEMPTS} attempts` };
            console.warn(`${name}: giving up on ${key}`);
            break;
          }
        }
      }
    }
    assertNoReload(server, name);
    info.getsRetriedAfterDroppedConnection = retried.gets - before;
  } catch (e) {
    keepLogs(name, server);
    throw e;
  } finally {
    await ctx.close?.();
    await server.stop();
  }
}

// Phase 1: Canopy alone on the machine.
await phase("canopy", startEngine, (engine) => tenant(engine), [
  ...(want("linear") ? [["linear", `linear ${LINEAR_STEPS}`, async (t) => (await canopy.linear(t, 50), canopy.linear(t, LINEAR_STEPS))]] : []),
  ...(want("fanout") ? [["fanout", `fan-out ${FANOUT_CHILDREN}`, async (t) => (await canopy.fanOut(t, 20), canopy.fanOut(t, FANOUT_CHILDREN))]] : []),
  // Right after the small-item fan-out, on the same server, so that the two compare.
  ...(want("fanout300big") ? [["fanout300big", `fan-out ${FANOUT_CHILDREN}, ${BIG_ITEM_BYTES}-byte items`, async (t) => (await canopy.fanOut(t, 20), canopy.fanOut(t, FANOUT_CHILDREN, { itemBytes: BIG_ITEM_BYTES }))]] : []),
  ...(want("submissions") ? [["submissions", `${SUBMISSIONS} submissions`, async (t) => (await canopy.submissions(t, 50), canopy.submissions(t, SUBMISSIONS))]] : []),
  ...(want("batch") ? [["batch", `batch of ${BATCH}`, async (t) => (await canopy.batch(t, 50), canopy.batch(t, BATCH))]] : []),
  ...(want("pollers") ? [["pollers", `${POLLERS} pollers`, (t) => canopy.pollers(t, POLLERS, POLL_MS)]] : []),
  ...(want("fanout1000") ? [["fanout1000", "fan-out 1000", async (t) => (await canopy.fanOut(t, 20), canopy.fanOut(t, 1000))]] : []),
  ...(want("fanout10000") ? [["fanout10000", `fan-out ${HUGE_FANOUT_CHILDREN}`, async (t) => (await canopy.fanOut(t, 20), canopy.fanOut(t, HUGE_FANOUT_CHILDREN, { timeoutMs: HUGE_FANOUT_CAP_MS }))]] : []),
  ...(want("loop") ? [["loop", "loop 25000", (t) => canopy.loop(t, 25_000)]] : []),
]);

// Phase 2: Cloudflare Workflows alone on the machine, same runtime (warm-ups are the same sizes).
await phase("workflows", startWorkflows, (peer) => workflows.workflowsClient(peer), [
  ...(want("linear") ? [["linear", `linear ${LINEAR_STEPS}`, async (w) => (await workflows.linear(w, 50), workflows.linear(w, LINEAR_STEPS))]] : []),
  ...(want("fanout") ? [["fanout", `fan-out ${FANOUT_CHILDREN}`, async (w) => (await workflows.fanOut(w, 20), workflows.fanOut(w, FANOUT_CHILDREN))]] : []),
  ...(want("submissions") ? [["submissions", `${SUBMISSIONS} submissions`, async (w) => (await workflows.submissions(w, 50), workflows.submissions(w, SUBMISSIONS))]] : []),
  ...(want("batch") ? [["batch", `batch of ${BATCH}`, async (w) => (await workflows.batch(w, 50), workflows.batch(w, BATCH))]] : []),
  ...(want("pollers") ? [["pollers", `${POLLERS} pollers`, (w) => workflows.pollers(w, POLLERS, POLL_MS)]] : []),
]);

// Merge into the previous results so that a partial run (`npm run bench -- linear`) keeps the other rows.
const out = resolve(ROOT, "bench/results.json");
let previous = {};
try {
  previous = JSON.parse(readFileSync(out, "utf8"));
  if (!previous.workloads) previous = {};
} catch {}
const workloads = { ...(previous.workloads ?? {}) };
const c = measured.canopy;
const w = measured.workflows;
const ok = (x) => x !== undefined && !x.failed;
if (ok(c.linear) && ok(w.linear)) {
  const ratio = round(w.linear.wallMs / c.linear.wallMs, 2);
  workloads.linear = {
    measuredAt: now,
    description: `a linear job of ${LINEAR_STEPS} no-op steps, wall time from submission until done`,
    canopy: c.linear,
    workflows: w.linear,
    ratio: { workflowsOverCanopyWallTime: ratio, workflowsOverCanopyEngineTime: round(w.linear.engineMs / c.linear.engineMs, 2) },
    target: { text: `Canopy ≥ ${LINEAR_MIN_RATIO}× faster than Workflows`, min: LINEAR_MIN_RATIO, actual: ratio, met: ratio >= LINEAR_MIN_RATIO },
    canopyPerStepTarget: { text: "≤ 0.5 ms per step", max: 0.5, actual: c.linear.perStepMs, met: c.linear.perStepMs <= 0.5 },
  };
}
if (ok(c.fanout) && ok(w.fanout)) {
  const ratio = round(w.fanout.wallMs / c.fanout.wallMs, 2);
  workloads.fanout = {
    measuredAt: now,
    description: `a parent fanning out to ${FANOUT_CHILDREN} one-step children and collecting them, wall time until the parent is done`,
    canopy: c.fanout,
    workflows: w.fanout,
    ratio: { workflowsOverCanopyWallTime: ratio },
    target: { text: `Canopy ≥ ${FANOUT_MIN_RATIO}× faster than Workflows`, min: FANOUT_MIN_RATIO, actual: ratio, met: ratio >= FANOUT_MIN_RATIO },
    nextGoal: { text: `Canopy ≥ ${FANOUT_NEXT_GOAL}× faster than Workflows`, min: FANOUT_NEXT_GOAL, actual: ratio, met: ratio >= FANOUT_NEXT_GOAL },
  };
}
if (ok(c.submissions) && ok(w.submissions)) {
  const rate = c.submissions.acceptedPerSecond;
  workloads.submissions = {
    measuredAt: now,
    description: `${SUBMISSIONS} concurrent submissions of a one-step job: accepted per second, and time until all are done`,
    canopy: c.submissions,
    workflows: w.submissions,
    ratio: {
      canopyOverWorkflowsAcceptedPerSecond: round(rate / w.submissions.acceptedPerSecond, 2),
      workflowsOverCanopyAllDone: round(w.submissions.allDoneMs / c.submissions.allDoneMs, 2),
    },
    target: {
      text: `Canopy ≥ ${SUBMISSION_MIN_RATE} submissions/s accepted and ≥ ${SUBMISSION_MIN_RATIO}× Workflows' create rate`,
      min: SUBMISSION_MIN_RATE,
      actual: rate,
      met: rate >= SUBMISSION_MIN_RATE && rate / w.submissions.acceptedPerSecond >= SUBMISSION_MIN_RATIO,
    },
  };
}
if (ok(c.batch) && ok(w.batch)) {
  const rate = c.batch.acceptedPerSecond;
  workloads.batch = {
    measuredAt: now,
    description: `one batch of ${BATCH} one-step jobs (Canopy: POST …/jobs/batch; Workflows: createBatch, 100 a call): accepted per second, and time until all are done`,
    canopy: c.batch,
    workflows: w.batch,
    ratio: { canopyOverWorkflowsAcceptedPerSecond: round(rate / w.batch.acceptedPerSecond, 2), workflowsOverCanopyAllDone: round(w.batch.allDoneMs / c.batch.allDoneMs, 2) },
    target: { text: `Canopy ≥ ${BATCH_MIN_RATE} jobs/s accepted`, min: BATCH_MIN_RATE, actual: rate, met: rate >= BATCH_MIN_RATE },
  };
}
if (ok(c.pollers) && ok(w.pollers)) {
  workloads.pollers = {
    measuredAt: now,
    description: `${POLLERS} concurrent clients each reading a finished job's status back to back for ${POLL_MS / 1000} s (Canopy: GetJob; Workflows: instance.status())`,
    canopy: c.pollers,
    workflows: w.pollers,
    ratio: { workflowsOverCanopyP50: round(w.pollers.p50Ms / c.pollers.p50Ms, 2), workflowsOverCanopyP99: round(w.pollers.p99Ms / c.pollers.p99Ms, 2) },
  };
}
if (ok(c.fanout1000)) {
  workloads.fanout1000 = {
    measuredAt: now,
    description: "a parent fanning out to 1,000 one-step children and collecting them (Canopy only)",
    canopy: c.fanout1000,
    target: { text: "≤ 5 s", max: 5000, actual: c.fanout1000.wallMs, met: c.fanout1000.wallMs <= 5000 },
  };
}
/**
 * A Canopy time to compare with: this run's `key` if it was measured, else the stored one from the previous
 * results (and the report says which). Null when neither exists.
 */
const baseline = (key) => {
  if (ok(c[key])) return { wallMs: c[key].wallMs, from: "this run" };
  const stored = previous.workloads?.[key];
  if (stored && !stored.failed && stored.canopy?.wallMs) return { wallMs: stored.canopy.wallMs, from: "stored result", measuredAt: stored.measuredAt };
  return null;
};
if (ok(c.fanout300big)) {
  const base = baseline("fanout");
  const ratio = base ? round(c.fanout300big.wallMs / base.wallMs, 2) : null;
  workloads.fanout300big = {
    measuredAt: now,
    description: `the ${FANOUT_CHILDREN}-child fan-out where every item (the child's input) carries ~${BIG_ITEM_BYTES} bytes of text (Canopy only)`,
    canopy: c.fanout300big,
    smallItemFanout: base,
    target: {
      text: `≤ ${BIG_FANOUT_MAX_RATIO}× the time of the small-item ${FANOUT_CHILDREN}-child fan-out`,
      max: BIG_FANOUT_MAX_RATIO,
      actual: ratio,
      met: ratio !== null && ratio <= BIG_FANOUT_MAX_RATIO,
    },
  };
}
// fanout10000 is recorded even when it fails: hitting the cap is a result (a lower bound on the growth).
if (c.fanout10000) {
  const x = c.fanout10000;
  const base = baseline("fanout1000");
  const growth = ok(x) && base ? round(x.wallMs / base.wallMs, 2) : null;
  const atLeast = !ok(x) && x.capMs && base ? round(x.capMs / base.wallMs, 1) : undefined;
  workloads.fanout10000 = {
    measuredAt: now,
    description: `a parent fanning out to ${HUGE_FANOUT_CHILDREN.toLocaleString("en")} one-step children and collecting them, capped at ${round(HUGE_FANOUT_CAP_MS / 60_000, 1)} minutes (Canopy only)`,
    ...(ok(x) ? {} : { failed: true }),
    canopy: x,
    fanout1000: base,
    target: { text: `all ${HUGE_FANOUT_CHILDREN.toLocaleString("en")} children complete (within ${round(HUGE_FANOUT_CAP_MS / 60_000, 1)} min)`, met: ok(x) },
    growthTarget: {
      text: `time(${HUGE_FANOUT_CHILDREN.toLocaleString("en")}) ÷ time(1,000) ≤ ${HUGE_FANOUT_MAX_GROWTH} (linear growth)`,
      max: HUGE_FANOUT_MAX_GROWTH,
      actual: growth,
      ...(atLeast !== undefined ? { atLeast } : {}),
      met: growth !== null && growth <= HUGE_FANOUT_MAX_GROWTH,
    },
  };
}
if (ok(c.loop)) {
  workloads.loop = {
    measuredAt: now,
    description: "the countdown example looping 25,000 times, continuing as new at each run's history bound (Canopy only)",
    canopy: c.loop,
  };
}
const load = { oneMinuteAtStart: loadAtStart, oneMinuteAtEnd: round(loadavg()[0], 2) };
/** Which Canopy was measured: the commit, and whether src/ or migrations/ had uncommitted changes. */
function source() {
  try {
    const git = (...a) => execFileSync("git", a, { cwd: ROOT, encoding: "utf8" }).trim();
    return { commit: git("rev-parse", "--short", "HEAD"), uncommittedChanges: git("status", "--porcelain", "--", "src", "migrations", "wrangler.toml") !== "" };
  } catch {
    return { commit: "unknown", uncommittedChanges: false };
  }
}
// A workload that could not be measured on one side is recorded as such (its previous numbers are dropped).
const canopyOnly = (key) => ["fanout1000", "fanout300big", "fanout10000", "loop"].includes(key);
for (const key of WORKLOADS) {
  if (key === "fanout10000") continue; // recorded above, failed or not
  const sides = canopyOnly(key) ? [c[key]] : [c[key], w[key]];
  if (sides.some((x) => x?.failed) && sides.every((x) => x !== undefined)) {
    workloads[key] = { measuredAt: now, failed: true, canopy: c[key], ...(canopyOnly(key) ? {} : { workflows: w[key] }) };
  }
}
const results = { date: now, machine: machine(), command: "npm run bench", source: source(), load, runtime, workloads };
writeFileSync(out, JSON.stringify(results, null, 2) + "\n");

// The results table of bench/README.md, between its markers (the rest of the README is hand-written). Rows kept
// from an earlier run are judged against today's targets.
const fmt = (ms) => (ms >= 10_000 ? `${round(ms / 1000, 1)} s` : `${Math.round(ms)} ms`);
const yes = (t) => (t.met ? "yes" : "**no**");
// Rows kept from an earlier, partial run say when they were measured.
const when = (x) => (x.measuredAt === now ? "" : ` (measured ${x.measuredAt.slice(0, 16).replace("T", " ")})`);
const rows = [];
const cell = (text) => String(text).replace(/\|/g, "\\|").replace(/\s+/g, " ").slice(0, 200);
const failedRow = (label, x) =>
  rows.push(`| ${label}${when(x)} | ${cell(x.canopy?.failed ?? "measured")} | ${x.workflows ? cell(x.workflows.failed ?? "measured") : "—"} | — | | **no result** |`);
const kib = (bytes) => (bytes >= 1024 * 1024 ? `${round(bytes / 2 ** 20, 1)} MiB` : `${Math.round(bytes / 1024)} KiB`);
/** The parent's GET …/state/metadata after a fan-out, for the Canopy cell. */
const parentState = (x) =>
  x.parentStateMetadata?.contentLengthBytes !== undefined ? `; parent state ${kib(x.parentStateMetadata.contentLengthBytes)}, storage ${kib(x.parentStateMetadata.storageBytes)}` : "";
/** Where a comparison's baseline came from, when it is not this run. */
const from = (base) => (base && base.from !== "this run" ? ` (against the stored result of ${base.measuredAt?.slice(0, 16).replace("T", " ")})` : "");
if (workloads.linear?.failed) failedRow(`linear, ${LINEAR_STEPS} no-op steps`, workloads.linear);
else if (workloads.linear) {
  const x = workloads.linear;
  rows.push(`| linear, ${x.canopy.steps} no-op steps (wall)${when(x)} | ${fmt(x.canopy.wallMs)} (${x.canopy.perStepMs} ms/step) | ${fmt(x.workflows.wallMs)} (${x.workflows.perStepMs} ms/step) | ${x.ratio.workflowsOverCanopyWallTime}× | ≥ ${LINEAR_MIN_RATIO}× | ${x.ratio.workflowsOverCanopyWallTime >= LINEAR_MIN_RATIO ? "yes" : "**no**"} |`);
  rows.push(`| linear, engine time (start → finish as recorded by the engine) | ${fmt(x.canopy.engineMs)} | ${fmt(x.workflows.engineMs)} | ${x.ratio.workflowsOverCanopyEngineTime}× | | |`);
}
if (workloads.fanout?.failed) failedRow(`fan-out to ${FANOUT_CHILDREN} children`, workloads.fanout);
else if (workloads.fanout) {
  const x = workloads.fanout;
  rows.push(`| fan-out to ${x.canopy.children} children, collected (wall)${when(x)} | ${fmt(x.canopy.wallMs)} (${x.canopy.perChildMs} ms/child${parentState(x.canopy)}) | ${fmt(x.workflows.wallMs)} | ${x.ratio.workflowsOverCanopyWallTime}× | ≥ ${FANOUT_MIN_RATIO}× (then ${FANOUT_NEXT_GOAL}×) | ${x.ratio.workflowsOverCanopyWallTime >= FANOUT_MIN_RATIO ? "yes" : "**no**"} |`);
}
if (workloads.submissions?.failed) failedRow(`${SUBMISSIONS} concurrent submissions`, workloads.submissions);
else if (workloads.submissions) {
  const x = workloads.submissions;
  rows.push(`| ${x.canopy.submissions} concurrent submissions: accepted/s${when(x)} | ${x.canopy.acceptedPerSecond}/s | ${x.workflows.acceptedPerSecond}/s | ${x.ratio.canopyOverWorkflowsAcceptedPerSecond}× | ≥ ${SUBMISSION_MIN_RATE}/s and ≥ ${SUBMISSION_MIN_RATIO}× | ${yes(x.target)} |`);
  rows.push(`| ${x.canopy.submissions} concurrent submissions: all done | ${fmt(x.canopy.allDoneMs)} | ${fmt(x.workflows.allDoneMs)} | ${x.ratio.workflowsOverCanopyAllDone}× | | |`);
  const idle = x.canopy.firstStepIdle;
  if (idle) rows.push(`| submission → first step starting, ${idle.submissions} one at a time on the idle server (Canopy only) | p50 ${idle.p50Ms} ms, p99 ${idle.p99Ms} ms | — | | printed | |`);
}
if (workloads.batch?.failed) failedRow(`a batch of ${BATCH} jobs`, workloads.batch);
else if (workloads.batch) {
  const x = workloads.batch;
  rows.push(`| a batch of ${x.canopy.jobs} jobs: accepted/s${when(x)} | ${x.canopy.acceptedPerSecond}/s (${fmt(x.canopy.acceptMs)}) | ${x.workflows.acceptedPerSecond}/s (${fmt(x.workflows.acceptMs)}, createBatch × ${Math.ceil(x.workflows.jobs / 100)}) | ${x.ratio.canopyOverWorkflowsAcceptedPerSecond}× | ≥ ${BATCH_MIN_RATE}/s (Canopy) | ${yes(x.target)} |`);
  rows.push(`| a batch of ${x.canopy.jobs} jobs: all done | ${fmt(x.canopy.allDoneMs)} | ${fmt(x.workflows.allDoneMs)} | ${x.ratio.workflowsOverCanopyAllDone}× | | |`);
}
if (workloads.pollers?.failed) failedRow(`${POLLERS} concurrent pollers`, workloads.pollers);
else if (workloads.pollers) {
  const x = workloads.pollers;
  const p = (y) => `p50 ${y.p50Ms} ms, p99 ${y.p99Ms} ms (${y.readsPerSecond} reads/s)`;
  rows.push(`| ${x.canopy.pollers} concurrent pollers of a finished job's status${when(x)} | ${p(x.canopy)} | ${p(x.workflows)} | p50 ${x.ratio.workflowsOverCanopyP50}×, p99 ${x.ratio.workflowsOverCanopyP99}× | printed | |`);
}
if (runtime.canopy.healthz && runtime.workflows.healthz) {
  const [a, b] = [runtime.canopy.healthz, runtime.workflows.healthz];
  rows.push(`| for reference: ${a.requests} concurrent \`GET /healthz\` (the runtime's request path alone) | ${a.perSecond}/s | ${b.perSecond}/s | | | |`);
}
if (workloads.fanout1000?.failed) failedRow("fan-out to 1,000 children (Canopy only)", workloads.fanout1000);
else if (workloads.fanout1000) {
  const x = workloads.fanout1000;
  rows.push(`| fan-out to 1,000 children (Canopy only)${when(x)} | ${fmt(x.canopy.wallMs)} (${x.canopy.perChildMs} ms/child${parentState(x.canopy)}) | — | — | ≤ 5 s | ${yes(x.target)} |`);
}
const bigLabel = `fan-out to ${FANOUT_CHILDREN} children, ~${BIG_ITEM_BYTES / 1000} KB per item (${round((FANOUT_CHILDREN * BIG_ITEM_BYTES) / 1e6, 1)} MB input) (Canopy only)`;
if (workloads.fanout300big?.failed) failedRow(bigLabel, workloads.fanout300big);
else if (workloads.fanout300big) {
  const x = workloads.fanout300big;
  const r = x.target.actual === null ? "— (no small-item time)" : `${x.target.actual}× the small-item time${from(x.smallItemFanout)}`;
  rows.push(`| ${bigLabel}${when(x)} | ${fmt(x.canopy.wallMs)} (${x.canopy.perChildMs} ms/child${parentState(x.canopy)}) | — | ${r} | ≤ ${x.target.max}× | ${yes(x.target)} |`);
}
if (workloads.fanout10000) {
  const x = workloads.fanout10000;
  const label = `fan-out to ${HUGE_FANOUT_CHILDREN.toLocaleString("en")} children (Canopy only)${when(x)}`;
  const g = x.growthTarget;
  const r = x.fanout1000
    ? `${g.actual !== null ? `${g.actual}×` : g.atLeast !== undefined ? `> ${g.atLeast}×` : "—"} the 1,000-child time${from(x.fanout1000)}`
    : "— (no 1,000-child time)";
  const c10 = x.canopy;
  const time = !x.failed
    ? `${fmt(c10.wallMs)} (${c10.perChildMs} ms/child${parentState(c10)})`
    : c10.capMs && /the cap/.test(c10.failed)
      ? `did not finish within ${round(c10.capMs / 60_000, 1)} min (${c10.childrenSucceededAtCap ?? "?"} of ${HUGE_FANOUT_CHILDREN.toLocaleString("en")} children done, parent ${c10.lastStatus})`
      : cell(c10.failed);
  rows.push(`| ${label} | ${time} | — | ${r} | completes; ≤ ${g.max}× | ${x.target.met && g.met ? "yes" : "**no**"} |`);
}
if (workloads.loop?.failed) failedRow("loop of 25,000 iterations, continuing as new (Canopy only)", workloads.loop);
else if (workloads.loop) {
  const x = workloads.loop.canopy;
  rows.push(`| loop of ${x.iterations} iterations over ${x.runNumber} runs (Canopy only)${when(workloads.loop)} | ${fmt(x.wallMs)} (${x.perIterationMs} ms/iteration; ≤ ${x.maxHistoryItemsPerRun} history items and ≤ ${Math.round(x.peakStorageBytesPerRun / 1024)} KiB of storage per run) | — | — | | |`);
}
const m = results.machine;
const table = [
  `Measured ${now.slice(0, 16).replace("T", " ")} UTC with \`npm run bench\` on ${m.nproc} cores (${m.cpuModel}), ${m.memoryGiB} GiB RAM,`,
  `${m.os}, Node ${m.node}, wrangler ${m.wrangler}, workerd ${m.workerd}, miniflare ${m.miniflare};`,
  `1-minute load average ${load.oneMinuteAtStart} at the start, ${load.oneMinuteAtEnd} at the end;`,
  `Canopy at ${results.source.commit}${results.source.uncommittedChanges ? " with uncommitted changes to its source" : ""}.`,
  "Ratio: Workflows time ÷ Canopy time (submissions accepted/s: Canopy ÷ Workflows); higher is better for Canopy.",
  "Canopy-only fan-outs compare with Canopy's own times, as the row says; \"parent state\" is the parent's `GET …/state/metadata` (contentLengthBytes, storageBytes) after it finished.",
  "",
  "| workload | Canopy | Cloudflare Workflows | ratio | target | met |",
  "|---|---|---|---|---|---|",
  ...rows,
].join("\n");
const exits = ["canopy", "workflows"].flatMap((e) => (runtime[e]?.serverExits ?? []).map((x) => `${e}/${x.workload}`));
const retriedGets = (runtime.canopy?.getsRetriedAfterDroppedConnection ?? 0) + (runtime.workflows?.getsRetriedAfterDroppedConnection ?? 0);
const footnote = [
  exits.length ? `\nwrangler dev exited ${exits.length} time(s) in this run (${exits.join(", ")}; cloudflare/workers-sdk#15451); each such workload was run again on a fresh server.` : "",
  retriedGets ? `\n${retriedGets} status GET(s) dropped by wrangler dev ("Network connection lost") were repeated.` : "",
].join("");
const readmePath = resolve(ROOT, "bench/README.md");
const START = "<!-- results:start -->";
const END = "<!-- results:end -->";
let readme = existsSync(readmePath) ? readFileSync(readmePath, "utf8") : `# Benchmark\n\n${START}\n${END}\n`;
if (!readme.includes(START) || !readme.includes(END)) readme += `\n${START}\n${END}\n`;
readme = readme.slice(0, readme.indexOf(START) + START.length) + "\n" + table + "\n" + footnote + (footnote ? "\n" : "") + readme.slice(readme.indexOf(END));
writeFileSync(readmePath, readme);

console.log(`\nwrote ${out} and bench/README.md\n`);
console.log(table + footnote);
const failures = ["canopy", "workflows"].flatMap((e) => Object.entries(measured[e]).filter(([, x]) => x?.failed).map(([k]) => `${e}/${k}`));
if (failures.length) {
  console.error(`\n${failures.length} workload(s) did not complete: ${failures.join(", ")} (recorded in ${out}; server logs in bench/.out/)`);
  process.exitCode = 1;
}
