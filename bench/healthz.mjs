#!/usr/bin/env node
// Diagnostic, not part of `npm run bench`: the request path alone, measured more steadily than the bench's one round.
// Serves Canopy (`npm start`) and then the Workflows peer, each alone on the machine, and sends each 7 rounds of 200
// concurrent `GET /healthz` after a warm-up of 50, printing every round's rate and the median.
// Usage: node_modules/.bin/node bench/healthz.mjs [canopy|workflows|both]   (default both)
// To see what the static-assets router costs, comment out `[assets]` (and run_worker_first) in wrangler.toml and run
// it with `canopy`: 2026-12-07, medians 668/s with it, 792/s without, 812/s for the Workflows peer.
import { startEngine, startWorkflows } from "./lib.mjs";

async function rounds(baseUrl, label) {
  await Promise.all(Array.from({ length: 50 }, () => fetch(`${baseUrl}/healthz`).then((r) => r.text())));
  const rates = [];
  for (let round = 0; round < 7; round++) {
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 200 }, () => fetch(`${baseUrl}/healthz`).then((r) => r.text())));
    rates.push(Math.round((200 / (performance.now() - t0)) * 1000));
  }
  rates.sort((a, b) => a - b);
  console.log(`${label}: ${rates.join(" ")} requests/s; median ${rates[3]}/s`);
}

const which = process.argv[2] ?? "both";
for (const [label, start] of [["canopy", startEngine], ["workflows", startWorkflows]]) {
  if (which !== "both" && which !== label) continue;
  const server = await start();
  try {
    await rounds(server.baseUrl, label);
  } finally {
    await server.stop();
  }
}
