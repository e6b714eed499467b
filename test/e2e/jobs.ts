/** Job helpers for the end-to-end suite: ListJobs counts and pages, and waiting on many jobs at once. */
import { afterEach } from "vitest";
import type { TestClient } from "../helpers/client";
import { waitFor, type EngineServer } from "./server";

/** Routine lines: successful requests and the engine's job, step and child events. */
const ROUTINE = /^\[wrangler:info\] \w+ \S+ [23]\d\d |^\{"event":"(job|step|child)\./;

/** Prints the server's unusual output after a failed test: what the engine said is the evidence. */
export function printServerLogsOnFailure(server: Pick<EngineServer, "logs">): void {
  afterEach((ctx) => {
    if (ctx.task.result?.state !== "fail") return;
    const unusual = server.logs.split("\n").filter((line) => line.trim() !== "" && !ROUTINE.test(line));
    console.error(`--- npm start output, routine lines left out (last 12 KB) ---\n${unusual.join("\n").slice(-12_000)}`);
  });
}

export type Hierarchy = "ALL" | "TOP_LEVEL_ONLY" | "CHILD_JOBS_ONLY";

/** ListJobs' totalCount for a filter. */
export async function countJobs(client: TestClient, orgId: string, filter: { status?: string; jobHierarchy?: Hierarchy } = {}): Promise<number> {
  const q = new URLSearchParams({ pageSize: "1", ...filter });
  return (await client.expect(200, client.get(`/organizations/${orgId}/jobs?${q}`))).totalCount;
}

/** Every job ListJobs returns for a filter, following nextPageToken. */
export async function listAllJobs(client: TestClient, orgId: string, filter: { status?: string; jobHierarchy?: Hierarchy; parentJobId?: string } = {}): Promise<any[]> {
  const jobs: any[] = [];
  let pageToken: string | undefined;
  do {
    const q = new URLSearchParams({ pageSize: "100", ...filter, ...(pageToken ? { pageToken } : {}) });
    const page = await client.expect(200, client.get(`/organizations/${orgId}/jobs?${q}`));
    jobs.push(...page.jobs);
    pageToken = page.nextPageToken;
  } while (pageToken);
  return jobs;
}

/** Waits until ListJobs counts `n` jobs for the filter (polling the index, not each job). */
export async function waitForCount(client: TestClient, orgId: string, filter: { status?: string; jobHierarchy?: Hierarchy }, n: number, timeoutMs = 120_000): Promise<void> {
  await waitFor(async () => (await countJobs(client, orgId, filter)) === n, timeoutMs, 500);
}

/** GetJob for each id, a few at a time. */
export async function getJobs(client: TestClient, orgId: string, jobIds: string[], concurrency = 8): Promise<any[]> {
  const out: any[] = new Array(jobIds.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < jobIds.length) {
        const i = next++;
        out[i] = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobIds[i]}`));
      }
    }),
  );
  return out;
}
