/**
 * The e2e project's global setup: a directory for the shared server (test/e2e/shared-server.ts),
 * which the first file that needs it starts; the teardown stops that server and removes its state.
 * No file asking, no server: running one file that owns its server starts nothing more.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { sleep } from "./server";
import { sharedServerFiles, type SharedServerInfo } from "./shared-server";

export default function setup(project: TestProject): () => Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "canopy-e2e-shared-"));
  project.provide("e2eSharedServerDir", dir);
  return async () => {
    const { info } = sharedServerFiles(dir);
    if (existsSync(info)) {
      const { pid, stateDir } = JSON.parse(readFileSync(info, "utf8")) as SharedServerInfo;
      if (pid !== undefined) await killGroup(pid);
      if (stateDir !== undefined) rmSync(stateDir, { recursive: true, force: true });
    }
    rmSync(dir, { recursive: true, force: true });
  };
}

/** SIGKILLs the server's process group (npm, node, wrangler, workerd) and waits until it is gone. */
async function killGroup(pid: number): Promise<void> {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    return; // already gone
  }
  for (let waited = 0; waited < 10_000; waited += 100) {
    try {
      process.kill(-pid, 0);
    } catch {
      return;
    }
    await sleep(100);
  }
}
