/** The job list: filters (status, workflow, hierarchy, created range), paged by nextPageToken. */
import { useState, type FormEvent } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { orgPath, query } from "../api/client";
import { useApi } from "../api/hooks";
import { JOB_STATUSES, type ListJobsResponse } from "../api/types";
import { jobDuration, shortId, time } from "../components/format";
import { Empty, ErrorBox, Loading, StatusBadge } from "../components/States";

const HIERARCHIES = [
  ["ALL", "All jobs"],
  ["TOP_LEVEL_ONLY", "Top level"],
  ["CHILD_JOBS_ONLY", "Children"],
] as const;

/** A datetime-local value as the API's ISO time (or undefined). */
const iso = (local: string | null) => (local ? new Date(local).toISOString() : undefined);

export function Jobs() {
  const { org = "" } = useParams();
  const [search, setSearch] = useSearchParams();
  const [tokens, setTokens] = useState<string[]>([]);
  const pageToken = tokens[tokens.length - 1];
  const filters = {
    status: search.get("status") ?? "",
    workflowName: search.get("workflowName") ?? "",
    jobHierarchy: search.get("hierarchy") ?? "ALL",
    createdAfter: search.get("createdAfter") ?? "",
    createdBefore: search.get("createdBefore") ?? "",
  };
  const path = `${orgPath(org)}/jobs${query({
    status: filters.status,
    workflowName: filters.workflowName,
    jobHierarchy: filters.jobHierarchy,
    createdAfter: iso(filters.createdAfter),
    createdBefore: iso(filters.createdBefore),
    pageSize: 50,
    pageToken,
  })}`;
  const { data, error, loading, reload } = useApi<ListJobsResponse>(path);
  const now = Date.now();

  function apply(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const next = new URLSearchParams();
    for (const k of ["status", "workflowName", "hierarchy", "createdAfter", "createdBefore"]) {
      const v = String(f.get(k) ?? "");
      if (v && !(k === "hierarchy" && v === "ALL")) next.set(k, v);
    }
    setTokens([]);
    setSearch(next);
  }

  return (
    <section>
      <h1>Jobs</h1>
      <form className="filters" onSubmit={apply} aria-label="Filter jobs">
        <label>
          Status
          <select name="status" defaultValue={filters.status}>
            <option value="">Any</option>
            {JOB_STATUSES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Workflow name
          <input name="workflowName" defaultValue={filters.workflowName} />
        </label>
        <label>
          Hierarchy
          <select name="hierarchy" defaultValue={filters.jobHierarchy}>
            {HIERARCHIES.map(([v, l]) => (
              <option key={v} value={v}>
                {l}
              </option>
            ))}
          </select>
        </label>
        <label>
          Created after
          <input type="datetime-local" name="createdAfter" defaultValue={filters.createdAfter} />
        </label>
        <label>
          Created before
          <input type="datetime-local" name="createdBefore" defaultValue={filters.createdBefore} />
        </label>
        <button type="submit">Apply</button>
        <button type="button" onClick={reload}>
          Refresh
        </button>
      </form>
      {loading && <Loading what="jobs" />}
      {error && <ErrorBox error={error} title="Could not list jobs" />}
      {data && (
        <>
          <p className="muted" data-testid="total-count">
            {data.totalCount} {data.totalCount === 1 ? "job" : "jobs"}
            {tokens.length > 0 ? `, page ${tokens.length + 1}` : ""}
          </p>
          {data.jobs.length === 0 ? (
            <Empty>No jobs match.</Empty>
          ) : (
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Job</th>
                    <th scope="col">Workflow</th>
                    <th scope="col">Status</th>
                    <th scope="col">Step</th>
                    <th scope="col">Units</th>
                    <th scope="col">Created</th>
                    <th scope="col">Duration</th>
                  </tr>
                </thead>
                <tbody>
                  {data.jobs.map((j) => (
                    <tr key={j.jobId}>
                      <td>
                        <Link to={`/organizations/${org}/jobs/${j.jobId}`}>
                          <code>{shortId(j.jobId)}</code>
                        </Link>
                        {j.parentJobId && <span className="muted"> child</span>}
                      </td>
                      <td>
                        {j.workflowName} <span className="muted">v{j.workflowVersion.versionNumber}</span>
                      </td>
                      <td>
                        <StatusBadge status={j.status} />
                      </td>
                      <td>{j.currentStepName ?? "–"}</td>
                      <td>{j.billableTransactionUnits}</td>
                      <td>{time(j.createdAt)}</td>
                      <td>{jobDuration(j, now)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <div className="pager">
            <button type="button" disabled={tokens.length === 0} onClick={() => setTokens(tokens.slice(0, -1))}>
              Previous page
            </button>
            <button type="button" disabled={!data.nextPageToken} onClick={() => data.nextPageToken && setTokens([...tokens, data.nextPageToken])}>
              Next page
            </button>
          </div>
        </>
      )}
    </section>
  );
}
