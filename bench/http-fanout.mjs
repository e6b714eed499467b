#!/usr/bin/env node
// Diagnostic, not part of `npm run bench`: a fan-out whose children each make one `/canopy/http` call to an echo
// server in this process, the shape most real fan-outs have (the bench's fan-outs use no-op children). Prints
// the wall time of a 50-child warm-up and of three 300-child fan-outs on a fresh `npm start`.
// Usage: node_modules/.bin/node bench/http-fanout.mjs
import { createServer } from "node:http";
import { startEngine, step, tenant } from "./lib.mjs";

const echo = createServer((req, res) => {
  let body = "";
  req.on("data", (c) => (body += c));
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json", connection: "close" });
    res.end(body || "null");
  });
});
await new Promise((resolve) => echo.listen(0, "127.0.0.1", resolve));
const url = `http://127.0.0.1:${echo.address().port}/echo`;
const definitions = { workflowInput: { type: "object" }, any: {} };
const engine = await startEngine();
try {
  const t = await tenant(engine);
  await t.deploy({ workflowName: "http-child", steps: [step("call", "/canopy/http", { config: { url } })], definitions });
  const parent = await t.deploy({
    workflowName: "http-parent",
    steps: [step("fan", "/justworkflowit/runChildJob", { config: { children: [{ workflowName: "http-child", workflowVersion: { tag: "$LIVE" }, forEach: { arrayPath: "workflowInput.items" } }] } })],
    definitions,
  });
  for (const n of [50, 300, 300, 300]) {
    const t0 = performance.now();
    const job = await t.waitJob(await t.submit(parent, { items: Array.from({ length: n }, (_, i) => ({ i })) }));
    console.log(`${n} HTTP children: ${Math.round(performance.now() - t0)} ms, ${job.status}`);
  }
} finally {
  await engine.stop();
  echo.close();
}
