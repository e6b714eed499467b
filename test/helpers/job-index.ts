/** The job index as tests inside workerd reach it: through the same shard routing the engine uses. */
import { env } from "cloudflare:test";
import type { JobSummary } from "../../src/engine/types";
import { jobStatuses, writeIndex } from "../../src/job-index/shards";
import { organizationIndex } from "../../src/registry/organizations";

/** What SubmitJobs (batch) leaves before its BatchStarter's alarm: each job's first index row (seq 0). */
export async function writeFirstRows(organizationId: string, jobs: JobSummary[]): Promise<void> {
  await writeIndex(env, await organizationIndex(env.DB, organizationId), jobs.map((job) => ({ job, seq: 0 })));
}

/** How many of these top-level jobs the index lists. */
export async function indexedCount(organizationId: string, jobIds: string[]): Promise<number> {
  return (await jobStatuses(env, await organizationIndex(env.DB, organizationId), jobIds)).size;
}
