/**
 * The jobs RerunJobs reruns: top-level jobs of one workflow in one status, created in a window,
 * newest first, at most `maxJobs`. Read through the job index's listing, in pages of MAX_PAGE_SIZE
 * (at most MAX_RERUN_JOBS / MAX_PAGE_SIZE = 10 pages, each one call per shard of the organization's
 * JobIndex, src/job-index/); this one function is all RerunJobs knows of
 * the index, so the index can move without RerunJobs changing.
 */
import type { JobStatus } from "../engine/types";
import { MAX_PAGE_SIZE } from "../limits";
import { listJobs } from "../job-index/shards";
import { organizationIndex } from "../registry/organizations";

export interface RerunFilter {
  workflowId: string;
  status: JobStatus;
  createdAfter?: string;
  createdBefore?: string;
}

/** A job to rerun, as the index lists it. */
export interface RerunSourceRef {
  jobId: string;
  versionId: string;
}

/** The newest `maxJobs` top-level jobs matching `filter`. */
export async function rerunSources(env: Env, organizationId: string, filter: RerunFilter, maxJobs: number): Promise<RerunSourceRef[]> {
  const sources: RerunSourceRef[] = [];
  const index = await organizationIndex(env.DB, organizationId);
  let pageToken: string | undefined;
  do {
    const page = await listJobs(env, index, { ...filter, jobHierarchy: "TOP_LEVEL_ONLY" }, pageToken, Math.min(MAX_PAGE_SIZE, maxJobs - sources.length));
    for (const job of page.jobs) sources.push({ jobId: job.jobId, versionId: job.workflowVersion.versionId });
    pageToken = page.nextPageToken;
  } while (pageToken && sources.length < maxJobs);
  return sources;
}
