#!/usr/bin/env node
// `npm run deploy`: put Canopy on Cloudflare's network. In order:
//   1. checks the Cloudflare login (`wrangler whoami --json`) and stops at once without one;
//   2. finds the D1 database named in wrangler.toml (`wrangler d1 list --json`), creating it if missing;
//   3. writes the deploy config .wrangler/production/wrangler.jsonc: wrangler.toml with the database's
//      real id (the committed file keeps its placeholder id, so nobody commits an account's ids) and
//      ALLOW_PRIVATE_EGRESS = "false";
//   4. applies the D1 migrations with --remote;
//   5. puts the secrets with `wrangler secret put`: ADMIN_TOKEN (from the environment; else kept if the
//      Worker has one; else prompted for on a terminal, or generated and printed once) and SECRETS_KEY
//      (from the environment, or 32 random bytes in base64; put only when the Worker has none, and never
//      replaced: every stored secret is sealed with it);
//   6. `wrangler deploy` with that config.
//
// `--rotate-secrets-key --url <the Worker's URL>` replaces SECRETS_KEY on a deployed Worker instead of
// deploying (steps 1 to 3, then scripts/rotate-secrets-key.mjs): it takes the key in use now from
// SECRETS_KEY_PREVIOUS, the new one from SECRETS_KEY (or makes one), and ADMIN_TOKEN; see that file.
//
// `--dry-run` runs no wrangler command at all: it prints each step's commands in order and writes the
// deploy config with the committed placeholder id (or `--database-id <uuid>`) so it can be read.
//
// `--env staging` (or CANOPY_ENV=staging) deploys wrangler.toml's [env.staging] instead: its own Worker
// (canopy-staging), its own D1 database (canopy-staging), its own secrets, the deploy config
// .wrangler/staging/wrangler.jsonc, and `--env staging` on every wrangler command that reads the config.
// Any [env.NAME] of wrangler.toml is deployed the same way.
//
// Honours ADMIN_TOKEN, SECRETS_KEY, CLOUDFLARE_API_TOKEN / CLOUDFLARE_ACCOUNT_ID (read by wrangler),
// CANOPY_ENV (as --env), CANOPY_DEPLOY_DIR (where the deploy config goes, default .wrangler/production,
// or .wrangler/NAME for --env NAME), CANOPY_WRANGLER (the wrangler binary, default
// node_modules/.bin/wrangler; the tests point it at a fake) and CANOPY_BUILD_CONSOLE (the console's
// build script, default scripts/build-console.mjs; the tests give a stand-in, since a real build
// rewrites dist/, and every `npm start` running meanwhile reloads on that, mid-request).
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { isAbsolute, relative, resolve } from "node:path";
import { createInterface } from "node:readline/promises";

const root = resolve(import.meta.dirname, "..");
const committedConfig = resolve(root, "wrangler.toml");
const wrangler = process.env.CANOPY_WRANGLER ?? resolve(root, "node_modules/.bin/wrangler");
const buildConsoleScript = process.env.CANOPY_BUILD_CONSOLE ?? resolve(root, "scripts/build-console.mjs");
const childEnv = { ...process.env, WRANGLER_SEND_METRICS: "false" };

/** The egress policy a deployment runs with (src/egress; wrangler.toml's default). */
const DEPLOYED_EGRESS = "false";

// ---------------------------------------------------------------- arguments

const argv = process.argv.slice(2);
const dryRun = argv.includes("--dry-run");
const databaseIdArg = valueOf("--database-id");
const envArg = valueOf("--env");
const rotateKey = argv.includes("--rotate-secrets-key");
const urlArg = valueOf("--url");
if (argv.includes("--help") || argv.includes("-h")) {
  console.log(`Usage: npm run deploy [-- [--env staging] [--dry-run [--database-id <uuid>]]]

Deploys Canopy to the Cloudflare account wrangler is logged in to (npx wrangler login, or
CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID). ADMIN_TOKEN and SECRETS_KEY in the environment are
put as the Worker's secrets. --dry-run prints every step's commands and runs none of them.
--env staging (or CANOPY_ENV=staging) deploys wrangler.toml's [env.staging]: its own Worker, D1
database and secrets; without it, the top level (production) is deployed.
--rotate-secrets-key --url <the Worker's URL> replaces SECRETS_KEY on the deployed Worker and reseals
every stored secret under it, deploying nothing: SECRETS_KEY_PREVIOUS=<the key in use now>,
SECRETS_KEY=<the new key> (optional: made and printed once) and ADMIN_TOKEN in the environment.
See docs/security.md#rotating-secrets_key.`);
  process.exit(0);
}
const known = new Set(["--dry-run", "--database-id", "--env", "--help", "-h", "--rotate-secrets-key", "--url", databaseIdArg, envArg, urlArg]);
const unknown = argv.filter((a) => !known.has(a));
if (unknown.length > 0) die(`Unknown argument ${unknown.join(" ")} (see --help).`);
if (databaseIdArg !== undefined && !dryRun) die("--database-id is for --dry-run only; a deploy finds the id itself.");
if (urlArg !== undefined && !rotateKey) die("--url is for --rotate-secrets-key only.");

// The wrangler environment deployed: undefined for the top level (production), else an [env.NAME].
const fromEnvVar = process.env.CANOPY_ENV || undefined;
if (envArg !== undefined && fromEnvVar !== undefined && envArg !== fromEnvVar) {
  die(`--env ${envArg} and CANOPY_ENV=${fromEnvVar} disagree; give one.`);
}
const targetEnv = envArg ?? fromEnvVar;
if (targetEnv !== undefined && !/^[a-z][a-z0-9-]*$/.test(targetEnv)) die(`--env ${targetEnv}: an environment name is lowercase letters, digits and dashes.`);

// Not .wrangler/deploy/: a config.json there would redirect every wrangler command, `npm start` too.
const deployDir = resolve(root, process.env.CANOPY_DEPLOY_DIR ?? `.wrangler/${targetEnv ?? "production"}`);
const deployConfig = resolve(deployDir, "wrangler.jsonc");

// Secrets given in the environment are checked before anything runs.
const envAdmin = process.env.ADMIN_TOKEN || undefined;
const envKey = process.env.SECRETS_KEY || undefined;
// The API reads a bearer token of at most 512 characters (src/api/auth.ts); an admin token guards
// every organization, so a short one is refused too.
if (envAdmin !== undefined && (envAdmin.length < 16 || envAdmin.length > 512 || /\s/.test(envAdmin))) {
  die("ADMIN_TOKEN must be 16 to 512 characters without spaces.");
}
// src/crypto/seal.ts imports it as a raw AES-256 key: the base64 of exactly 32 bytes.
if (envKey !== undefined && !/^[A-Za-z0-9+/]{43}=$/.test(envKey)) {
  die("SECRETS_KEY must be the base64 of 32 bytes (44 characters ending in =), e.g. $(openssl rand -base64 32).");
}
// And never the local ones: `npm start` keeps those in plain text in .dev.vars.
const devVars = readDevVars();
for (const [name, value] of [["ADMIN_TOKEN", envAdmin], ["SECRETS_KEY", envKey]]) {
  if (value !== undefined && value === devVars[name]) {
    die(`The ${name} given is the local one from .dev.vars; a deployment needs its own.`);
  }
}

/** KEY="value" lines of .dev.vars, as scripts/start.mjs writes them. */
function readDevVars() {
  const path = resolve(root, ".dev.vars");
  if (!existsSync(path)) return {};
  const vars = {};
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const m = /^([A-Z_][A-Z0-9_]*)\s*=\s*"?([^"]*)"?\s*$/.exec(line);
    if (m) vars[m[1]] = m[2];
  }
  return vars;
}

function valueOf(flag) {
  const i = argv.indexOf(flag);
  if (i === -1) return undefined;
  const v = argv[i + 1];
  if (v === undefined || v.startsWith("--")) die(`${flag} needs a value.`);
  return v;
}

// ---------------------------------------------------------------- output and commands

function die(message) {
  console.error(`\n✖ ${message}`);
  process.exit(1);
}

let stepNumber = 0;
function step(title) {
  stepNumber += 1;
  console.log(`\n${stepNumber}. ${title}`);
}
const note = (text) => console.log(`   ${text}`);

/** How a path is shown and passed: relative to the repository when it is inside it. */
function shown(path) {
  const rel = relative(root, path);
  return rel.startsWith("..") || isAbsolute(rel) ? path : rel;
}
// Every command that reads the config names the environment too: without `--env`, wrangler would act
// on the top level (production) of the deploy config.
const configArgs = ["--config", shown(deployConfig), ...(targetEnv ? ["--env", targetEnv] : [])];
const commandLine = (args, comment) => `   $ wrangler ${args.join(" ")}${comment ? `    # ${comment}` : ""}`;

/** Runs wrangler with the terminal attached (its own prompts and output); stops on failure. */
function run(args, comment) {
  console.log(commandLine(args, comment));
  if (dryRun) return;
  const r = spawnSync(wrangler, args, { cwd: root, env: childEnv, stdio: "inherit" });
  if (r.error) die(`Could not run ${wrangler}: ${r.error.message}`);
  if (r.status !== 0) die(`\`wrangler ${args.join(" ")}\` failed (exit ${r.status ?? r.signal}).`);
}

/** Runs wrangler for its output; `input` is written to its stdin (how `secret put` takes a value). */
function capture(args, { comment, input } = {}) {
  console.log(commandLine(args, comment));
  if (dryRun) return undefined;
  const r = spawnSync(wrangler, args, {
    cwd: root,
    env: childEnv,
    input: input ?? "",
    encoding: "utf8",
    stdio: ["pipe", "pipe", "pipe"],
  });
  if (r.error) die(`Could not run ${wrangler}: ${r.error.message}`);
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** The JSON value in wrangler's output (a warning line may come before it). */
function jsonIn(text, what) {
  const start = text.search(/^[[{]/m);
  if (start === -1) return undefined;
  try {
    return JSON.parse(text.slice(start));
  } catch {
    die(`Could not read ${what} from wrangler's output:\n${text}`);
  }
}

function failed(args, r) {
  die(`\`wrangler ${args.join(" ")}\` failed (exit ${r.status}):\n${(r.stderr + r.stdout).trim()}`);
}

// ---------------------------------------------------------------- the committed config

/** wrangler.toml as wrangler reads it (wrangler's own parser, so the two never disagree). */
async function readCommittedConfig() {
  const { experimental_readRawConfig } = await import("wrangler");
  const { rawConfig } = experimental_readRawConfig({ config: committedConfig });
  return rawConfig;
}

// Paths in a config are relative to its directory: `main` and `migrations_dir` are rewritten for the
// deploy config's. These other keys also name files; wrangler.toml has none of them, and one added is
// refused here rather than left pointing at the wrong place.
const PATH_KEYS = ["base_dir", "tsconfig", "site", "build", "rules", "containers"];

/**
 * The deploy config: the committed one with the database id, paths relative to `deployDir`, egress off.
 * For the top level, the [env.*] sections are left out. For an environment, the top level stays as
 * committed (placeholder id: a command that forgets `--env` reaches no real database) and the
 * environment's section gets the id and the egress policy.
 */
function deployConfigFrom(raw, databaseId) {
  const config = structuredClone(raw);
  const fromDeployDir = (p) => relative(deployDir, resolve(root, p));
  const relocate = (section, where) => {
    for (const key of PATH_KEYS) {
      if (section[key] !== undefined) die(`wrangler.toml has \`${key}\`${where}: scripts/deploy.mjs does not yet relocate its paths into ${shown(deployDir)}.`);
    }
    if (section.main !== undefined) section.main = fromDeployDir(section.main);
    // The console's built files (scripts/build-console.mjs).
    if (section.assets?.directory) section.assets = { ...section.assets, directory: fromDeployDir(section.assets.directory) };
    if (section.d1_databases !== undefined) {
      section.d1_databases = section.d1_databases.map((db) => ({ ...db, migrations_dir: fromDeployDir(db.migrations_dir ?? "migrations") }));
    }
  };
  relocate(config, "");
  let target = config;
  if (targetEnv === undefined) {
    delete config.env;
  } else {
    for (const [name, section] of Object.entries(config.env)) relocate(section, ` in [env.${name}]`);
    target = config.env[targetEnv];
  }
  const [db] = target.d1_databases;
  target.d1_databases = [{ ...db, database_id: databaseId }];
  target.vars = { ...target.vars, ALLOW_PRIVATE_EGRESS: DEPLOYED_EGRESS };
  return config;
}

function writeDeployConfig(config, databaseId) {
  mkdirSync(deployDir, { recursive: true });
  const placeholder = dryRun && databaseId === committedId ? " (a dry run: the placeholder database id)" : "";
  const withEnv = targetEnv ? `// Every wrangler command against this deployment takes --env ${targetEnv} with this --config.\n` : "";
  const header = `// Generated by scripts/deploy.mjs from wrangler.toml${placeholder}. Do not edit: edit wrangler.toml.\n${withEnv}`;
  writeFileSync(deployConfig, header + JSON.stringify(config, null, 2) + "\n");
}

// ---------------------------------------------------------------- the steps

const raw = await readCommittedConfig();
/** The section deployed: the top level, or [env.NAME] (which inherits no bindings nor vars from it). */
let section = raw;
if (targetEnv !== undefined) {
  section = raw.env?.[targetEnv];
  const defined = Object.keys(raw.env ?? {});
  if (section === undefined) die(`wrangler.toml has no [env.${targetEnv}]${defined.length ? ` (it has ${defined.map((n) => `[env.${n}]`).join(", ")})` : ""}.`);
}
const where = targetEnv ? `[env.${targetEnv}] of wrangler.toml` : "wrangler.toml";
// Wrangler names an environment's Worker "<name>-<env>" unless the environment names it.
const workerName = targetEnv ? (section.name ?? (raw.name && `${raw.name}-${targetEnv}`)) : raw.name;
const databases = section.d1_databases ?? [];
if (databases.length !== 1) die(`${where} declares ${databases.length} D1 databases; scripts/deploy.mjs expects one.`);
const databaseName = databases[0].database_name;
const committedId = databases[0].database_id;
if (!workerName || !databaseName) die(`${where} names no Worker or no D1 database.`);
if (targetEnv !== undefined && (workerName === raw.name || databaseName === raw.d1_databases?.[0]?.database_name)) {
  die(`[env.${targetEnv}] of wrangler.toml must name its own Worker and D1 database, not production's.`);
}
const varNames = Object.keys(section.vars ?? {});

const what = `the Worker "${workerName}"${targetEnv ? ` ([env.${targetEnv}])` : ""}`;
const command = rotateKey ? "npm run deploy -- --rotate-secrets-key" : "npm run deploy";
console.log(
  dryRun
    ? `Dry run: the steps of \`${command}\` for ${what}. No wrangler command runs; nothing remote changes.`
    : rotateKey
      ? `Rotating the SECRETS_KEY of ${what}.`
      : `Deploying ${what} to Cloudflare.`,
);

// 1. Login. Everything after this needs an account, so without one stop before touching anything.
step("Check the Cloudflare login");
{
  const args = ["whoami", "--json"];
  const r = capture(args);
  if (r) {
    const who = jsonIn(r.stdout, "the login");
    const howToLogIn =
      "  Log in with `npx wrangler login` (a browser opens), or set CLOUDFLARE_API_TOKEN (and\n" +
      "  CLOUDFLARE_ACCOUNT_ID) to an API token allowed to edit Workers scripts and D1, then run\n" +
      "  `npm run deploy` again.";
    if (who === undefined || typeof who.loggedIn !== "boolean") {
      die(`Could not confirm a Cloudflare login (\`wrangler whoami --json\` exited ${r.status}), so nothing was done.\n${howToLogIn}\n  wrangler said: ${(r.stderr + r.stdout).trim()}`);
    }
    if (!who.loggedIn) die(`Not logged in to Cloudflare, so nothing was done.\n${howToLogIn}`);
    const accounts = Array.isArray(who.accounts) ? who.accounts : [];
    if (accounts.length > 1 && !process.env.CLOUDFLARE_ACCOUNT_ID && !(section.account_id ?? raw.account_id)) {
      die(
        `This login reaches ${accounts.length} accounts; say which with CLOUDFLARE_ACCOUNT_ID:\n` +
          accounts.map((a) => `  ${a.id}  ${a.name}`).join("\n"),
      );
    }
    const account = accounts.find((a) => a.id === process.env.CLOUDFLARE_ACCOUNT_ID) ?? accounts[0];
    note(`Logged in${who.email ? ` as ${who.email}` : ""}${account ? `; account ${account.name} (${account.id})` : ""}.`);
  }
}

// 2. The D1 database: found by name, created when missing.
step(rotateKey ? `Find the D1 database "${databaseName}"` : `Find the D1 database "${databaseName}", and create it if it is missing`);
let databaseId;
{
  const list = () => {
    const args = ["d1", "list", "--json"];
    const r = capture(args);
    if (!r) return undefined;
    if (r.status !== 0) failed(args, r);
    const dbs = jsonIn(r.stdout, "the D1 databases");
    if (!Array.isArray(dbs)) die(`Could not read the D1 databases from wrangler's output:\n${r.stdout}`);
    return dbs.find((d) => d.name === databaseName);
  };
  let db = list();
  if (dryRun) {
    if (!rotateKey) run(["d1", "create", databaseName], "only when the list has none by that name");
    databaseId = databaseIdArg ?? committedId;
  } else {
    if (db) {
      note(`Found ${databaseName} (${db.uuid}).`);
    } else if (rotateKey) {
      die(`There is no D1 database "${databaseName}": a key rotation needs a deployed Worker (run \`npm run deploy\` first).`);
    } else {
      run(["d1", "create", databaseName]);
      db = list();
      if (!db) die(`\`wrangler d1 create ${databaseName}\` succeeded, but the database is not in \`wrangler d1 list\`.`);
    }
    databaseId = db.uuid;
  }
}

// 3. The deploy config. wrangler.toml is left as committed.
step(`Write the deploy config ${shown(deployConfig)} (${where} with the database id; ALLOW_PRIVATE_EGRESS = "${DEPLOYED_EGRESS}")`);
writeDeployConfig(deployConfigFrom(raw, databaseId), databaseId);
note(`database_id = ${databaseId}${dryRun && databaseId === committedId ? " (the placeholder: a deploy writes the real id)" : ""}`);

if (rotateKey) {
  const { rotateSecretsKey } = await import("./rotate-secrets-key.mjs");
  await rotateSecretsKey({ step, note, capture, die, dryRun, configArgs, workerName, url: urlArg, env: process.env });
  process.exit(0);
}

// 4. Migrations, before the code that needs them.
step("Apply the D1 migrations to the remote database");
run(["d1", "migrations", "apply", databaseName, "--remote", ...configArgs]);

// 5. Secrets. On a first deploy `secret put` creates the Worker as an empty draft; step 6 replaces it.
step("Put the secrets");
{
  const args = ["secret", "list", ...configArgs];
  const r = capture(args, { comment: "which secrets the Worker already has" });
  let existing = [];
  if (r) {
    if (r.status === 0) {
      const list = jsonIn(r.stdout, "the Worker's secrets");
      existing = Array.isArray(list) ? list.map((s) => s.name) : [];
    } else if (/not found/i.test(r.stderr + r.stdout)) {
      note(`The Worker "${workerName}" does not exist yet: this is its first deploy.`);
    } else {
      failed(args, r);
    }
  }
  const clash = existing.filter((n) => varNames.includes(n));
  if (clash.length > 0) {
    die(`The Worker has secrets named like wrangler.toml's [vars]: ${clash.join(", ")}. Delete them (\`npx wrangler secret delete <name>\`) and deploy again.`);
  }
  const put = (name, value, comment) => {
    const putArgs = ["secret", "put", name, ...configArgs];
    const res = capture(putArgs, { comment, input: value });
    if (res && res.status !== 0) failed(putArgs, res);
  };

  // ADMIN_TOKEN: the environment's wins; else the Worker's is kept; else typed or generated.
  if (dryRun) {
    put("ADMIN_TOKEN", undefined, envAdmin ? "value: $ADMIN_TOKEN" : "only when the Worker has none: prompted for, or generated and printed once");
  } else if (envAdmin) {
    put("ADMIN_TOKEN", envAdmin, "value: $ADMIN_TOKEN");
  } else if (existing.includes("ADMIN_TOKEN")) {
    note("ADMIN_TOKEN is already set: kept (`ADMIN_TOKEN=... npm run deploy` replaces it).");
  } else {
    let typeOwn = false;
    if (process.stdin.isTTY) {
      const rl = createInterface({ input: process.stdin, output: process.stdout });
      const answer = await rl.question("   ADMIN_TOKEN: generate one (g), or type your own (t)? [g] ");
      rl.close();
      typeOwn = /^t/i.test(answer.trim());
    }
    if (typeOwn) {
      run(["secret", "put", "ADMIN_TOKEN", ...configArgs], "wrangler asks for the value");
    } else {
      const token = "adm_" + randomBytes(24).toString("base64url");
      put("ADMIN_TOKEN", token, "value: generated");
      console.log(`\n   Generated the admin token (shown once, keep it now):\n\n     ADMIN_TOKEN=${token}\n`);
    }
  }

  // SECRETS_KEY: put once. Replacing it would leave every sealed secret undecryptable (src/crypto/seal.ts).
  if (dryRun) {
    put("SECRETS_KEY", undefined, `only when the Worker has none: ${envKey ? "$SECRETS_KEY" : "32 random bytes, base64"}; never replaced`);
  } else if (existing.includes("SECRETS_KEY")) {
    note(`SECRETS_KEY is already set: kept${envKey ? " (the SECRETS_KEY given was not used)" : ""}; a new key would make every stored secret unreadable.`);
  } else {
    put("SECRETS_KEY", envKey ?? randomBytes(32).toString("base64"), envKey ? "value: $SECRETS_KEY" : "value: 32 random bytes, base64");
    if (!envKey) note("SECRETS_KEY was generated and is not shown; Cloudflare never returns a secret's value.");
  }
}

// 6. The Worker itself, with the deployed egress policy whatever the config says.
step("Build the console and deploy the Worker");
console.log("   $ node scripts/build-console.mjs    # the console's files, uploaded as the Worker's static assets");
if (!dryRun) {
  const built = spawnSync(process.execPath, [buildConsoleScript], { cwd: root, env: childEnv, stdio: "inherit" });
  if (built.status !== 0) die("Building the console failed.");
}
run(["deploy", ...configArgs, "--var", `ALLOW_PRIVATE_EGRESS:${DEPLOYED_EGRESS}`]);

console.log(
  dryRun
    ? "\nDry run done: nothing was run."
    : `\nDeployed. Check it with: curl https://${workerName}.<your-subdomain>.workers.dev/openapi.json (wrangler printed the URL above).`,
);
