#!/usr/bin/env node
// `npm start`: build the console when its sources changed, apply the local D1 migrations, then serve
// the engine (and the console at /console) with `wrangler dev`.
// Honours PORT, ADMIN_TOKEN, SECRETS_KEY, SECRETS_KEY_PREVIOUS (keys that only open, during a rotation:
// docs/security.md#rotating-secrets_key), ALLOW_PRIVATE_EGRESS (default true) and STATE_DIR (wrangler's --persist-to).
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const port = process.env.PORT ?? "8787";
const stateDir = resolve(process.env.STATE_DIR ?? resolve(root, ".wrangler/state"));
const devVarsPath = resolve(root, ".dev.vars");
const wrangler = resolve(root, "node_modules/.bin/wrangler");
const childEnv = { ...process.env, WRANGLER_SEND_METRICS: "false", CI: process.env.CI ?? "" };

/** Reads KEY=value lines of .dev.vars. */
function readDevVars() {
  if (!existsSync(devVarsPath)) return {};
  const vars = {};
  for (const line of readFileSync(devVarsPath, "utf8").split("\n")) {
    const m = /^([A-Z_][A-Z0-9_]*)\s*=\s*"?([^"]*)"?\s*$/.exec(line);
    if (m) vars[m[1]] = m[2];
  }
  return vars;
}

// Secrets given in the environment win; otherwise .dev.vars holds them, generated once.
const devVars = readDevVars();
const generated = [];
if (!process.env.ADMIN_TOKEN && !devVars.ADMIN_TOKEN) {
  devVars.ADMIN_TOKEN = "adm_" + randomBytes(24).toString("base64url");
  generated.push("ADMIN_TOKEN");
}
if (!process.env.SECRETS_KEY && !devVars.SECRETS_KEY) {
  devVars.SECRETS_KEY = randomBytes(32).toString("base64");
  generated.push("SECRETS_KEY");
}
if (generated.length > 0) {
  const text = Object.entries(devVars).map(([k, v]) => `${k}="${v}"`).join("\n") + "\n";
  writeFileSync(devVarsPath, text, { mode: 0o600 });
  if (generated.includes("ADMIN_TOKEN")) {
    console.log(`\nGenerated an admin token into .dev.vars (shown once):\n\n  ADMIN_TOKEN=${devVars.ADMIN_TOKEN}\n`);
  }
}
const overrides = [];
for (const name of ["ADMIN_TOKEN", "SECRETS_KEY", "SECRETS_KEY_PREVIOUS", "HISTORY_ROLLOVER_THRESHOLD"]) {
  if (process.env[name]) overrides.push("--var", `${name}:${process.env[name]}`);
}
// Locally the far ends usually live on loopback or a private network (a mock, LocalStack), so the
// egress policy is lifted unless asked for: ALLOW_PRIVATE_EGRESS=false (anything but "true") runs
// with the deployed one.
const allowPrivateEgress = (process.env.ALLOW_PRIVATE_EGRESS ?? "true") === "true" ? "true" : "false";
overrides.push("--var", `ALLOW_PRIVATE_EGRESS:${allowPrivateEgress}`);
console.log(
  allowPrivateEgress === "true"
    ? "Egress: ALLOW_PRIVATE_EGRESS=true, executors may call http and private addresses (ALLOW_PRIVATE_EGRESS=false npm start for the deployed policy)."
    : "Egress: ALLOW_PRIVATE_EGRESS=false, the deployed policy: executors call public https hosts only.",
);

// wrangler.toml's [assets] directory must exist before wrangler starts.
const consoleBuild = spawnSync(process.execPath, [resolve(root, "scripts/build-console.mjs"), "--if-stale"], {
  cwd: root,
  env: childEnv,
  stdio: ["ignore", "inherit", "inherit"],
});
if (consoleBuild.status !== 0) {
  console.error("Building the console failed.");
  process.exit(consoleBuild.status ?? 1);
}

const migrate = spawnSync(
  wrangler,
  ["d1", "migrations", "apply", "canopy", "--local", "--persist-to", stateDir],
  { cwd: root, env: childEnv, stdio: ["ignore", "inherit", "inherit"] },
);
if (migrate.status !== 0) {
  console.error("Applying the D1 migrations failed.");
  process.exit(migrate.status ?? 1);
}

/** A free loopback port: the debugger's fixed default collides when several engines run on one machine. */
function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const { port: p } = srv.address();
      srv.close(() => res(p));
    });
  });
}
const inspectorPort = process.env.INSPECTOR_PORT ?? String(await freePort());

const dev = spawn(
  wrangler,
  [
    "dev",
    "--port", port,
    "--ip", "127.0.0.1",
    "--persist-to", stateDir,
    "--inspector-port", inspectorPort,
    "--show-interactive-dev-session=false",
    ...overrides,
  ],
  { cwd: root, env: childEnv, stdio: ["ignore", "inherit", "inherit"] },
);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => dev.kill(signal));
dev.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
console.log(`Console: http://localhost:${port}/console (sign in with the admin token or an organization's API token).`);
