/**
 * "Rerun failed jobs…" on the Jobs page: RerunJobs for the FAILED top-level jobs of the workflow the
 * list is filtered by (and its creation window), each from the step it failed at or one the operator
 * picks, on each job's own version or one picked; then one line per job: its rerun, or why not.
 */
import { useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { Link } from "react-router";
import { client, ok } from "../api/client";
import type { RerunJobsRequest, RerunJobsResult } from "../api/types";
import { useWorkflowVersions } from "../api/versions";
import { shortId } from "../components/format";
import { ErrorBox } from "../components/States";
import { definitionGraph } from "../definition";

/** RerunJobs' default and most (MAX_RERUN_JOBS in src/limits.ts). */
const DEFAULT_MAX_JOBS = 100;
const MOST_JOBS = 1000;

export interface RerunFailedProps {
  org: string;
  /** The workflow's exact name (the list's filter). */
  workflowName: string;
  /** Its id, when a listed job tells it: the version picker lists its versions. */
  workflowId: string | undefined;
  createdAfter?: string;
  createdBefore?: string;
  open: boolean;
  onClose: () => void;
}

export function RerunFailedDialog({ org, workflowName, workflowId, createdAfter, createdBefore, open, onClose }: RerunFailedProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const versions = useWorkflowVersions(org, open ? workflowId : undefined);
  const [versionId, setVersionId] = useState("");
  const [fromStep, setFromStep] = useState("");
  const [maxJobs, setMaxJobs] = useState(DEFAULT_MAX_JOBS);
  const [results, setResults] = useState<RerunJobsResult[]>();
  const [error, setError] = useState<Error>();
  const [busy, setBusy] = useState(false);
  const chosen = versions.versions.find((v) => v.versionId === versionId);
  const steps = useMemo(() => {
    try {
      return chosen ? definitionGraph(chosen.definition).nodes.map((n) => n.name) : [];
    } catch {
      return [];
    }
  }, [chosen]);

  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) {
      setVersionId("");
      setFromStep("");
      setMaxJobs(DEFAULT_MAX_JOBS);
      setResults(undefined);
      setError(undefined);
      d.showModal();
    }
    if (!open && d.open) d.close();
  }, [open]);

  async function rerun(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setResults(undefined);
    try {
      const body: RerunJobsRequest = {
        filter: { ...(workflowId ? { workflowId } : { workflowName }), status: "FAILED", createdAfter, createdBefore },
        maxJobs,
        ...(versionId ? { workflowVersion: { versionId } } : {}),
        ...(fromStep ? { fromStep } : {}),
      };
      const answer = await ok(client.POST("/organizations/{organizationId}/jobs/rerun", { params: { path: { organizationId: org } }, body }));
      setResults(answer.results);
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  }

  const made = results?.filter((r) => "jobId" in r).length ?? 0;
  const window = [createdAfter && `created after ${createdAfter}`, createdBefore && `created before ${createdBefore}`].filter(Boolean).join(" and ");
  return (
    <dialog ref={ref} className="start-job rerun-failed" aria-labelledby="rerun-failed-title" onClose={() => open && onClose()}>
      <form onSubmit={rerun}>
        <h2 id="rerun-failed-title">Rerun failed jobs of {workflowName}</h2>
        <p className="muted">
          Every FAILED top-level job of the workflow named exactly <code>{workflowName}</code>
          {window ? `, ${window},` : ","} newest first, each as a new job that begins at the step it failed at (or the one you choose). A job already
          rerun the same way is not rerun twice.
        </p>
        <label>
          Version
          <select name="version" value={versionId} onChange={(e) => setVersionId(e.target.value)}>
            <option value="">Each job's own version</option>
            {versions.versions.map((v) => (
              <option key={v.versionId} value={v.versionId}>
                v{v.versionNumber}
                {v.tags.length > 0 ? ` [${v.tags.join(", ")}]` : ""}
              </option>
            ))}
          </select>
        </label>
        {versions.more && (
          <button type="button" className="link-button" onClick={versions.loadMore} disabled={versions.loading}>
            {versions.loading ? "Loading versions…" : "Load more versions"}
          </button>
        )}
        <label>
          Begin at step
          <select name="fromStep" value={fromStep} onChange={(e) => setFromStep(e.target.value)}>
            <option value="">The step each job failed at</option>
            {steps.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          At most this many jobs
          <input type="number" name="maxJobs" min={1} max={MOST_JOBS} value={maxJobs} onChange={(e) => setMaxJobs(Number(e.target.value))} required />
        </label>
        {error && <ErrorBox error={error} title="Nothing was rerun" />}
        {results && (
          <div aria-live="polite">
            <p className="ok" role="status">
              {results.length === 0 ? "No failed job matched." : `${made} of ${results.length} ${results.length === 1 ? "job" : "jobs"} rerun.`}
            </p>
            <ul className="rerun-results">
              {results.map((r) => (
                <li key={r.sourceJobId} data-source-job-id={r.sourceJobId}>
                  <Link to={`/organizations/${org}/jobs/${r.sourceJobId}`} aria-label={`failed job ${shortId(r.sourceJobId)}`}>
                    <code>{shortId(r.sourceJobId)}</code>
                  </Link>{" "}
                  →{" "}
                  {"jobId" in r ? (
                    <Link to={`/organizations/${org}/jobs/${r.jobId}`} aria-label={`its rerun ${shortId(r.jobId)}`}>
                      <code>{shortId(r.jobId)}</code>
                    </Link>
                  ) : (
                    <span className="field-error">
                      <span className="error-code">{r.error.code}</span> {r.error.message}
                    </span>
                  )}
                </li>
              ))}
            </ul>
          </div>
        )}
        <div className="actions">
          <button type="button" onClick={onClose}>
            Close
          </button>
          <button type="submit" disabled={busy}>
            {busy ? "Rerunning…" : "Rerun failed jobs"}
          </button>
        </div>
      </form>
    </dialog>
  );
}
