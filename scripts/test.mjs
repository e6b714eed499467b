#!/usr/bin/env node
// `npm test`: the type check and the three vitest projects (vitest.config.ts), run at once, each in
// a process of its own. Most of the suite's time is waiting (a restarted server, a timer across
// downtime, a schedule's next firing), and one vitest process runs projects one after another, so
// running them side by side is what keeps the suite short (docs/testing.md#how-long-it-takes).
//
// Each part's output is printed whole when it ends, never interleaved with another's; a line says
// when each starts and ends. It fails when any part fails, and ends with every part's time and the
// slowest test files and tests of the whole run, then every failed test with its error
// (scripts/test-timings.mjs), so that a log read from its tail shows what failed.
//
//   node scripts/test.mjs                    every part (what `npm test` runs)
//   node scripts/test.mjs unit integration   only the parts named
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { formatFailures, formatSlowest } from "./test-timings.mjs";

const root = resolve(import.meta.dirname, "..");
const vitest = resolve(root, "node_modules/.bin/vitest");

/** The parts, in the order their results are summed up. */
const PARTS = [
  { name: "typecheck", command: "npm", args: ["run", "--silent", "typecheck"] },
  { name: "unit", command: vitest, args: ["run", "--project", "unit"] },
  { name: "integration", command: vitest, args: ["run", "--project", "integration"] },
  { name: "e2e", command: vitest, args: ["run", "--project", "e2e"] },
];

const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !PARTS.some((p) => p.name === w));
if (unknown.length > 0) {
  console.error(`Unknown part ${unknown.join(", ")}: the parts are ${PARTS.map((p) => p.name).join(", ")}.`);
  process.exit(2);
}
const parts = wanted.length === 0 ? PARTS : PARTS.filter((p) => wanted.includes(p.name));

const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
const load = () => loadavg().map((l) => l.toFixed(2)).join(", ");
const started = Date.now();
const loadAtStart = load();
const elapsed = () => seconds(Date.now() - started).padStart(8);

// Every vitest process would build a stale console (vitest.config.ts) into the same directory at once.
const consoleBuild = spawnSync(process.execPath, [resolve(root, "scripts/build-console.mjs"), "--if-stale"], { cwd: root, stdio: "inherit" });
if (consoleBuild.status !== 0) process.exit(consoleBuild.status ?? 1);

/**
 * A part that prints nothing for this long is stuck, not slow: vitest prints a line per finished
 * file, and the slowest file takes about four minutes on a busy machine. It is stopped and fails,
 * printing what it had finished, instead of holding CI until its own time limit.
 */
const SILENT_PART_LIMIT_MS = 12 * 60_000;

const timingsDir = mkdtempSync(join(tmpdir(), "canopy-test-timings-"));
/** @type {Set<import("node:child_process").ChildProcess>} */
const running = new Set();

/** Runs one part with its output kept; prints the output whole when the part ends. */
function run(part) {
  return new Promise((resolvePart) => {
    const timingsFile = join(timingsDir, `${part.name}.json`);
    const env = { ...process.env, TEST_TIMINGS_FILE: timingsFile };
    // Colours survive the pipe when they would have shown on this terminal.
    if (process.stdout.isTTY && !("NO_COLOR" in env)) env.FORCE_COLOR = "1";
    const partStarted = Date.now();
    console.log(`${elapsed()}  ${part.name}: started`);
    // A process group of its own, so that a stuck part can be stopped with everything it started.
    const child = spawn(part.command, part.args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    running.add(child);
    const chunks = [];
    let lastOutputAt = Date.now();
    let stuck = false;
    const record = (c) => {
      chunks.push(c);
      lastOutputAt = Date.now();
    };
    child.stdout.on("data", record);
    child.stderr.on("data", record);
    const watchdog = setInterval(() => {
      if (Date.now() - lastOutputAt < SILENT_PART_LIMIT_MS) return;
      stuck = true;
      chunks.push(Buffer.from(`\n${part.name} printed nothing for ${seconds(SILENT_PART_LIMIT_MS)}: stopped as stuck.\n`));
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        /* already gone */
      }
    }, 10_000);
    let done = false;
    const finish = (code, error) => {
      if (done) return; // "error" and "close" can both come
      done = true;
      clearInterval(watchdog);
      running.delete(child);
      const ms = Date.now() - partStarted;
      const ok = code === 0;
      const verdict = ok ? "passed" : error ? `could not run (${error.message})` : stuck ? "FAILED (stuck)" : `FAILED (exit ${code})`;
      const output = Buffer.concat(chunks).toString("utf8").trimEnd();
      const rule = "─".repeat(Math.max(4, 72 - part.name.length - verdict.length));
      console.log(`\n── ${part.name}: ${verdict} in ${seconds(ms)} ${rule}\n${output}\n`);
      console.log(`${elapsed()}  ${part.name}: ${verdict}`);
      resolvePart({ ...part, ok, ms, startedAt: partStarted - started, timingsFile });
    };
    child.on("error", (e) => finish(null, e));
    child.on("close", (code, signal) => finish(signal ? `signal ${signal}` : code));
  });
}

// A signal to this process ends the parts too (a terminal's Ctrl-C reaches them by itself).
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    for (const child of running) {
      try {
        process.kill(-child.pid, signal);
      } catch {
        /* already gone */
      }
    }
    process.exitCode = 130;
  });
}

// A line a minute while parts run, so that a quiet log is not mistaken for a stuck one.
const heartbeat = setInterval(() => {
  const names = parts.filter((p) => !p.done).map((p) => p.name);
  if (names.length > 0) console.log(`${elapsed()}  still running: ${names.join(", ")}`);
}, 60_000);
const results = await Promise.all(parts.map((p) => run(p).then((r) => ((p.done = true), r))));
clearInterval(heartbeat);

const timings = { files: [], tests: [], failures: [] };
for (const r of results) {
  if (!existsSync(r.timingsFile)) continue;
  const t = JSON.parse(readFileSync(r.timingsFile, "utf8"));
  timings.files.push(...t.files);
  timings.tests.push(...t.tests);
  timings.failures.push(...(t.failures ?? []));
}
rmSync(timingsDir, { recursive: true, force: true });

const failed = results.filter((r) => !r.ok);
const lines = ["", "══ npm test " + "═".repeat(60)];
for (const r of results) {
  lines.push(`  ${r.name.padEnd(12)} ${(r.ok ? "passed" : "FAILED").padEnd(7)} ${seconds(r.ms).padStart(8)}  (from ${seconds(r.startedAt)})`);
}
if (timings.files.length > 0) lines.push("", formatSlowest(timings));
if (timings.failures.length > 0) lines.push("", formatFailures(timings.failures));
lines.push(
  "",
  `Total ${seconds(Date.now() - started)}; load average ${loadAtStart} at the start, ${load()} at the end (1, 5, 15 min).`,
  failed.length === 0 ? "Every part passed." : `FAILED: ${failed.map((r) => r.name).join(", ")} (their output is above).`,
);
console.log(lines.join("\n"));
process.exit(failed.length === 0 && process.exitCode !== 130 ? 0 : 1);
