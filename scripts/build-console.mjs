#!/usr/bin/env node
// Builds the console (console/, Vite + React) into dist/console/, which wrangler.toml serves as
// static assets at /console/. `--if-stale` builds only when a source is newer than the last build:
// `npm start` and `npm test` call it that way, so a fresh clone builds once and a restart is instant.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const consoleDir = resolve(root, "console");
const builtIndex = resolve(root, "dist/console/index.html");

/** The newest modification time among the console's sources and the installed packages' lock. */
function newestSource() {
  let newest = 0;
  const visit = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.name === "node_modules" || e.name.startsWith(".")) continue;
      const path = join(dir, e.name);
      if (e.isDirectory()) visit(path);
      else newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  visit(consoleDir);
  for (const f of ["package-lock.json", "scripts/build-console.mjs"]) {
    if (existsSync(resolve(root, f))) newest = Math.max(newest, statSync(resolve(root, f)).mtimeMs);
  }
  return newest;
}

/** True when dist/console is missing or older than a source. */
export function consoleIsStale() {
  return !existsSync(builtIndex) || statSync(builtIndex).mtimeMs < newestSource();
}

/** Builds the console with Vite, in a process of its own (see below). */
export function buildConsole() {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [import.meta.filename], { cwd: root, stdio: "inherit" });
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolvePromise() : reject(new Error(`Building the console failed (exit ${code}).`))));
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // React's production build is chosen by NODE_ENV, and a caller may have set it (vitest sets "test").
  process.env.NODE_ENV = "production";
  const ifStale = process.argv.includes("--if-stale");
  if (ifStale && !consoleIsStale()) {
    console.log("Console: dist/console is up to date.");
  } else {
    const started = Date.now();
    console.log("Console: building dist/console (console/, Vite)…");
    const { build } = await import("vite");
    await build({ configFile: resolve(consoleDir, "vite.config.ts"), logLevel: "warn", mode: "production" });
    console.log(`Console: built in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
  }
}
