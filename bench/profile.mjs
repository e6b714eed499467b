#!/usr/bin/env node
// Diagnostic, not part of `npm run bench`: serves Canopy like `npm start` does, but with workerd's inspector on,
// runs one workload while the V8 CPU profiler samples the engine's isolate, and prints the heaviest functions by
// self and by inclusive time. Writes bench/.out/<workload>.cpuprofile (open it in Chrome DevTools).
// Usage: node_modules/.bin/node bench/profile.mjs [submissions|batch|fanout|linear]   (Node 22: WebSocket with headers)
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as canopy from "./canopy.mjs";
import { ROOT, freePort, sleep, tenant } from "./lib.mjs";

const workload = process.argv[2] ?? "submissions";
if (!["submissions", "batch", "fanout", "linear"].includes(workload)) {
  console.error("usage: node bench/profile.mjs [submissions|batch|fanout|linear]");
  process.exit(2);
}
const bin = resolve(ROOT, "node_modules/.bin");
const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, WRANGLER_SEND_METRICS: "false" };
const stateDir = mkdtempSync(join(tmpdir(), "canopy-profile-"));
const [port, inspectorPort] = [await freePort(), await freePort()];
const adminToken = "profile-" + Math.random().toString(36).slice(2);
spawnSync(resolve(bin, "wrangler"), ["d1", "migrations", "apply", "canopy", "--local", "--persist-to", stateDir], { cwd: ROOT, env, stdio: "ignore" });
const proc = spawn(
  resolve(bin, "wrangler"),
  ["dev", "--port", String(port), "--ip", "127.0.0.1", "--persist-to", stateDir, "--inspector-port", String(inspectorPort),
    "--show-interactive-dev-session=false", "--var", `ADMIN_TOKEN:${adminToken}`, "--var", `SECRETS_KEY:${Buffer.alloc(32, 7).toString("base64")}`],
  { cwd: ROOT, env, detached: true, stdio: ["ignore", "pipe", "pipe"] },
);
let logs = "";
proc.stdout.on("data", (c) => (logs = (logs + c).slice(-200_000)));
proc.stderr.on("data", (c) => (logs = (logs + c).slice(-200_000)));
const engine = { baseUrl: `http://127.0.0.1:${port}`, adminToken };
try {
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${engine.baseUrl}/healthz`)).ok) break;
    } catch {}
    await sleep(200);
  }
  const t = await tenant(engine);
  const run = {
    submissions: () => canopy.submissions(t, 200),
    batch: () => canopy.batch(t, 1000),
    fanout: () => canopy.fanOut(t, 300),
    linear: () => canopy.linear(t, 1000),
  }[workload];
  // No warm-up burst for submissions: a second burst of 200 on the same wrangler dev kills it too often
  // (cloudflare/workers-sdk#15451), so that profile includes the isolate's warm-up.
  if (workload !== "submissions") await run();

  const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json();
  const target = targets.find((x) => /canopy/i.test(x.title ?? "")) ?? targets[0];
  const ws = new WebSocket(target.webSocketDebuggerUrl, { headers: { origin: `http://127.0.0.1:${inspectorPort}` } });
  await new Promise((r, j) => {
    ws.addEventListener("open", r, { once: true });
    ws.addEventListener("error", (e) => j(new Error(`inspector: ${e.message ?? e.type}`)), { once: true });
    ws.addEventListener("close", (e) => j(new Error(`inspector closed: ${e.code} ${e.reason}`)), { once: true });
  });
  let seq = 0;
  const pending = new Map();
  ws.addEventListener("message", (m) => {
    const msg = JSON.parse(m.data);
    if (msg.id && pending.has(msg.id)) pending.get(msg.id)(msg), pending.delete(msg.id);
  });
  const send = (method, params = {}) => new Promise((r) => { const id = ++seq; pending.set(id, r); ws.send(JSON.stringify({ id, method, params })); });
  await send("Profiler.enable");
  await send("Profiler.setSamplingInterval", { interval: 200 });
  await send("Profiler.start");
  const t0 = performance.now();
  const result = await run();
  const wallMs = performance.now() - t0;
  const { result: { profile } } = await send("Profiler.stop");
  ws.close();
  mkdirSync(resolve(ROOT, "bench/.out"), { recursive: true });
  writeFileSync(resolve(ROOT, `bench/.out/${workload}.cpuprofile`), JSON.stringify(profile));

  const dt = new Map(); // node id -> sampled microseconds
  for (let i = 0; i < profile.samples.length; i++) dt.set(profile.samples[i], (dt.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const keyOf = (n) => `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url.split("/").slice(-2).join("/")}:${n.callFrame.lineNumber + 1}`;
  const self = new Map();
  const inclusive = new Map(); // each function counted once per sampled stack
  let total = 0;
  for (const [id, us] of dt) {
    total += us;
    self.set(keyOf(byId.get(id)), (self.get(keyOf(byId.get(id))) ?? 0) + us);
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const key = keyOf(byId.get(cur));
      if (!seen.has(key)) seen.add(key), inclusive.set(key, (inclusive.get(key) ?? 0) + us);
    }
  }
  const idle = self.get("(idle) :0") ?? 0;
  console.log(workload, result, `wall ${wallMs.toFixed(0)} ms; isolate busy ${((total - idle) / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms`);
  const top = (m, n) => [...m].filter(([k]) => !k.startsWith("(root)")).sort((a, b) => b[1] - a[1]).slice(0, n);
  console.log("\nself time:");
  for (const [k, us] of top(self, 25)) console.log(`${(us / 1000).toFixed(1).padStart(8)} ms  ${k}`);
  console.log("\ninclusive time:");
  for (const [k, us] of top(inclusive, 40)) console.log(`${(us / 1000).toFixed(1).padStart(8)} ms  ${k}`);
} catch (e) {
  console.error(logs.slice(-3000));
  throw e;
} finally {
  try { process.kill(-proc.pid, "SIGKILL"); } catch {}
  await sleep(300);
  rmSync(stateDir, { recursive: true, force: true });
}
