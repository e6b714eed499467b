/**
 * wrangler.toml's [env.staging]. A wrangler environment inherits `main`, the compatibility settings
 * and the Durable Object [[migrations]] from the top level, but no binding and no var
 * (developers.cloudflare.com/workers/wrangler/environments/: they are "non-inheritable keys"), so the
 * staging Worker has only what [env.staging] declares again. These tests compare the two through
 * wrangler's own reading of the config (its readConfig for each environment, then the bindings the
 * Worker gets), whatever their kind: a binding or var added at the top level later and not to
 * [env.staging] fails here, and so does a staging that would reach production's Worker or database.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { unstable_convertConfigBindingsToStartWorkerBindings, unstable_readConfig } from "wrangler";
import { afterAll, describe, expect, it } from "vitest";
import { childEnv, deployScript, readWranglerConfig, root, run, wranglerBin, type WranglerConfig } from "./run";

const committed = resolve(root, "wrangler.toml");
const work = mkdtempSync(join(tmpdir(), "canopy-staging-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

type Bindings = Record<string, { type: string; [key: string]: unknown }>;

/** The Worker one environment of a config deploys (undefined: the top level), as wrangler resolves it. */
function resolved(config: string, env?: string) {
  const c = unstable_readConfig({ config, env }, { hideWarnings: true });
  return {
    name: c.name,
    bindings: (unstable_convertConfigBindingsToStartWorkerBindings(c) ?? {}) as Bindings,
    migrations: c.migrations as { tag: string }[],
  };
}

/** How [env.`env`] differs from the top level in what it binds; empty when it binds the same things. */
function environmentProblems(config: string, env: string): string[] {
  const top = resolved(config);
  const staged = resolved(config, env);
  const section = `[env.${env}]`;
  const problems: string[] = [];
  for (const [name, binding] of Object.entries(top.bindings)) {
    const own = staged.bindings[name];
    if (own === undefined) {
      problems.push(`${name} (${binding.type}) is declared at the top level but not in ${section}`);
      continue;
    }
    if (own.type !== binding.type) problems.push(`${name} is a ${binding.type} at the top level but a ${own.type} in ${section}`);
    if (binding.type === "durable_object_namespace") {
      if (own.class_name !== binding.class_name) problems.push(`${name} binds ${String(binding.class_name)} at the top level but ${String(own.class_name)} in ${section}`);
      if (own.script_name !== undefined && own.script_name !== staged.name) problems.push(`${name} in ${section} reaches the Durable Objects of the Worker ${String(own.script_name)}`);
    }
  }
  for (const [name, own] of Object.entries(staged.bindings)) {
    if (top.bindings[name] === undefined) problems.push(`${name} (${own.type}) is declared in ${section} but not at the top level`);
  }
  if (staged.name === top.name) problems.push(`${section} deploys the top level's Worker ${String(top.name)}`);
  const topDatabases = new Set(Object.values(top.bindings).filter((b) => b.type === "d1").map((b) => b.database_name));
  for (const [name, own] of Object.entries(staged.bindings)) {
    if (own.type === "d1" && topDatabases.has(own.database_name)) problems.push(`${name} in ${section} is the top level's D1 database ${String(own.database_name)}`);
  }
  if (JSON.stringify(staged.migrations) !== JSON.stringify(top.migrations)) problems.push(`${section} has Durable Object migrations of its own`);
  return problems;
}

describe("wrangler.toml's [env.staging]", { timeout: 180_000 }, () => {
  it("declares every binding and var of the top level, with its own Worker and D1 database", () => {
    expect(environmentProblems(committed, "staging")).toEqual([]);
    const top = resolved(committed);
    const staging = resolved(committed, "staging");
    // The comparison sees what it must (were it to read nothing, it would pass for nothing).
    for (const name of ["DB", "JOBS", "WEBHOOK_RATE_LIMITER", "HISTORY_ROLLOVER_THRESHOLD", "ALLOW_PRIVATE_EGRESS"]) {
      expect(Object.keys(top.bindings)).toContain(name);
    }
    expect(top.name).toBe("canopy");
    expect(staging.name).toBe("canopy-staging");
    expect(top.bindings.DB?.database_name).toBe("canopy");
    expect(staging.bindings.DB?.database_name).toBe("canopy-staging");
    // The deployed egress policy holds in staging too.
    expect(staging.bindings.ALLOW_PRIVATE_EGRESS).toMatchObject({ type: "plain_text", value: "false" });
    expect(staging.migrations.map((m) => m.tag)).toEqual(top.migrations.map((m) => m.tag));
  });

  it("the comparison names whatever the top level declares and staging does not, of any kind", () => {
    const config = join(work, "drifted.toml");
    writeFileSync(
      config,
      `name = "app"
main = "index.ts"
compatibility_date = "2026-08-01"

[[d1_databases]]
binding = "DB"
database_name = "app"
database_id = "00000000-0000-0000-0000-000000000000"

[[durable_objects.bindings]]
name = "JOBS"
class_name = "JobObject"

[[durable_objects.bindings]]
name = "RESOURCE_POOLS"
class_name = "ResourcePool"

[[kv_namespaces]]
binding = "CACHE"
id = "0123456789abcdef0123456789abcdef"

[[migrations]]
tag = "v1"
new_sqlite_classes = ["JobObject", "ResourcePool"]

[vars]
LIMIT = "10"
NEW_KNOB = "1"

[env.staging]
[[env.staging.d1_databases]]
binding = "DB"
database_name = "app"
database_id = "00000000-0000-0000-0000-000000000000"

[[env.staging.durable_objects.bindings]]
name = "JOBS"
class_name = "JobObject"
script_name = "app"

[env.staging.vars]
LIMIT = "10"
`,
    );
    expect(environmentProblems(config, "staging").sort()).toEqual(
      [
        "CACHE (kv_namespace) is declared at the top level but not in [env.staging]",
        "DB in [env.staging] is the top level's D1 database app",
        "JOBS in [env.staging] reaches the Durable Objects of the Worker app",
        "NEW_KNOB (plain_text) is declared at the top level but not in [env.staging]",
        "RESOURCE_POOLS (durable_object_namespace) is declared at the top level but not in [env.staging]",
      ].sort(),
    );
  });

  it("wrangler builds the staging deploy config `npm run deploy -- --env staging` writes, with every binding", async () => {
    const deployDir = join(work, "deploy");
    const id = "0f0e0d0c-0b0a-4908-8706-050403020100";
    const dry = await deployScript(
      ["--dry-run", "--env", "staging", "--database-id", id],
      childEnv({ CANOPY_DEPLOY_DIR: deployDir, CANOPY_WRANGLER: join(work, "no-wrangler-here") }),
    );
    expect(dry.status, dry.stderr + dry.stdout).toBe(0);
    const config = join(deployDir, "wrangler.jsonc");
    const written = readWranglerConfig(config) as WranglerConfig & { env?: Record<string, WranglerConfig> };
    expect(written.env?.staging?.d1_databases?.[0]?.database_id).toBe(id);
    // As wrangler resolves it with --env staging: the staging Worker, its database with the real id.
    const staging = resolved(config, "staging");
    expect(staging.name).toBe("canopy-staging");
    expect(staging.bindings.DB).toMatchObject({ database_name: "canopy-staging", database_id: id });
    expect(environmentProblems(config, "staging")).toEqual([]);

    const out = join(work, "out");
    const built = await run(wranglerBin, ["deploy", "--dry-run", "--config", config, "--env", "staging", "--outdir", out, "--var", "ALLOW_PRIVATE_EGRESS:false"]);
    expect(built.status, built.stderr + built.stdout).toBe(0);
    expect(built.stdout).toContain("env.DB (canopy-staging)");
    for (const name of Object.keys(resolved(committed).bindings)) expect(built.stdout).toContain(`env.${name} `);
    expect(built.stdout + built.stderr).not.toContain("is not inherited by environments");
  });
});
