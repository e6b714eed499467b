/** Runs the repository's scripts and wrangler the way `npm run` does: on the Node 22 in node_modules. */
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { experimental_readRawConfig } from "wrangler";

export const root = resolve(import.meta.dirname, "../../..");
export const wranglerBin = resolve(root, "node_modules/.bin/wrangler");

export interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The environment a child gets: the Node 22 of node_modules first on PATH, no telemetry, no update
 * check (the banner's is the only network call a dry run would make), and none of the caller's
 * Cloudflare credentials or Canopy secrets, so that a test never reaches a real account.
 */
export function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  // A plain record: `wrangler types` declares the [vars] and .dev.vars' names (after an `npm start`)
  // as required keys of ProcessEnv, and these must stay deletable here.
  const env: Record<string, string | undefined> = { ...process.env };
  for (const name of Object.keys(env)) {
    if (name.startsWith("CLOUDFLARE_") || name.startsWith("CF_") || name.startsWith("CANOPY_")) delete env[name];
  }
  delete env.ADMIN_TOKEN;
  delete env.SECRETS_KEY;
  delete env.SECRETS_KEY_PREVIOUS;
  Object.assign(env, {
    PATH: `${resolve(root, "node_modules/node/bin")}:${process.env.PATH ?? ""}`,
    WRANGLER_SEND_METRICS: "false",
    WRANGLER_HIDE_BANNER: "true",
  });
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env as NodeJS.ProcessEnv;
}

/** Runs `command` to its end (or kills it after `timeoutMs`), collecting its output. */
export function run(
  command: string,
  args: string[],
  { env = childEnv(), input = "", timeoutMs = 150_000 }: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<Ran> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: root, env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (status) => {
      clearTimeout(timer);
      resolvePromise({ status, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

/** `node scripts/deploy.mjs …` */
export function deployScript(args: string[], env: NodeJS.ProcessEnv, input = ""): Promise<Ran> {
  return run(resolve(root, "node_modules/node/bin/node"), [resolve(root, "scripts/deploy.mjs"), ...args], { env, input });
}

/** The parts of a wrangler config these tests read (wrangler's reader is typed `any`: its types are not shipped). */
export interface WranglerConfig {
  name?: string;
  d1_databases?: { binding: string; database_name?: string; database_id?: string }[];
  durable_objects?: { bindings?: { name: string; class_name: string }[] };
  migrations?: { tag: string; new_sqlite_classes?: string[] }[];
  vars?: Record<string, unknown>;
  assets?: { directory?: string; binding?: string };
}

/** A wrangler config (toml or jsonc) read with wrangler's own parser. */
export function readWranglerConfig(path: string): WranglerConfig {
  return (experimental_readRawConfig({ config: path }) as { rawConfig: WranglerConfig }).rawConfig;
}
