// The `storage` workload (Canopy only): what each store takes per job and per step, read from the
// SQLite files of the engine's STATE_DIR, and what is left once the jobs' retention has passed.
//   D1 rows          rows of every D1 table (the registry): the target is 0 per job and per step
//   index rows       rows of the organizations' JobIndex objects (jobs, rollups, flush keys, keys)
//   job-object bytes the pages of every job object's database (page_count × page_size)
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { round, sleep, step } from "./lib.mjs";

const RUNTIME_TABLES = /^(sqlite_|_cf_|__miniflare|d1_migrations$)/;

/** Every Durable Object or D1 database of one kind under the state directory (not the runtime's metadata). */
function databases(stateDir, kind) {
  const dir = join(stateDir, "v3", kind === "D1" ? "d1/miniflare-D1DatabaseObject" : `do/canopy-${kind}`);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite")
    .map((f) => join(dir, f));
}

/** Opens a copy of a database (with its log) read-only, runs `fn`, and throws the copy away. */
function withCopy(file, fn) {
  const work = mkdtempSync(join(tmpdir(), "canopy-bench-db-"));
  try {
    const copy = join(work, "db.sqlite");
    try {
      copyFileSync(file, copy);
    } catch {
      return undefined; // gone meanwhile
    }
    for (const suffix of ["-wal", "-journal"]) if (existsSync(file + suffix)) copyFileSync(file + suffix, copy + suffix);
    const db = new DatabaseSync(copy);
    try {
      return fn(db);
    } finally {
      db.close();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const userTables = (db) => db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all().map((r) => r.name).filter((n) => !RUNTIME_TABLES.test(n));
const rows = (db, table) => Number(db.prepare(`SELECT COUNT(*) AS n FROM "${table}"`).get().n);

/** What the stores hold now. */
export function footprint(stateDir) {
  let d1Rows = 0;
  for (const f of databases(stateDir, "D1")) d1Rows += withCopy(f, (db) => userTables(db).reduce((n, t) => n + rows(db, t), 0)) ?? 0;
  const index = { jobs: 0, rollups: 0, flushKeys: 0, idempotencyKeys: 0 };
  for (const f of databases(stateDir, "JobIndex")) {
    withCopy(f, (db) => {
      const tables = new Set(userTables(db));
      if (tables.has("job")) index.jobs += rows(db, "job");
      if (tables.has("rollup")) index.rollups += rows(db, "rollup");
      if (tables.has("flush")) index.flushKeys += rows(db, "flush");
      if (tables.has("idempotency_key")) index.idempotencyKeys += rows(db, "idempotency_key");
    });
  }
  let jobObjects = 0;
  let jobObjectBytes = 0;
  for (const f of databases(stateDir, "JobObject")) {
    withCopy(f, (db) => {
      if (userTables(db).length === 0) return; // empty: never used, or deleted
      jobObjects++;
      jobObjectBytes += Number(db.prepare(`PRAGMA page_count`).get().page_count) * Number(db.prepare(`PRAGMA page_size`).get().page_size);
    });
  }
  return { d1Rows, indexRows: index.jobs + index.rollups + index.flushKeys + index.idempotencyKeys, index, jobObjects, jobObjectBytes };
}

const delta = (after, before) => ({
  d1Rows: after.d1Rows - before.d1Rows,
  indexRows: after.indexRows - before.indexRows,
  index: Object.fromEntries(Object.keys(after.index).map((k) => [k, after.index[k] - before.index[k]])),
  jobObjects: after.jobObjects - before.jobObjects,
  jobObjectBytes: after.jobObjectBytes - before.jobObjectBytes,
});

const per = (d, n) => ({ d1Rows: round(d.d1Rows / n, 3), indexRows: round(d.indexRows / n, 3), jobObjectBytes: round(d.jobObjectBytes / n, 1) });

/**
 * `jobs` batch jobs of two no-op steps, then one loop of `steps` steps, each measured on its own; then,
 * with the retention at its minimum (60 s, set first), what is left of them once it has passed.
 */
export async function storage(t, { jobs = 200, steps = 1000 } = {}) {
  await t.api.put(`${t.orgPath}/retention`, { succeededSeconds: 60, failedSeconds: 60, cancelledSeconds: 60 });
  const two = await t.deploy({
    workflowName: "bench-storage-two",
    steps: [step("a", "/justworkflowit/noop", {}, "b"), step("b", "/justworkflowit/noop")],
    definitions: { workflowInput: { type: "object" }, any: {} },
  });
  const countdown = {
    workflowName: "bench-storage-loop",
    steps: [
      step("init", "/justworkflowit/noop", {}, "tick"),
      step("tick", "/canopy/transform", { config: { output: { n: { "-": [{ var: "previousStep.output.n" }, 1] } } } }, { if: [{ ">": [{ var: "tickOutput.n" }, 0] }, "tick", null] }),
    ],
    definitions: { workflowInput: { type: "object" }, any: {} },
  };
  // Deployed first: registering a workflow writes D1 rows (the registry), which are not the jobs'.
  const loopWf = await t.deploy(countdown);
  const start = footprint(t.stateDir);

  const { results } = await t.api.post(`${t.orgPath}/jobs/batch`, {
    jobs: Array.from({ length: jobs }, (_, i) => ({ workflowId: two, workflowVersion: { tag: "$LIVE" }, inputJson: { i }, idempotencyKey: `storage-${i}` })),
  });
  if (results.some((r) => !r.jobId)) throw new Error(`batch refused: ${JSON.stringify(results.find((r) => !r.jobId))}`);
  const t0 = Date.now();
  while ((await t.countJobs({ workflowName: "bench-storage-two", status: "SUCCEEDED" })) < jobs) {
    if (Date.now() - t0 > 600_000) throw new Error("the batch did not finish within 10 min");
    await sleep(200);
  }
  await sleep(3000); // metric flushes and index writes settle
  const afterBatch = footprint(t.stateDir);

  const loopJob = await t.submit(loopWf, { n: steps - 1 });
  const job = await t.waitJob(loopJob);
  if (job.status !== "SUCCEEDED") throw new Error(`loop ${job.status}`);
  await sleep(3000);
  const afterLoop = footprint(t.stateDir);

  // Every job ended within the last minutes under a 60 s retention: wait for their trees to go.
  const deadline = Date.now() + 300_000;
  let left;
  do {
    await sleep(5000);
    left = delta(footprint(t.stateDir), start);
  } while ((left.jobObjects > 0 || left.index.jobs > 0) && Date.now() < deadline);

  const batchDelta = delta(afterBatch, start);
  const loopDelta = delta(afterLoop, afterBatch);
  return {
    jobs,
    steps,
    perJob: per(batchDelta, jobs),
    perStep: per(loopDelta, steps),
    batch: batchDelta,
    loop: loopDelta,
    afterRetention: { waitedMs: Date.now() - t0, ...left },
  };
}
