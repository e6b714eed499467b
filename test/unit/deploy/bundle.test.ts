/**
 * The production bundle, built offline the way `wrangler deploy` builds it (`--dry-run --outdir`): it
 * fits Cloudflare's Worker size limit, exports the Durable Object classes wrangler.toml binds, and
 * every binding the code reads is declared in wrangler.toml or is one of the documented secrets.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { childEnv, deployScript, readWranglerConfig, root, run, wranglerBin, type Ran } from "./run";

const MiB = 1024 * 1024;
/**
 * Cloudflare's Worker size limit counts the compressed upload: 3 MB on Workers Free, 10 MB on Workers
 * Paid (developers.cloudflare.com/workers/platform/limits/#worker-size). The engine must deploy on a
 * free account too, so the bundle is held to the free plan's 3 MB, measured as 3 MiB of gzip, which is
 * how wrangler reports it ("Total Upload: … KiB / gzip: … KiB") and how its own errors name it.
 */
const MAX_GZIP_BYTES = 3 * MiB;
/** The uncompressed upload limit wrangler itself checks before uploading (its MAX_UNCOMPRESSED_SIZE_BYTES). */
const MAX_UNCOMPRESSED_BYTES = 64 * MiB;
/**
 * Secrets are not in wrangler.toml: src/env.d.ts declares them, `npm run deploy` puts them
 * (SECRETS_KEY_PREVIOUS only during a key rotation, `--rotate-secrets-key`).
 */
const DOCUMENTED_SECRETS = ["ADMIN_TOKEN", "SECRETS_KEY", "SECRETS_KEY_PREVIOUS"];

/** The modules wrangler uploads: the output without its source maps and the README it writes. */
function uploadedModules(outdir: string): { name: string; bytes: Buffer }[] {
  return readdirSync(outdir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && !e.name.endsWith(".map") && e.name !== "README.md")
    .map((e) => {
      const path = join(e.parentPath, e.name);
      return { name: relative(outdir, path), bytes: readFileSync(path) };
    });
}

/** Sizes as wrangler computes them (deploy-helpers' getSize): all modules concatenated, gzipped at the default level. */
function sizeOf(modules: { bytes: Buffer }[]): { bytes: number; gzipBytes: number } {
  const all = Buffer.concat(modules.map((m) => m.bytes));
  return { bytes: all.byteLength, gzipBytes: gzipSync(all).byteLength };
}

const kib = (n: number) => `${(n / 1024).toFixed(2)} KiB`;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .map((e) => join(e.parentPath, e.name));
}

/**
 * The binding names a source reads from the Worker's env: `env.X`, `this.env.X`, `c.env.X`,
 * `ctx.env.X`, `bindings.X` (optional chaining too), `env["X"]`, `const { X } = env`, and the names
 * in `Pick<Env, "X" | "Y">`. `process.env` is Node's, not a binding.
 */
function bindingsUsedIn(source: string): Set<string> {
  const used = new Set<string>();
  // Not after a dash either: "secret-bindings.ts" in a comment names a file.
  for (const m of source.matchAll(/(?<![\w$-])(?<!process\.)(?:env|bindings)\??\.([A-Za-z_$][\w$]*)/g)) used.add(m[1]!);
  for (const m of source.matchAll(/(?<![\w$])(?<!process\.)(?:env|bindings)\??\.?\[\s*["'`]([A-Za-z_$][\w$]*)["'`]\s*\]/g)) used.add(m[1]!);
  for (const m of source.matchAll(/\{([^{}]*)\}\s*=\s*(?:[\w$]+\.)*(?:env|bindings)\b(?!\s*\.)/g)) {
    for (const part of m[1]!.split(",")) {
      const name = /^\s*([A-Za-z_$][\w$]*)/.exec(part.replace(/^\s*\.\.\./, "\0"))?.[1];
      if (name) used.add(name);
    }
  }
  for (const m of source.matchAll(/Pick<\s*(?:Cloudflare\.)?Env\s*,([^>]*)>/g)) {
    for (const n of m[1]!.matchAll(/["']([A-Za-z_$][\w$]*)["']/g)) used.add(n[1]!);
  }
  return used;
}

describe("bindingsUsedIn", () => {
  it("finds every form of access, and not process.env", () => {
    const src = `
      c.env.DB.prepare(); this.env.HISTORY; env?.JOBS; host.bindings.LIMITER; ctx.env["RAW"];
      const { A, B: renamed, ...rest } = this.env; function f(e: Pick<Env, "P" | 'Q'>) {}
      process.env.NODE_ENV; environment.NOT_THIS; myenv.NOR_THIS; // see secret-bindings.ts`;
    expect([...bindingsUsedIn(src)].sort()).toEqual(["A", "B", "DB", "HISTORY", "JOBS", "LIMITER", "P", "Q", "RAW"]);
  });
});

describe("the production bundle (wrangler deploy --dry-run, offline)", { timeout: 180_000 }, () => {
  const work = mkdtempSync(join(tmpdir(), "canopy-bundle-"));
  const outdir = join(work, "out");
  let build: Ran;

  beforeAll(async () => {
    build = await run(wranglerBin, ["deploy", "--dry-run", "--outdir", outdir]);
  }, 180_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("builds", () => {
    expect(build.status, build.stderr + build.stdout).toBe(0);
    expect(build.stdout).toContain("--dry-run: exiting now.");
    expect(uploadedModules(outdir).map((m) => m.name)).toContain("index.js");
  });

  it(`fits the Workers Free size limit: at most ${kib(MAX_GZIP_BYTES)} of gzip`, () => {
    const size = sizeOf(uploadedModules(outdir));
    console.log(`bundle: ${kib(size.bytes)}, gzip ${kib(size.gzipBytes)} (${size.gzipBytes} bytes)`);
    expect(size.gzipBytes).toBeLessThanOrEqual(MAX_GZIP_BYTES);
    expect(size.bytes).toBeLessThanOrEqual(MAX_UNCOMPRESSED_BYTES);
    // What wrangler reported agrees with what was measured here.
    const reported = /Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/.exec(build.stdout);
    expect(reported, build.stdout).not.toBeNull();
    expect(Number(reported![2]) * 1024).toBeCloseTo(size.gzipBytes, -3);
  });

  it("exports every Durable Object class wrangler.toml binds, each SQLite-backed", () => {
    const rawConfig = readWranglerConfig(resolve(root, "wrangler.toml"));
    const bundle = readFileSync(join(outdir, "index.js"), "utf8");
    const exported = [...bundle.matchAll(/^export\s*\{([^}]*)\}/gm)].map((m) => m[1]).join(",");
    const sqliteClasses = (rawConfig.migrations ?? []).flatMap((m) => m.new_sqlite_classes ?? []);
    for (const { class_name } of rawConfig.durable_objects?.bindings ?? []) {
      expect(exported, `the bundle exports ${class_name}`).toMatch(new RegExp(`\\b${class_name}\\b`));
      // The free plan has SQLite-backed Durable Objects only, and the job store is SQL.
      expect(sqliteClasses, `${class_name} is in a new_sqlite_classes migration`).toContain(class_name);
    }
  });

  it("declares every binding the code uses", () => {
    const rawConfig = readWranglerConfig(resolve(root, "wrangler.toml"));
    const declared = new Set<string>([
      ...(rawConfig.d1_databases ?? []).map((d) => d.binding),
      ...(rawConfig.durable_objects?.bindings ?? []).map((b) => b.name),
      ...Object.keys(rawConfig.vars ?? {}),
      ...(rawConfig.assets?.binding ? [rawConfig.assets.binding] : []),
      ...DOCUMENTED_SECRETS,
    ]);
    const undeclared = new Map<string, string[]>();
    const used = new Set<string>();
    for (const file of sourceFiles(resolve(root, "src"))) {
      for (const name of bindingsUsedIn(readFileSync(file, "utf8"))) {
        used.add(name);
        if (!declared.has(name)) undeclared.set(name, [...(undeclared.get(name) ?? []), relative(root, file)]);
      }
    }
    // The scan sees the bindings it must (were it to find nothing, it would pass for nothing).
    for (const name of ["DB", "JOBS", "WEBHOOK_RATE_LIMITER", "ADMIN_TOKEN", "SECRETS_KEY", "SECRETS_KEY_PREVIOUS", "ASSETS"]) expect(used).toContain(name);
    const report = [...undeclared].map(([name, files]) => `${name} (${files.join(", ")})`);
    expect(report, "bindings used in src/ but not declared in wrangler.toml nor documented as secrets").toEqual([]);
  });

  it("documents the same secrets as src/env.d.ts", () => {
    const envTypes = readFileSync(resolve(root, "src/env.d.ts"), "utf8");
    const body = /interface CanopySecrets\s*\{([\s\S]*?)\n\}/.exec(envTypes)?.[1] ?? "";
    const names = [...body.matchAll(/^\s*([A-Z_][A-Z0-9_]*)\??\s*:/gm)].map((m) => m[1]);
    expect(names.sort()).toEqual([...DOCUMENTED_SECRETS].sort());
  });

  it("builds from the deploy config `npm run deploy` writes, to the same bindings", async () => {
    const deployDir = join(work, "deploy");
    const dry = await deployScript(
      ["--dry-run", "--database-id", "0f0e0d0c-0b0a-4908-8706-050403020100"],
      childEnv({ CANOPY_DEPLOY_DIR: deployDir, CANOPY_WRANGLER: join(work, "no-wrangler-here") }),
    );
    expect(dry.status, dry.stderr + dry.stdout).toBe(0);
    const config = join(deployDir, "wrangler.jsonc");
    const rawConfig = readWranglerConfig(config);
    expect(rawConfig.d1_databases?.[0]?.database_id).toBe("0f0e0d0c-0b0a-4908-8706-050403020100");
    expect(rawConfig.vars?.ALLOW_PRIVATE_EGRESS).toBe("false");

    const out = join(work, "out-deploy");
    const built = await run(wranglerBin, ["deploy", "--dry-run", "--config", config, "--outdir", out, "--var", "ALLOW_PRIVATE_EGRESS:false"]);
    expect(built.status, built.stderr + built.stdout).toBe(0);
    for (const binding of ["env.ASSETS", "env.DB (canopy)", "env.JOBS (JobObject)", "env.WEBHOOK_RATE_LIMITER (WebhookRateLimiter)", "env.HISTORY_ROLLOVER_THRESHOLD", "env.DEFAULT_CALL_TIMEOUT_MS", "env.ALLOW_PRIVATE_EGRESS"]) {
      expect(built.stdout).toContain(binding);
    }
    expect(sizeOf(uploadedModules(out)).gzipBytes).toBeLessThanOrEqual(MAX_GZIP_BYTES);
  });
});
