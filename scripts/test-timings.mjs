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
 * @typedef {{ files: FileTiming[], tests: TestTiming[] }} Timings
 */

/** The vitest reporter. */
export default class TimingsReporter {
  /** @type {Map<string, number>} when each file started, by module id and project */
  #started = new Map();

  onTestModuleStart(testModule) {
    this.#started.set(key(testModule), Date.now());
  }

  onTestRunEnd(testModules) {
    /** @type {Timings} */
    const timings = { files: [], tests: [] };
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
      for (const t of m.children.allTests()) {
        const r = t.result();
        if (r.state === "skipped" || r.state === "pending") continue;
        timings.tests.push({ project, file, name: t.fullName, ms: t.diagnostic()?.duration ?? 0, state: r.state });
      }
    }
    const out = process.env.TEST_TIMINGS_FILE;
    if (out) writeFileSync(out, JSON.stringify(timings));
    else if (timings.files.length >= PRINT_FROM_FILES) console.log("\n" + formatSlowest(timings));
  }
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
