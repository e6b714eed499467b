/**
 * Runs the real engine for end-to-end tests: `npm start` (migrations + `wrangler dev`) on a free
 * port with a temporary STATE_DIR, in its own process group so a test can `kill -9` all of it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { TestClient } from "../helpers/client";

const ROOT = resolve(import.meta.dirname, "../..");

/** Asks the OS for a free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once("error", rej);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => res(port));
    });
  });
}

export interface ServerOptions {
  env?: Record<string, string>;
  /**
   * Write the server's output to this file instead of this process's memory, and let the server
   * outlive this process: the shared server (test/e2e/shared-server.ts) serves several files, in
   * several workers, and the e2e project's global teardown stops it.
   */
  logFile?: string;
}

export class EngineServer {
  readonly stateDir = mkdtempSync(join(tmpdir(), "canopy-e2e-"));
  readonly adminToken = "e2e-admin-" + Math.random().toString(36).slice(2);
  readonly secretsKey = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64");
  private proc?: ChildProcess;
  private output = "";
  port = 0;

  constructor(private readonly options: ServerOptions = {}) {}

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** A client with the admin token. */
  get admin(): TestClient {
    return new TestClient((url, init) => fetch(url, init), this.baseUrl, this.adminToken);
  }

  /**
   * Starts `npm start` and waits until /healthz answers. `env` adds to (or overrides) this start's
   * environment only: a restart with other keys is `start(undefined, { SECRETS_KEY: …, SECRETS_KEY_PREVIOUS: … })`.
   */
  async start(timeoutMs = 90_000, env: Record<string, string> = {}): Promise<void> {
    if (!this.port) this.port = await freePort();
    this.output = "";
    const logFd = this.options.logFile ? openSync(this.options.logFile, "a") : undefined;
    this.proc = spawn("npm", ["start"], {
      cwd: ROOT,
      detached: true,
      stdio: logFd === undefined ? ["ignore", "pipe", "pipe"] : ["ignore", logFd, logFd],
      env: {
        ...process.env,
        PORT: String(this.port),
        STATE_DIR: this.stateDir,
        ADMIN_TOKEN: this.adminToken,
        SECRETS_KEY: this.secretsKey,
        ...this.options.env,
        ...env,
      },
    });
    if (logFd !== undefined) {
      closeSync(logFd);
      this.proc.unref();
    } else {
      const capture = (chunk: Buffer) => {
        this.output += chunk.toString();
        if (this.output.length > 200_000) this.output = this.output.slice(-100_000);
      };
      this.proc.stdout!.on("data", capture);
      this.proc.stderr!.on("data", capture);
    }
    const proc = this.proc;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      // A process killed by a signal (kill -9 during its start) has a signalCode and no exitCode.
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`npm start exited early:\n${this.logs}`);
      try {
        // Bounded: a request to a server that is being killed must not hold this loop.
        const res = await fetch(`${this.baseUrl}/healthz`, { signal: AbortSignal.timeout(10_000) });
        if (res.ok) return;
      } catch {
        /* not up yet */
      }
      await sleep(250);
    }
    throw new Error(`npm start did not answer /healthz within ${timeoutMs} ms:\n${this.logs}`);
  }

  /** What the server printed (for diagnosing a failure). */
  get logs(): string {
    return this.options.logFile ? readFileSync(this.options.logFile, "utf8").slice(-200_000) : this.output;
  }

  /** The process id of `npm start`, which leads the server's process group. */
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** SIGKILLs the whole process group: npm, node, wrangler and workerd, with no chance to clean up. */
  async kill(): Promise<void> {
    await this.signal("SIGKILL");
  }

  /** Stops the server gracefully. */
  async stop(): Promise<void> {
    await this.signal("SIGTERM");
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    const proc = this.proc;
    if (!proc?.pid || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((res) => proc.once("exit", () => res()));
    try {
      process.kill(-proc.pid, sig);
    } catch {
      /* already gone */
    }
    await Promise.race([exited, sleep(10_000)]);
    try {
      process.kill(-proc.pid, "SIGKILL");
    } catch {
      /* already gone */
    }
    // The group's other members (workerd) may outlive the leader by a moment.
    await sleep(300);
  }

  /** Stops the server and removes its state. */
  async dispose(): Promise<void> {
    await this.kill();
    rmSync(this.stateDir, { recursive: true, force: true });
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `fn` until it returns a truthy value or the time runs out. */
export async function waitFor<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs = 60_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(everyMs);
  }
  throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ""}`);
}
