/**
 * The job page's facts (workflow, where the job came from, its parent and root, units, times) and
 * its outcome: why it failed (a failed fan-out links to its failed children) or where it was
 * cancelled, and by what.
 */
import type { ReactNode } from "react";
import { Link } from "react-router";
import type { GetJobResponse, HistoryItem, JobSummary } from "../api/types";
import { jobDuration, shortId } from "../components/format";
import { Time } from "../components/Time";

/** Where a job came from, with a link where the console has a page for it. */
export function JobOrigin({ org, job }: { org: string; job: JobSummary }) {
  if (job.parentJobId) {
    return (
      <span>
        child of{" "}
        <Link to={`/organizations/${org}/jobs/${job.parentJobId}`}>
          <code>{shortId(job.parentJobId)}</code>
        </Link>
        {job.parentStepName ? ` (step ${job.parentStepName}${job.childKey !== undefined ? `, key ${job.childKey}` : ""})` : ""}
      </span>
    );
  }
  if (job.scheduleId) {
    return (
      <span>
        schedule{" "}
        <Link to={`/organizations/${org}/schedules#schedule-${job.scheduleId}`}>
          <code>{shortId(job.scheduleId)}</code>
        </Link>
      </span>
    );
  }
  if (job.triggerId) {
    return (
      <span>
        webhook trigger{" "}
        <Link to={`/organizations/${org}/triggers#trigger-${job.triggerId}`}>
          <code>{shortId(job.triggerId)}</code>
        </Link>
      </span>
    );
  }
  if (job.apiAuthTokenId) {
    const name = job.submittedByUser.replace(/^token:/, "");
    return (
      <span title={`API token ${job.apiAuthTokenId}`}>
        API token <strong>{name}</strong> <code>{shortId(job.apiAuthTokenId)}</code>
      </span>
    );
  }
  return <span>{job.submittedByUser === "admin" ? "the admin token" : job.submittedByUser}</span>;
}

export function JobFacts({ org, data, now }: { org: string; data: GetJobResponse; now: number }) {
  const { job, parentJob } = data;
  return (
    <dl className="summary">
      <dt>Current step</dt>
      <dd>{job.currentStepName ?? "–"}</dd>
      <dt>Workflow</dt>
      <dd>
        <Link to={`/organizations/${org}/workflows/${job.workflowId}?version=${job.workflowVersion.versionId}`}>{job.workflowName}</Link> v{job.workflowVersion.versionNumber}
      </dd>
      <dt>Started by</dt>
      <dd data-testid="job-origin">
        <JobOrigin org={org} job={job} />
      </dd>
      {job.parentJobId && parentJob && (
        <>
          <dt>Parent</dt>
          <dd>
            <Link to={`/organizations/${org}/jobs/${job.parentJobId}`}>
              {parentJob.workflowName} <code>{shortId(job.parentJobId)}</code>
            </Link>
          </dd>
        </>
      )}
      {job.rootJobId && job.rootJobId !== job.jobId && job.rootJobId !== job.parentJobId && (
        <>
          <dt>Root</dt>
          <dd>
            <Link to={`/organizations/${org}/jobs/${job.rootJobId}`}>
              <code>{shortId(job.rootJobId)}</code>
            </Link>
          </dd>
        </>
      )}
      <dt>Run number</dt>
      <dd>{job.runNumber}</dd>
      <dt>Units</dt>
      <dd>{job.billableTransactionUnits}</dd>
      <dt>Created</dt>
      <dd>
        <Time iso={job.createdAt} now={now} />
      </dd>
      {job.finishedAt && (
        <>
          <dt>Finished</dt>
          <dd>
            <Time iso={job.finishedAt} now={now} />
          </dd>
        </>
      )}
      <dt>Duration</dt>
      <dd>{jobDuration(job, now)}</dd>
    </dl>
  );
}

/** "3 of 300 child jobs did not succeed; 0 tolerated." → [3, 300]. */
function failedChildren(message: string): { failed: number; total: number } | undefined {
  const m = /^(\d+) of (\d+) child jobs did not succeed/.exec(message);
  return m ? { failed: Number(m[1]), total: Number(m[2]) } : undefined;
}

export interface JobOutcomeProps {
  job: JobSummary;
  history: HistoryItem[];
  /**
   * Who cancelled the job, when something knows it (the organization's audit log): shown in place of
   * what the job itself can tell ("via the API").
   */
  cancelledBy?: ReactNode;
}

/** Why a FAILED job failed, or where a CANCELLED job was cancelled and by what. */
export function JobOutcome({ job, history, cancelledBy }: JobOutcomeProps) {
  const error = job.error;
  if (job.status === "CANCELLED") {
    const step = error?.stepName ?? [...history].reverse().find((h) => h.cancelled)?.stepName;
    const by = cancelledBy ?? (error?.code === "PARENT_CANCELLED" ? "by the parent job" : "via the API");
    return (
      <div className="outcome cancelled" data-testid="job-outcome">
        <strong>Cancelled</strong>
        {step ? (
          <>
            {" "}
            at step <code>{step}</code>
          </>
        ) : (
          " before it started a step"
        )}{" "}
        <span className="cancel-actor">{by}</span>.{error?.message && error.code !== "CANCELLED" ? ` ${error.message}` : ""}
      </div>
    );
  }
  if (job.status !== "FAILED" || !error) return null;
  const children = error.code === "ChildJobsFailed" ? failedChildren(error.message) : undefined;
  return (
    <div className="outcome failed" role="note" data-testid="job-outcome">
      <strong>Failed</strong>
      {error.stepName ? (
        <>
          {" "}
          at step <code>{error.stepName}</code>
        </>
      ) : null}
      : <span className="error-code">{error.code}</span>{" "}
      {children ? (
        <>
          <Link
            to="?children=FAILED"
            // The tree is further down the page: bring it into view with its filter set.
            onClick={() => setTimeout(() => document.getElementById("children")?.scrollIntoView({ block: "start" }), 0)}
          >
            {children.failed} of {children.total} child jobs did not succeed
          </Link>
          {error.message.replace(/^\d+ of \d+ child jobs did not succeed/, "")}
        </>
      ) : (
        <span className="error-message">{error.message}</span>
      )}
    </div>
  );
}
