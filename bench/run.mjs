#!/usr/bin/env node
// `npm run bench`: Canopy's workloads through a real `npm start`; prints numbers and writes
// bench/results.json. Usage: npm run bench [-- linear fanout submissions]
import { cpus, totalmem } from "node:os";
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { fanOut, linear, submissions } from "./canopy.mjs";
import { ROOT, startEngine, tenant } from "./lib.mjs";

const wanted = new Set(process.argv.slice(2));
const want = (name) => wanted.size === 0 || wanted.has(name);

const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
const results = { date: new Date().toISOString(), machine, canopy: {}, targets: {} };

const engine = await startEngine();
try {
  const t = await tenant(engine);
  if (want("linear")) {
    await linear(t, 50); // warm-up
    results.canopy.linear1000 = await linear(t, 1000);
    results.targets.linearPerStepMs = { target: 0.5, actual: results.canopy.linear1000.perStepMs, met: results.canopy.linear1000.perStepMs <= 0.5 };
    console.log("linear 1,000 no-op steps:", results.canopy.linear1000);
  }
  if (want("fanout")) {
    await fanOut(t, 20); // warm-up
    results.canopy.fanOut1000 = await fanOut(t, 1000);
    results.targets.fanOut1000Ms = { target: 5000, actual: results.canopy.fanOut1000.wallMs, met: results.canopy.fanOut1000.wallMs <= 5000 };
    console.log("fan-out to 1,000 children:", results.canopy.fanOut1000);
  }
  if (want("submissions")) {
    results.canopy.submissions200 = await submissions(t, 200);
    results.targets.submissionsPerSecond = { target: 300, actual: results.canopy.submissions200.acceptedPerSecond, met: results.canopy.submissions200.acceptedPerSecond >= 300 };
    console.log("200 concurrent submissions:", results.canopy.submissions200);
  }
} finally {
  await engine.stop();
}
const out = resolve(ROOT, "bench/results.json");
writeFileSync(out, JSON.stringify(results, null, 2) + "\n");
console.log(`\nwrote ${out}`);
console.table(Object.fromEntries(Object.entries(results.targets).map(([k, v]) => [k, v])));
