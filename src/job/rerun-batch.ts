/**
 * RerunJobs: up to MAX_RERUN_JOBS reruns in one request, each made as RerunJob makes one and each
 * answered alone. One invocation cannot make them all: each rerun costs two Durable Object calls
 * (the source's plan, the new job's start) and a Worker invocation may make 50 subrequests on the
 * Free plan (1,000 on Paid), 6 at a time. So the sources are spread over RerunBatch objects, each an
 * invocation of its own: one reruns at most RERUN_SOURCES_PER_OBJECT itself, and a larger share is
 * split again among at most RERUN_FANOUT objects. The objects keep nothing: each answers its results
 * and is done; a rerun's id is derived from what it reruns, so asking again repeats nothing.
 */
import { DurableObject } from "cloudflare:workers";
import { ApiError, type ErrorInfo } from "../errors";
import { RERUN_SOURCES_PER_OBJECT } from "../limits";
import { logEvent } from "../log";
import { writeIndex } from "../job-index/shards";
import { resolveSubmissionTarget } from "../registry/submission-target";
import { makeRerun, type RerunOutcome } from "./rerun";
import { inTurn, shares } from "./rerun-shares";
import type { RerunSourceRef } from "./rerun-sources";

/** One RerunJobs request, or the share of it one object makes. */
export interface BulkRerun {
  organizationId: string;
  submittedByUser: string;
  workflowId: string;
  sources: RerunSourceRef[];
  /** The version every rerun runs (resolved once by the Worker); absent: each source's own. */
  versionId?: string;
  fromStep?: string;
}

export type BulkRerunResult = { sourceJobId: string; jobId: string } | { sourceJobId: string; error: ErrorInfo };

/** Makes the reruns of `bulk` in RerunBatch objects; one result per source, in order. */
export async function rerunInObjects(env: Env, bulk: BulkRerun): Promise<BulkRerunResult[]> {
  const parts = shares(bulk.sources);
  const answers = await inTurn(parts, async (sources) => {
    try {
      return await env.RERUN_BATCHES.get(env.RERUN_BATCHES.newUniqueId()).rerun({ ...bulk, sources });
    } catch (e) {
      // The object failed as a whole: its sources are answered so, and asking again is safe.
      logEvent("rerun.batchFailed", { sources: sources.length, error: String(e) });
      const error = new ApiError("UnhandledError", "These jobs could not be rerun this time; ask again (a rerun already made is not made twice).").toInfo();
      return sources.map((s) => ({ sourceJobId: s.jobId, error }));
    }
  });
  return answers.flat();
}

/** Makes these reruns in this invocation (at most RERUN_SOURCES_PER_OBJECT), and lists the new jobs in one index call per shard. */
async function rerunHere(env: Env, bulk: BulkRerun): Promise<BulkRerunResult[]> {
  const outcomes = await inTurn(bulk.sources, async (source): Promise<RerunOutcome | ErrorInfo> => {
    try {
      // Versions are cached per isolate: a share of one version reads D1 once.
      const target = await resolveSubmissionTarget(env.DB, bulk.organizationId, { workflowId: bulk.workflowId }, { versionId: bulk.versionId ?? source.versionId });
      return await makeRerun(env, {
        organizationId: bulk.organizationId,
        submittedByUser: bulk.submittedByUser,
        sourceJobId: source.jobId,
        target,
        ...(bulk.fromStep !== undefined ? { fromStep: bulk.fromStep } : {}),
        onlyLatest: true,
      });
    } catch (e) {
      if (e instanceof ApiError) return e.toInfo();
      logEvent("rerun.failed", { sourceJobId: source.jobId, error: String(e) });
      return new ApiError("UnhandledError", "The job could not be rerun this time; ask again.").toInfo();
    }
  });
  const created = outcomes.flatMap((o) => ("jobId" in o && o.created ? [o.created] : []));
  // Every rerun of one organization names the same index (its shard count is the organization's).
  // If this write fails, each new job's own alarm writes its row.
  const ref = created[0]?.ref;
  if (ref) await writeIndex(env, ref, created.map((c) => c.entry)).catch((e: unknown) => logEvent("rerun.indexDeferred", { jobs: created.length, error: String(e) }));
  return bulk.sources.map((s, i) => {
    const o = outcomes[i]!;
    return "jobId" in o ? { sourceJobId: s.jobId, jobId: o.jobId } : { sourceJobId: s.jobId, error: o };
  });
}

/** One share of a RerunJobs request: made here when small, else split among further objects. */
export class RerunBatch extends DurableObject<Env> {
  async rerun(bulk: BulkRerun): Promise<BulkRerunResult[]> {
    if (bulk.sources.length <= RERUN_SOURCES_PER_OBJECT) return rerunHere(this.env, bulk);
    return rerunInObjects(this.env, bulk);
  }
}
