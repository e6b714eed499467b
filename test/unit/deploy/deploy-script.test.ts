/**
 * `npm run deploy` (scripts/deploy.mjs) without a Cloudflare account: its dry run, its early stop
 * without a login (with the real wrangler, which answers that offline), and whole deploys against a
 * fake wrangler that plays an account and records every command and the secret values it was given.
 * The fake resolves the Worker a command acts on from its --config and --env as wrangler does (an
 * environment's own `name`, else "<name>-<env>"), so a staging deploy is seen to leave production alone.
 */
import { appendFileSync, chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { keyIdOf } from "../../../scripts/rotate-secrets-key.mjs";
import { childEnv, deployScript, readWranglerConfig, root, type WranglerConfig } from "./run";

const work = mkdtempSync(join(tmpdir(), "canopy-deploy-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface FakeAccount {
  loggedIn: boolean;
  whoamiFails?: boolean;
  accounts?: { id: string; name: string }[];
  databases: { uuid: string; name: string }[];
  newDatabaseId?: string;
  /** The account's Workers by name, each with its secrets (name → value). */
  workers: Record<string, Record<string, string>>;
  /** Filled by the fake: each migrations apply and each deploy, with what its config resolved to. */
  migrated?: { database: string; databaseId: string; migrationsDir: string; worker: string }[];
  deployed?: { worker: string; database: string; databaseId: string; vars: Record<string, string> }[];
}

/** A wrangler stand-in: answers from a state file, records each call (arguments and stdin). */
const FAKE_WRANGLER = `#!/usr/bin/env node
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
const statePath = process.env.FAKE_WRANGLER_STATE;
const state = JSON.parse(readFileSync(statePath, "utf8"));
const args = process.argv.slice(2);
// Only \`secret put\` reads its stdin (the value), as wrangler's does when it is not a terminal.
const stdin = args[0] === "secret" && args[1] === "put" ? readFileSync(0, "utf8") : "";
appendFileSync(process.env.FAKE_WRANGLER_LOG, JSON.stringify({ args, stdin }) + "\\n");
const save = () => writeFileSync(statePath, JSON.stringify(state));
const [a, b] = args;
/** The config section a command acts on, read from --config (JSONC: whole-line comments) and --env. */
function target() {
  const c = args.indexOf("--config");
  if (c === -1) { console.error("fake wrangler: no --config"); process.exit(2); }
  const config = JSON.parse(readFileSync(args[c + 1], "utf8").replace(/^\\s*\\/\\/.*$/gm, ""));
  const e = args.indexOf("--env");
  if (e === -1) return config;
  const env = args[e + 1];
  const section = config.env?.[env];
  if (!section) { console.error('No environment found in configuration with name "' + env + '"'); process.exit(1); }
  return { ...section, name: section.name ?? config.name + "-" + env };
}
if (a === "whoami") {
  if (state.whoamiFails) { console.error("✘ [ERROR] A request to the Cloudflare API failed: fetch failed"); process.exit(1); }
  if (!state.loggedIn) { console.log(JSON.stringify({ loggedIn: false })); process.exit(1); }
  console.log(JSON.stringify({ loggedIn: true, email: "ops@example.com", accounts: state.accounts ?? [{ id: "acc1", name: "Acme" }] }, null, 2));
} else if (a === "d1" && b === "list") {
  console.log(JSON.stringify(state.databases, null, 2));
} else if (a === "d1" && b === "create") {
  state.databases.push({ uuid: state.newDatabaseId, name: args[2] }); save();
  console.log("Created your new D1 database.");
} else if (a === "d1" && b === "migrations" && args[2] === "apply") {
  const t = target();
  const db = (t.d1_databases ?? []).find((d) => d.database_name === args[3]);
  if (!db) { console.error("Couldn't find a D1 DB named '" + args[3] + "' in the config of " + t.name); process.exit(1); }
  (state.migrated ??= []).push({ database: db.database_name, databaseId: db.database_id, migrationsDir: db.migrations_dir, worker: t.name }); save();
  console.log("Migrations applied.");
} else if (a === "secret" && b === "list") {
  const t = target();
  if (!state.workers[t.name]) { console.error('Worker "' + t.name + '" not found.'); process.exit(1); }
  console.log(JSON.stringify(Object.keys(state.workers[t.name]).map((name) => ({ name, type: "secret_text" })), null, "  "));
} else if (a === "secret" && b === "put") {
  const t = target();
  (state.workers[t.name] ??= {})[args[2]] = stdin; save();
  console.log("Success! Uploaded secret " + args[2]);
} else if (a === "secret" && b === "delete") {
  const t = target();
  if (!state.workers[t.name] || !(args[2] in state.workers[t.name])) { console.error("Secret " + args[2] + " not found"); process.exit(1); }
  delete state.workers[t.name][args[2]]; save();
  console.log("Success! Deleted secret " + args[2]);
} else if (a === "deploy") {
  const t = target();
  state.workers[t.name] ??= {};
  const [db] = t.d1_databases;
  (state.deployed ??= []).push({ worker: t.name, database: db.database_name, databaseId: db.database_id, vars: t.vars }); save();
  console.log("Deployed " + t.name);
} else {
  console.error("fake wrangler: unexpected " + args.join(" ")); process.exit(2);
}
`;

/** The console build's stand-in: records that it ran, in the fake wrangler's log (a real build rewrites dist/). */
const FAKE_BUILD = `import { appendFileSync } from "node:fs";
appendFileSync(process.env.FAKE_WRANGLER_LOG, JSON.stringify({ build: true }) + "\\n");
`;

let runs = 0;
/** Runs scripts/deploy.mjs against the fake wrangler on `account`; returns its output, the calls and the account after. */
async function deployAgainst(account: FakeAccount, args: string[] = [], env: Record<string, string> = {}) {
  const dir = join(work, `run-${++runs}`);
  const fake = join(work, "fake-wrangler.mjs");
  writeFileSync(fake, FAKE_WRANGLER);
  chmodSync(fake, 0o755);
  const fakeBuild = join(work, "fake-build-console.mjs");
  writeFileSync(fakeBuild, FAKE_BUILD);
  const state = join(work, `state-${runs}.json`);
  const log = join(work, `log-${runs}.jsonl`);
  writeFileSync(state, JSON.stringify(account));
  const deployDir = join(dir, "deploy");
  const ran = await deployScript(
    args,
    childEnv({ CANOPY_WRANGLER: fake, CANOPY_BUILD_CONSOLE: fakeBuild, CANOPY_DEPLOY_DIR: deployDir, FAKE_WRANGLER_STATE: state, FAKE_WRANGLER_LOG: log, ...env }),
  );
  const logged: ({ args: string[]; stdin: string } | { build: true })[] = existsSync(log)
    ? readFileSync(log, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { args: string[]; stdin: string } | { build: true })
    : [];
  const calls = logged.filter((c): c is { args: string[]; stdin: string } => "args" in c);
  return {
    ...ran,
    calls,
    commands: calls.map((c) => c.args.join(" ")),
    /** The wrangler commands and the console build ("build console"), in the order they ran. */
    steps: logged.map((c) => ("args" in c ? c.args.join(" ") : "build console")),
    after: JSON.parse(readFileSync(state, "utf8")) as FakeAccount,
    config: join(deployDir, "wrangler.jsonc"),
  };
}

describe("scripts/deploy.mjs", { timeout: 180_000 }, () => {
  it("--dry-run prints every step's commands in order, runs none, and exits 0", async () => {
    const r = await deployAgainst({ loggedIn: false, databases: [], workers: {} }, ["--dry-run"]);
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(r.calls, "no wrangler command ran").toEqual([]);
    const cfg = r.config.replace(`${root}/`, "");
    const expected = [
      "1. Check the Cloudflare login",
      "$ wrangler whoami --json",
      '2. Find the D1 database "canopy"',
      "$ wrangler d1 list --json",
      "$ wrangler d1 create canopy",
      "3. Write the deploy config",
      "4. Apply the D1 migrations",
      `$ wrangler d1 migrations apply canopy --remote --config ${cfg}`,
      "5. Put the secrets",
      `$ wrangler secret list --config ${cfg}`,
      `$ wrangler secret put ADMIN_TOKEN --config ${cfg}`,
      `$ wrangler secret put SECRETS_KEY --config ${cfg}`,
      "6. Build the console and deploy the Worker",
      "$ node scripts/build-console.mjs",
      `$ wrangler deploy --config ${cfg} --var ALLOW_PRIVATE_EGRESS:false`,
      "Dry run done: nothing was run.",
    ];
    let at = 0;
    for (const line of expected) {
      const found = r.stdout.indexOf(line, at);
      expect(found, `"${line}" after position ${at} in:\n${r.stdout}`).toBeGreaterThanOrEqual(0);
      at = found + line.length;
    }
    // The deploy config is written for reading, with the committed placeholder id and egress off.
    const rawConfig = readWranglerConfig(r.config);
    expect(rawConfig.d1_databases?.[0]?.database_id).toBe("00000000-0000-0000-0000-000000000000");
    expect(rawConfig.vars?.ALLOW_PRIVATE_EGRESS).toBe("false");
    // The console's assets directory, relocated like every other path so that it still names dist/.
    expect(resolve(dirname(r.config), rawConfig.assets?.directory ?? "")).toBe(resolve(root, "dist"));
    expect(rawConfig.assets?.binding).toBe("ASSETS");
  });

  it("stops before anything else when not logged in (the real wrangler, no credentials)", async () => {
    const home = join(work, "home");
    const deployDir = join(work, "real-not-logged-in");
    const r = await deployScript(
      [],
      childEnv({ HOME: home, XDG_CONFIG_HOME: join(home, ".config"), WRANGLER_HOME: undefined, CANOPY_DEPLOY_DIR: deployDir }),
    );
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toContain("Not logged in to Cloudflare, so nothing was done.");
    expect(r.stderr).toContain("npx wrangler login");
    expect(r.stdout).not.toContain("2. Find the D1 database");
    expect(existsSync(deployDir)).toBe(false);
  });

  it("stops after `whoami` when not logged in, and runs nothing else", async () => {
    const r = await deployAgainst({ loggedIn: false, databases: [], workers: {} });
    expect(r.status).toBe(1);
    expect(r.commands).toEqual(["whoami --json"]);
    expect(r.stderr).toContain("Not logged in to Cloudflare");
    expect(existsSync(r.config)).toBe(false);
  });

  it("says so when it cannot confirm the login, and runs nothing else", async () => {
    const r = await deployAgainst({ loggedIn: true, whoamiFails: true, databases: [], workers: {} });
    expect(r.status).toBe(1);
    expect(r.commands).toEqual(["whoami --json"]);
    expect(r.stderr).toContain("Could not confirm a Cloudflare login");
    expect(r.stderr).toContain("fetch failed");
  });

  it("asks which account when the login reaches several", async () => {
    const accounts = [{ id: "acc1", name: "Acme" }, { id: "acc2", name: "Other" }];
    const r = await deployAgainst({ loggedIn: true, accounts, databases: [], workers: {} });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("CLOUDFLARE_ACCOUNT_ID");
    expect(r.stderr).toContain("acc2  Other");
    expect(r.commands).toEqual(["whoami --json"]);
  });

  it("a first deploy creates the database, migrates, puts both secrets and deploys, in that order", async () => {
    const id = "6c1f2d3e-4a5b-4c6d-8e7f-901234567890";
    const r = await deployAgainst({ loggedIn: true, databases: [{ uuid: "other", name: "else" }], newDatabaseId: id, workers: {} });
    expect(r.status, r.stderr + r.stdout).toBe(0);
    const cfg = r.config.replace(`${root}/`, "");
    expect(r.commands).toEqual([
      "whoami --json",
      "d1 list --json",
      "d1 create canopy",
      "d1 list --json",
      `d1 migrations apply canopy --remote --config ${cfg}`,
      `secret list --config ${cfg}`,
      `secret put ADMIN_TOKEN --config ${cfg}`,
      `secret put SECRETS_KEY --config ${cfg}`,
      `deploy --config ${cfg} --var ALLOW_PRIVATE_EGRESS:false`,
    ]);
    // The console is built once, right before the Worker is deployed with it.
    expect(r.steps.slice(-2)).toEqual(["build console", `deploy --config ${cfg} --var ALLOW_PRIVATE_EGRESS:false`]);
    // The generated admin token is the one put, and is printed once.
    const admin = r.after.workers.canopy!.ADMIN_TOKEN!;
    expect(admin).toMatch(/^adm_[A-Za-z0-9_-]{32}$/);
    expect(r.stdout.split(admin).length - 1).toBe(1);
    // SECRETS_KEY is what src/crypto/seal.ts takes (base64 of 32 bytes), and is never printed.
    const key = r.after.workers.canopy!.SECRETS_KEY!;
    expect(Buffer.from(key, "base64").byteLength).toBe(32);
    expect(Buffer.from(key, "base64").toString("base64")).toBe(key);
    expect(r.stdout + r.stderr).not.toContain(key);
    // The deploy config carries the real id; the committed wrangler.toml keeps its placeholder.
    const rawConfig = readWranglerConfig(r.config);
    expect(rawConfig.d1_databases?.[0]?.database_id).toBe(id);
    expect(readFileSync(join(root, "wrangler.toml"), "utf8")).toContain('database_id = "00000000-0000-0000-0000-000000000000"');
    expect(r.after.deployed).toEqual([
      { worker: "canopy", database: "canopy", databaseId: id, vars: expect.objectContaining({ ALLOW_PRIVATE_EGRESS: "false" }) },
    ]);
  });

  it("a later deploy keeps SECRETS_KEY, keeps ADMIN_TOKEN unless one is given, and creates nothing", async () => {
    const id = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
    const account: FakeAccount = {
      loggedIn: true,
      databases: [{ uuid: id, name: "canopy" }],
      workers: { canopy: { ADMIN_TOKEN: "adm_old", SECRETS_KEY: "b2xkLWtleS1vbGQta2V5LW9sZC1rZXktb2xkLWtleSE=" } },
    };
    const kept = await deployAgainst(account);
    expect(kept.status, kept.stderr + kept.stdout).toBe(0);
    expect(kept.commands.filter((c) => c.startsWith("secret put") || c.startsWith("d1 create"))).toEqual([]);
    expect(kept.after.workers).toEqual(account.workers);
    expect(kept.commands.at(-1)).toMatch(/^deploy --config .* --var ALLOW_PRIVATE_EGRESS:false$/);

    const newKey = Buffer.alloc(32, 7).toString("base64");
    const given = await deployAgainst(account, [], { ADMIN_TOKEN: "adm_given_token_0123456789", SECRETS_KEY: newKey });
    expect(given.status, given.stderr + given.stdout).toBe(0);
    expect(given.after.workers.canopy!.ADMIN_TOKEN).toBe("adm_given_token_0123456789");
    expect(given.after.workers.canopy!.SECRETS_KEY, "an existing SECRETS_KEY is never replaced").toBe(account.workers.canopy!.SECRETS_KEY);
    expect(given.stdout).toContain("SECRETS_KEY is already set: kept (the SECRETS_KEY given was not used)");
  });

  it("refuses a SECRETS_KEY that is not the base64 of 32 bytes, before running anything", async () => {
    const r = await deployAgainst({ loggedIn: true, databases: [], workers: {} }, [], {
      SECRETS_KEY: Buffer.alloc(16, 1).toString("base64"),
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("SECRETS_KEY must be the base64 of 32 bytes");
    expect(r.commands).toEqual([]);
  });
});

describe("scripts/deploy.mjs --env staging", { timeout: 180_000 }, () => {
  const productionSecrets = { ADMIN_TOKEN: "adm_production_0123456789", SECRETS_KEY: Buffer.alloc(32, 9).toString("base64") };

  it("--dry-run prints the staging plan: its own database, and --env staging on every command that reads the config", async () => {
    const ways: { args: string[]; env: Record<string, string> }[] = [
      { args: ["--dry-run", "--env", "staging"], env: {} },
      { args: ["--dry-run"], env: { CANOPY_ENV: "staging" } },
    ];
    for (const how of ways) {
      const r = await deployAgainst({ loggedIn: false, databases: [], workers: {} }, how.args, how.env);
      expect(r.status, r.stderr + r.stdout).toBe(0);
      expect(r.calls, "no wrangler command ran").toEqual([]);
      const cfg = r.config.replace(`${root}/`, "");
      const expected = [
        'the Worker "canopy-staging" ([env.staging])',
        "1. Check the Cloudflare login",
        "$ wrangler whoami --json",
        '2. Find the D1 database "canopy-staging"',
        "$ wrangler d1 list --json",
        "$ wrangler d1 create canopy-staging",
        `3. Write the deploy config ${cfg} ([env.staging] of wrangler.toml`,
        "4. Apply the D1 migrations",
        `$ wrangler d1 migrations apply canopy-staging --remote --config ${cfg} --env staging`,
        "5. Put the secrets",
        `$ wrangler secret list --config ${cfg} --env staging`,
        `$ wrangler secret put ADMIN_TOKEN --config ${cfg} --env staging`,
        `$ wrangler secret put SECRETS_KEY --config ${cfg} --env staging`,
        "6. Build the console and deploy the Worker",
        "$ node scripts/build-console.mjs",
        `$ wrangler deploy --config ${cfg} --env staging --var ALLOW_PRIVATE_EGRESS:false`,
        "Dry run done: nothing was run.",
      ];
      let at = 0;
      for (const line of expected) {
        const found = r.stdout.indexOf(line, at);
        expect(found, `"${line}" after position ${at} in:\n${r.stdout}`).toBeGreaterThanOrEqual(0);
        at = found + line.length;
      }
      // No command of the plan names production's database.
      expect(r.stdout).not.toMatch(/ canopy(\s|$)/m);
      // The deploy config's [env.staging] has the placeholder id and egress off; its top level is as committed.
      const written = readWranglerConfig(r.config) as WranglerConfig & { env?: Record<string, WranglerConfig> };
      expect(written.env?.staging?.name).toBe("canopy-staging");
      expect(written.env?.staging?.d1_databases?.[0]).toMatchObject({ database_name: "canopy-staging", database_id: "00000000-0000-0000-0000-000000000000" });
      expect(written.env?.staging?.vars?.ALLOW_PRIVATE_EGRESS).toBe("false");
      expect(written.name).toBe("canopy");
      expect(written.d1_databases?.[0]?.database_id).toBe("00000000-0000-0000-0000-000000000000");
    }
  });

  it("a first staging deploy creates canopy-staging, migrates it, and puts secrets on and deploys canopy-staging only", async () => {
    const productionId = "11111111-2222-4333-8444-555555555555";
    const stagingId = "99999999-8888-4777-8666-555555555555";
    const r = await deployAgainst(
      {
        loggedIn: true,
        databases: [{ uuid: productionId, name: "canopy" }],
        newDatabaseId: stagingId,
        workers: { canopy: { ...productionSecrets } },
      },
      ["--env", "staging"],
    );
    expect(r.status, r.stderr + r.stdout).toBe(0);
    const cfg = r.config.replace(`${root}/`, "");
    expect(r.commands).toEqual([
      "whoami --json",
      "d1 list --json",
      "d1 create canopy-staging",
      "d1 list --json",
      `d1 migrations apply canopy-staging --remote --config ${cfg} --env staging`,
      `secret list --config ${cfg} --env staging`,
      `secret put ADMIN_TOKEN --config ${cfg} --env staging`,
      `secret put SECRETS_KEY --config ${cfg} --env staging`,
      `deploy --config ${cfg} --env staging --var ALLOW_PRIVATE_EGRESS:false`,
    ]);
    expect(r.stdout).toContain('The Worker "canopy-staging" does not exist yet');
    // The staging database, with the real id, is the one migrated and bound; production's is untouched.
    expect(r.after.databases).toEqual([{ uuid: productionId, name: "canopy" }, { uuid: stagingId, name: "canopy-staging" }]);
    expect(r.after.migrated).toEqual([
      { database: "canopy-staging", databaseId: stagingId, migrationsDir: expect.stringMatching(/(^|\/)migrations$/), worker: "canopy-staging" },
    ]);
    expect(r.after.deployed).toEqual([
      { worker: "canopy-staging", database: "canopy-staging", databaseId: stagingId, vars: expect.objectContaining({ ALLOW_PRIVATE_EGRESS: "false" }) },
    ]);
    // Staging has secrets of its own; production's Worker and secrets are as they were.
    expect(Object.keys(r.after.workers).sort()).toEqual(["canopy", "canopy-staging"]);
    expect(r.after.workers.canopy).toEqual(productionSecrets);
    const staging = r.after.workers["canopy-staging"]!;
    expect(staging.ADMIN_TOKEN).toMatch(/^adm_[A-Za-z0-9_-]{32}$/);
    expect(Buffer.from(staging.SECRETS_KEY!, "base64").byteLength).toBe(32);
    expect(staging.SECRETS_KEY).not.toBe(productionSecrets.SECRETS_KEY);
    // The migrations directory the deploy config names is the repository's, from where the config lives.
    const migrationsDir = r.after.migrated![0]!.migrationsDir;
    expect(existsSync(join(r.config, "..", migrationsDir, "0001_init.sql"))).toBe(true);
  });

  it("a later staging deploy keeps staging's secrets and creates nothing", async () => {
    const stagingSecrets = { ADMIN_TOKEN: "adm_staging_0123456789", SECRETS_KEY: Buffer.alloc(32, 3).toString("base64") };
    const account: FakeAccount = {
      loggedIn: true,
      databases: [{ uuid: "p", name: "canopy" }, { uuid: "s", name: "canopy-staging" }],
      workers: { canopy: { ...productionSecrets }, "canopy-staging": { ...stagingSecrets } },
    };
    const r = await deployAgainst(account, [], { CANOPY_ENV: "staging" });
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(r.commands.filter((c) => c.startsWith("secret put") || c.startsWith("d1 create"))).toEqual([]);
    expect(r.after.workers).toEqual(account.workers);
    expect(r.after.deployed?.map((d) => [d.worker, d.databaseId])).toEqual([["canopy-staging", "s"]]);
  });

  it("refuses an environment wrangler.toml does not declare, or two that disagree, before running anything", async () => {
    const none = await deployAgainst({ loggedIn: true, databases: [], workers: {} }, ["--env", "qa"]);
    expect(none.status).toBe(1);
    expect(none.stderr).toContain("wrangler.toml has no [env.qa] (it has [env.staging])");
    expect(none.commands).toEqual([]);
    expect(existsSync(none.config)).toBe(false);

    const clash = await deployAgainst({ loggedIn: true, databases: [], workers: {} }, ["--env", "staging"], { CANOPY_ENV: "production" });
    expect(clash.status).toBe(1);
    expect(clash.stderr).toContain("--env staging and CANOPY_ENV=production disagree");
    expect(clash.commands).toEqual([]);
  });
});

/**
 * A deployed Worker's two admin routes, played from the fake account's state: the keys are the
 * Worker's secrets as the fake wrangler last put them, and `values` are the key ids stored secrets
 * are sealed under. A new SECRETS_KEY reaches the Worker only after `lag` more requests (secrets take
 * moments to reach every isolate), and each reseal call moves at most `perCall` values. Each request
 * is appended to the fake wrangler's log, so the tests see it in order among the wrangler commands.
 */
async function fakeWorker(opts: { values: string[]; perCall: number; lag: number }) {
  const { createServer } = await import("node:http");
  const ids = { applied: "", pending: 0 };
  let statePath = "";
  let logPath = "";
  const keys = () => {
    const secrets = (JSON.parse(readFileSync(statePath, "utf8")) as FakeAccount).workers.canopy ?? {};
    const current = keyIdOf(secrets.SECRETS_KEY!);
    // The new key is seen only after `lag` requests.
    if (ids.applied === "") ids.applied = current;
    if (current !== ids.applied && ids.pending++ >= opts.lag) ((ids.applied = current), (ids.pending = 0));
    const previous = (secrets.SECRETS_KEY_PREVIOUS ?? "").split(",").filter(Boolean).map(keyIdOf);
    return { keyId: ids.applied, previousKeyIds: previous.filter((p) => p !== ids.applied) };
  };
  const remaining = (k: { keyId: string; previousKeyIds: string[] }) => opts.values.filter((v) => v !== k.keyId && k.previousKeyIds.includes(v)).length;
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d));
    req.on("end", () => {
      appendFileSync(logPath, JSON.stringify({ args: ["HTTP", req.method!, req.url!], stdin: body }) + "\n");
      const answer = (status: number, json: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(json));
      if (req.headers.authorization !== "Bearer adm_rotation_admin_token") return answer(401, { code: "AuthenticationError" });
      const k = keys();
      if (req.method === "GET" && req.url === "/admin/secrets-key") return answer(200, k);
      if (req.method === "POST" && req.url === "/admin/reseal-secrets") {
        const expected = (JSON.parse(body || "{}") as { keyId?: string }).keyId;
        if (expected !== undefined && expected !== k.keyId) return answer(409, { code: "ConflictError", message: `seals under ${k.keyId}` });
        let resealed = 0;
        opts.values = opts.values.map((v) => (v !== k.keyId && k.previousKeyIds.includes(v) && resealed < opts.perCall ? (resealed++, k.keyId) : v));
        return answer(200, { resealed, remainingUnderOldKeys: remaining(k), unreadable: 0, keyId: k.keyId });
      }
      answer(404, { code: "UnknownOperation" });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    /** Where the fake account's state and log are, once deployAgainst has made them. */
    attach: (state: string, log: string) => ((statePath = state), (logPath = log)),
    values: () => opts.values,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe("scripts/deploy.mjs --rotate-secrets-key", { timeout: 180_000 }, () => {
  const keyA = Buffer.alloc(32, 0xa).toString("base64");
  const keyB = Buffer.alloc(32, 0xb).toString("base64");
  const admin = "adm_rotation_admin_token";
  const rotationEnv = { ADMIN_TOKEN: admin, SECRETS_KEY_PREVIOUS: keyA, SECRETS_KEY: keyB, CANOPY_ROTATE_WAIT_MS: "10" };
  const account = (secrets: Record<string, string>): FakeAccount => ({ loggedIn: true, databases: [{ uuid: "db-1", name: "canopy" }], workers: { canopy: secrets } });

  /** deployAgainst, with the fake Worker reading that run's account state. */
  async function rotateAgainst(acc: FakeAccount, worker: Awaited<ReturnType<typeof fakeWorker>>, env: Record<string, string>, extra: string[] = []) {
    // deployAgainst numbers its files: the next run's state and log are known before it starts.
    worker.attach(join(work, `state-${runs + 1}.json`), join(work, `log-${runs + 1}.jsonl`));
    return deployAgainst(acc, ["--rotate-secrets-key", "--url", worker.url, ...extra], env);
  }

  it("computes key ids as the Worker does (the vector src/crypto/seal.ts is tested with)", () => {
    expect(keyIdOf("dGVzdC1zZWNyZXRzLWtleS0zMi1ieXRlcy1sb25nISE=")).toBe("9b05d58869626f85");
  });

  it("keeps the old key as previous, puts the new one, reseals until none remain, then drops the old key, in that order", async () => {
    const idA = keyIdOf(keyA);
    const worker = await fakeWorker({ values: [idA, idA, idA, idA, idA], perCall: 2, lag: 2 });
    try {
      const r = await rotateAgainst(account({ ADMIN_TOKEN: admin, SECRETS_KEY: keyA }), worker, rotationEnv);
      expect(r.status, r.stderr + r.stdout).toBe(0);
      const cfg = r.config.replace(`${root}/`, "");
      const order = r.commands.filter((c) => !c.startsWith("HTTP GET")).filter((c, i, all) => c !== all[i - 1]);
      expect(order).toEqual([
        "whoami --json",
        "d1 list --json",
        `secret list --config ${cfg}`,
        `secret put SECRETS_KEY_PREVIOUS --config ${cfg}`,
        `secret put SECRETS_KEY --config ${cfg}`,
        "HTTP POST /admin/reseal-secrets",
        `secret delete SECRETS_KEY_PREVIOUS --config ${cfg}`,
      ]);
      // The keys put are the ones given: the old one as previous first, then the new one.
      expect(r.calls.filter((c) => c.args[1] === "put").map((c) => [c.args[2], c.stdin])).toEqual([
        ["SECRETS_KEY_PREVIOUS", keyA],
        ["SECRETS_KEY", keyB],
      ]);
      // Every reseal call named the new key, and the isolates still on the old one were waited for.
      const reseals = r.calls.filter((c) => c.args[2] === "/admin/reseal-secrets");
      expect(reseals.length).toBeGreaterThanOrEqual(3);
      for (const c of reseals) expect(JSON.parse(c.stdin)).toEqual({ keyId: keyIdOf(keyB) });
      expect(worker.values()).toEqual(Array(5).fill(keyIdOf(keyB)));
      expect(r.after.workers.canopy).toEqual({ ADMIN_TOKEN: admin, SECRETS_KEY: keyB });
      expect(r.stdout).toContain("0 remain under the old key");
      expect(r.stdout + r.stderr).not.toContain(keyA);
      expect(r.stdout + r.stderr).not.toContain(keyB);
    } finally {
      await worker.close();
    }
  });

  it("refuses a SECRETS_KEY_PREVIOUS that is not the key the Worker seals with, and changes nothing", async () => {
    const worker = await fakeWorker({ values: [keyIdOf(keyA)], perCall: 10, lag: 0 });
    try {
      const other = Buffer.alloc(32, 0xe).toString("base64");
      const acc = account({ ADMIN_TOKEN: admin, SECRETS_KEY: keyA });
      const r = await rotateAgainst(acc, worker, { ...rotationEnv, SECRETS_KEY_PREVIOUS: other });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`The key given as SECRETS_KEY_PREVIOUS (id ${keyIdOf(other)}) is not the one the Worker seals with (id ${keyIdOf(keyA)})`);
      expect(r.commands.filter((c) => c.startsWith("secret put") || c.startsWith("secret delete") || c.includes("reseal"))).toEqual([]);
      expect(r.after.workers).toEqual(acc.workers);
    } finally {
      await worker.close();
    }
  });

  it("goes on with a rotation that stopped after its puts, without the new key, and makes one when none is given", async () => {
    const idA = keyIdOf(keyA);
    const worker = await fakeWorker({ values: [idA, idA, idA], perCall: 1, lag: 0 });
    try {
      const { SECRETS_KEY: _given, ...withoutNew } = rotationEnv;
      const resumed = await rotateAgainst(account({ ADMIN_TOKEN: admin, SECRETS_KEY: keyB, SECRETS_KEY_PREVIOUS: keyA }), worker, withoutNew);
      expect(resumed.status, resumed.stderr + resumed.stdout).toBe(0);
      expect(resumed.stdout).toContain(`A rotation from key ${idA} to key ${keyIdOf(keyB)} is under way`);
      expect(resumed.commands.filter((c) => c.startsWith("secret put"))).toEqual([]);
      expect(worker.values()).toEqual(Array(3).fill(keyIdOf(keyB)));
      expect(resumed.after.workers.canopy).toEqual({ ADMIN_TOKEN: admin, SECRETS_KEY: keyB });

      // A fresh rotation without SECRETS_KEY makes a key, puts it and prints it once.
      const made = await rotateAgainst(account({ ADMIN_TOKEN: admin, SECRETS_KEY: keyB }), worker, { ...withoutNew, SECRETS_KEY_PREVIOUS: keyB });
      expect(made.status, made.stderr + made.stdout).toBe(0);
      const newKey = made.after.workers.canopy!.SECRETS_KEY!;
      expect(Buffer.from(newKey, "base64").byteLength).toBe(32);
      expect(newKey).not.toBe(keyB);
      expect(made.stdout.split(newKey).length - 1).toBe(1);
      expect(worker.values()).toEqual(Array(3).fill(keyIdOf(newKey)));
    } finally {
      await worker.close();
    }
  });

  it("needs the URL, the admin token and the current key before running anything", async () => {
    for (const [env, message] of [
      [{ ...rotationEnv, ADMIN_TOKEN: "" }, "needs ADMIN_TOKEN"],
      [{ ...rotationEnv, SECRETS_KEY_PREVIOUS: "" }, "needs SECRETS_KEY_PREVIOUS"],
      [{ ...rotationEnv, SECRETS_KEY_PREVIOUS: `${keyA},${keyB}` }, "SECRETS_KEY_PREVIOUS must be one key"],
    ] as const) {
      const r = await deployAgainst(account({ SECRETS_KEY: keyA }), ["--rotate-secrets-key", "--url", "http://127.0.0.1:9"], env);
      expect(r.status, message).toBe(1);
      expect(r.stderr).toContain(message);
      expect(r.commands.filter((c) => c.startsWith("secret"))).toEqual([]);
    }
    const noUrl = await deployAgainst(account({ SECRETS_KEY: keyA }), ["--rotate-secrets-key"], rotationEnv);
    expect(noUrl.stderr).toContain("needs the Worker's URL");
  });
});
