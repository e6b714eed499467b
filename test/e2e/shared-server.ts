/**
 * One `npm start` shared by the e2e files that need a real server but never kill or restart it,
 * and assert nothing about state the whole server shares (such as every organization the admin
 * lists): each works in organizations of its own. A server start costs seconds and a core; a
 * file that kills or restarts its server, or needs the server to itself, runs its own
 * `EngineServer` instead (test/e2e/server.ts).
 *
 * The first file that connects starts the server; later ones, in this worker or another, find it
 * through files in a directory the e2e project's global setup made (test/e2e/global-setup.ts),
 * whose teardown stops the server when the run ends. A handle has no kill, stop or restart: a
 * file that needs those cannot use it by mistake.
 */
import { closeSync, existsSync, openSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { inject } from "vitest";
import { TestClient } from "../helpers/client";
import { EngineServer, sleep } from "./server";

declare module "vitest" {
  export interface ProvidedContext {
    /** The directory where the shared server's details and output are (test/e2e/global-setup.ts). */
    e2eSharedServerDir: string;
  }
}

/** What the starting file writes for the others: where the server is, or why it did not start. */
export interface SharedServerInfo {
  baseUrl?: string;
  adminToken?: string;
  /** The process group to stop at teardown, and the state directory to remove. */
  pid?: number;
  stateDir?: string;
  error?: string;
}

/** As EngineServer's own start: a start takes seconds on a quiet machine, a minute on a busy one. */
const START_TIMEOUT_MS = 90_000;
/** A file that waits for another to start the server waits that long and a little more. */
const WAIT_TIMEOUT_MS = START_TIMEOUT_MS + 15_000;

export const sharedServerFiles = (dir: string) => ({
  lock: join(dir, "starting"),
  info: join(dir, "server.json"),
  log: join(dir, "server.log"),
});

/** A file's handle on the shared server: connect in a beforeAll, then use it as an EngineServer. */
export class SharedServer {
  private info?: { baseUrl: string; adminToken: string };
  private logFile = "";
  private logOffset = 0;

  /** Starts the shared server if no file has yet, or waits for the one starting it. */
  async connect(): Promise<void> {
    const dir = inject("e2eSharedServerDir");
    if (!dir) throw new Error("The shared server needs the e2e project's global setup (test/e2e/global-setup.ts).");
    const files = sharedServerFiles(dir);
    const info = (await startIfFirst(files)) ?? (await waitForInfo(files.info));
    if (info.error !== undefined || info.baseUrl === undefined || info.adminToken === undefined) {
      throw new Error(`The shared server did not start: ${info.error ?? "no address"}`);
    }
    this.info = { baseUrl: info.baseUrl, adminToken: info.adminToken };
    this.logFile = files.log;
    this.logOffset = statSync(files.log).size;
  }

  get baseUrl(): string {
    return this.connected.baseUrl;
  }

  get adminToken(): string {
    return this.connected.adminToken;
  }

  /** A client with the admin token. */
  get admin(): TestClient {
    return new TestClient((url, init) => fetch(url, init), this.baseUrl, this.adminToken);
  }

  /** What the server printed since this file connected (other files' lines included). */
  get logs(): string {
    return readFileSync(this.logFile).subarray(this.logOffset).toString("utf8").slice(-200_000);
  }

  private get connected(): { baseUrl: string; adminToken: string } {
    if (!this.info) throw new Error("SharedServer: call connect() in a beforeAll first.");
    return this.info;
  }
}

/** Starts the server if this file is the first to ask (it creates the lock file); undefined otherwise. */
async function startIfFirst(files: ReturnType<typeof sharedServerFiles>): Promise<SharedServerInfo | undefined> {
  try {
    closeSync(openSync(files.lock, "wx"));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return undefined;
    throw e;
  }
  const server = new EngineServer({ logFile: files.log });
  let info: SharedServerInfo;
  try {
    await server.start(START_TIMEOUT_MS);
    info = { baseUrl: server.baseUrl, adminToken: server.adminToken, pid: server.pid, stateDir: server.stateDir };
  } catch (e) {
    // The teardown still stops whatever started, and the files waiting learn why at once.
    info = { pid: server.pid, stateDir: server.stateDir, error: String(e) };
  }
  // Written whole, then renamed: a waiting file never reads half of it.
  writeFileSync(files.info + ".tmp", JSON.stringify(info));
  renameSync(files.info + ".tmp", files.info);
  return info;
}

async function waitForInfo(infoFile: string): Promise<SharedServerInfo> {
  const deadline = Date.now() + WAIT_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (existsSync(infoFile)) return JSON.parse(readFileSync(infoFile, "utf8")) as SharedServerInfo;
    await sleep(200);
  }
  return { error: `another test file started it, and it did not answer within ${WAIT_TIMEOUT_MS} ms` };
}
