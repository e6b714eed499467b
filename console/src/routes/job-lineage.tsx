/**
 * A job's lineage through reruns, both ways: a rerun links to the job it reruns and the step it
 * began at (its `rerunOf`), and a job lists its own reruns (ListJobs' extension `rerunOf`, newest
 * first, the latest RERUNS_SHOWN of them).
 */
import { Link } from "react-router";
import { useGet } from "../api/hooks";
import type { JobSummary } from "../api/types";
import { shortId } from "../components/format";
import { PausedBadge, StatusBadge } from "../components/States";

const RERUNS_SHOWN = 20;

export function JobLineage({ org, job, canList }: { org: string; job: JobSummary; canList: boolean }) {
  const reruns = useGet(
    "/organizations/{organizationId}/jobs",
    canList ? { params: { path: { organizationId: org }, query: { rerunOf: job.jobId, pageSize: RERUNS_SHOWN } } } : null,
  );
  const list = reruns.data?.jobs ?? [];
  if (!job.rerunOf && list.length === 0) return null;
  return (
    <div className="lineage" data-testid="job-lineage">
      {job.rerunOf && (
        <p>
          Rerun of{" "}
          <Link to={`/organizations/${org}/jobs/${job.rerunOf.jobId}`} aria-label={`job ${shortId(job.rerunOf.jobId)}, the job this one reruns`}>
            <code>{shortId(job.rerunOf.jobId)}</code>
          </Link>{" "}
          from step <code>{job.rerunOf.fromStep}</code>, on v{job.workflowVersion.versionNumber}.
        </p>
      )}
      {list.length > 0 && (
        <div>
          <p>
            Rerun {reruns.data!.totalCount} {reruns.data!.totalCount === 1 ? "time" : "times"}
            {reruns.data!.totalCount > list.length ? ` (the latest ${list.length} shown)` : ""}:
          </p>
          <ul className="reruns">
            {list.map((r) => (
              <li key={r.jobId} data-job-id={r.jobId}>
                <Link to={`/organizations/${org}/jobs/${r.jobId}`} aria-label={`rerun ${shortId(r.jobId)}, ${r.status}`}>
                  <code>{shortId(r.jobId)}</code>
                </Link>{" "}
                from step <code>{r.rerunOf?.fromStep}</code> on v{r.workflowVersion.versionNumber} <StatusBadge status={r.status} />
                {r.paused && <PausedBadge />}
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}
