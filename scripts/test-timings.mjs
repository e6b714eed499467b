/**
 * Where the test suite's time goes. A vitest reporter (listed in vitest.config.ts) keeps each test
 * file's and each test's duration; `npm test` (scripts/test.mjs) runs several vitest processes at
 * once, so each writes its timings to the file named by TEST_TIMINGS_FILE and the runner prints the
 * slowest of them all at the end. A plain `vitest run` of many files prints its own table.
 */
import { writeFileSync } from "node:fs";
import { relative, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
/** A run of fewer files prints no table: it is someone running the file they work on. */
const PRINT_FROM_FILES = 8;

/**
 * @typedef {{ project: string, file: string, startedAt: number, ms: number, testsMs: number, state: string }} FileTiming
 * @typedef {{ project: string, file: string, name: string, ms: number, state: string }} TestTiming
 * @typedef {{ project: string, file: string, name: string, error: string }} Failure
 * @typedef {{ files: FileTiming[], tests: TestTiming[], failures: Failure[] }} Timings
 */

/** How much of a failure's message and stack the closing summary repeats. */
const FAILURE_LINES = 16;

/** The vitest reporter. */
export default class TimingsReporter {
  /** @type {Map<string, number>} when each file started, by module id and project */
  #started = new Map();

  onTestModuleStart(testModule) {
    this.#started.set(key(testModule), Date.now());
  }

  onTestRunEnd(testModules) {
    /** @type {Timings} */
    const timings = { files: [], tests: [], failures: [] };
    const now = Date.now();
    for (const m of testModules) {
      const project = m.project.name;
      const file = relative(root, m.moduleId);
      const d = m.diagnostic();
      // The file's own time: its worker's start (for integration, a workerd), imports, setup files,
      // and every test and hook (an e2e file's server start is in its beforeAll).
      const ms = d.environmentSetupDuration + d.prepareDuration + d.collectDuration + d.setupDuration + d.duration;
      const startedAt = this.#started.get(key(m)) ?? now - ms;
      timings.files.push({ project, file, startedAt, ms, testsMs: d.duration, state: m.state() });
      // A file can fail outside any test: an import, a beforeAll, an unhandled rejection.
      for (const e of m.errors()) timings.failures.push({ project, file, name: "(the file itself)", error: describe(e) });
      for (const t of m.children.allTests()) {
        const r = t.result();
        if (r.state === "skipped" || r.state === "pending") continue;
        timings.tests.push({ project, file, name: t.fullName, ms: t.diagnostic()?.duration ?? 0, state: r.state });
        if (r.state === "failed") {
          for (const e of r.errors ?? []) timings.failures.push({ project, file, name: t.fullName, error: describe(e) });
        }
      }
    }
    const out = process.env.TEST_TIMINGS_FILE;
    if (out) writeFileSync(out, JSON.stringify(timings));
    else if (timings.files.length >= PRINT_FROM_FILES) console.log("\n" + formatSlowest(timings));
  }
}

/** A failure's message and the top of its stack, short enough to repeat at the end of a CI log. */
function describe(error) {
  const text = [error?.message ?? String(error), error?.stack ?? ""].join("\n");
  // vitest's own frames say nothing about what failed.
  const lines = [...new Set(text.split("\n").map((l) => l.trimEnd()))].filter((l) => l.trim() !== "" && !l.includes("/node_modules/"));
  const shown = lines.slice(0, FAILURE_LINES);
  if (lines.length > shown.length) shown.push(`… ${lines.length - shown.length} more lines in the part's output above`);
  return shown.join("\n");
}

/**
 * Every failed test with its error, for the last lines of a run: a CI log is often read from its
 * tail, and a long part's own output (where vitest prints the failure) can be cut off above.
 */
export function formatFailures(failures) {
  if (failures.length === 0) return "";
  const lines = [`Failed tests (${failures.length}):`];
  for (const f of failures) {
    lines.push(`  ✗ ${f.project}  ${f.file} > ${f.name}`);
    for (const l of f.error.split("\n")) lines.push(`      ${l}`);
  }
  return lines.join("\n");
}

function key(testModule) {
  return `${testModule.project.name}\0${testModule.moduleId}`;
}

const seconds = (ms) => (ms / 1000).toFixed(1).padStart(6) + " s";

/** The slowest files and tests, as a few aligned lines. */
export function formatSlowest(timings, count = 10) {
  const files = [...timings.files].sort((a, b) => b.ms - a.ms).slice(0, count);
  const tests = [...timings.tests].sort((a, b) => b.ms - a.ms).slice(0, count);
  const width = Math.max(0, ...files.map((f) => f.project.length), ...tests.map((t) => t.project.length));
  const lines = [`Slowest ${files.length} test files (worker start, imports, hooks and tests):`];
  for (const f of files) lines.push(`  ${seconds(f.ms)}  ${f.project.padEnd(width)}  ${f.file}`);
  lines.push(`Slowest ${tests.length} tests:`);
  for (const t of tests) lines.push(`  ${seconds(t.ms)}  ${t.project.padEnd(width)}  ${t.file} > ${t.name}`);
  return lines.join("\n");
}
