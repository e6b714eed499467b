/**
 * The job list, for triage: find a job by the start of its id; filter by status, workflow, hierarchy
 * (top-level jobs by default), parent, root and creation time; see each job's current step, error
 * code and origin. Everything, the page included, is in the URL; the list refreshes itself while a
 * job on it is running.
 */
import { useEffect, useState, type FormEvent } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { useCan } from "../api/caller";
import { useGet, useNow, useTitle } from "../api/hooks";
import { isTerminal, JOB_STATUSES, oneOf } from "../api/types";
import { jobDuration, shortId } from "../components/format";
import { Empty, ErrorBox, Loading, PausedBadge, StatusBadge } from "../components/States";
import { Time } from "../components/Time";
import { JobOrigin } from "./job-summary";
import { RerunFailedDialog } from "./rerun-failed";

const HIERARCHIES = [
  ["TOP_LEVEL_ONLY", "Top level"],
  ["ALL", "All jobs"],
  ["CHILD_JOBS_ONLY", "Children"],
] as const;
const PAGE_SIZE = 50;
/** While a listed job runs, the list is read again this often. */
const LIVE_MS = 3000;
const FILTERS = ["status", "workflowName", "hierarchy", "createdAfter", "createdBefore", "parentJobId", "rootJobId", "scheduleId"] as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A datetime-local value as the API's ISO time (or undefined). */
const iso = (local: string | null) => (local ? new Date(local).toISOString() : undefined);

export function Jobs() {
  const { org = "" } = useParams();
  const [search, setSearch] = useSearchParams();
  const navigate = useNavigate();
  const can = useCan();
  useTitle("Jobs");
  // The stack of page tokens that led to this page: "Previous page" pops one.
  const pages = (search.get("pages") ?? "").split(",").filter(Boolean);
  const q = (search.get("q") ?? "").trim();
  const get = (k: string) => search.get(k) ?? "";
  // Top-level jobs by default; a parent's or a root's jobs are mostly children.
  const hierarchy = oneOf(
    HIERARCHIES.map(([v]) => v),
    get("hierarchy") || (get("parentJobId") || get("rootJobId") ? "ALL" : "TOP_LEVEL_ONLY"),
  ) ?? "TOP_LEVEL_ONLY";
  const listQuery = {
    status: oneOf(JOB_STATUSES, get("status")),
    workflowName: get("workflowName") || undefined,
    // A search looks at every job, children too: an id found in a log may be anyone's.
    jobHierarchy: q ? ("ALL" as const) : hierarchy,
    createdAfter: iso(get("createdAfter")),
    createdBefore: iso(get("createdBefore")),
    parentJobId: get("parentJobId") || undefined,
    rootJobId: get("rootJobId") || undefined,
    scheduleId: get("scheduleId") || undefined,
    jobIdPrefix: q.toLowerCase() || undefined,
    pageSize: PAGE_SIZE,
    pageToken: pages[pages.length - 1],
  };
  const validSearch = q === "" || /^[0-9a-f-]{1,36}$/i.test(q);
  const [pollMs, setPollMs] = useState(0);
  const {
    data: list,
    error,
    loading,
    reload,
  } = useGet("/organizations/{organizationId}/jobs", validSearch ? { params: { path: { organizationId: org }, query: listQuery } } : null, pollMs);
  const live = !!list?.jobs.some((j) => !isTerminal(j.status));
  useEffect(() => setPollMs(live ? LIVE_MS : 0), [live]);
  const now = useNow(true, 5000);
  const [rerunning, setRerunning] = useState(false);
  // RerunJobs takes one workflow by its exact name; a listed job of that name tells its id.
  const workflowName = get("workflowName");
  const workflowId = list?.jobs.find((j) => j.workflowName === workflowName)?.workflowId;
  const filtered = FILTERS.some((k) => search.get(k)) || q !== "";

  // A whole job id that names one job opens it, in place of the search (Back does not search again).
  useEffect(() => {
    if (UUID.test(q) && list?.jobs.length === 1 && list.jobs[0]!.jobId === q.toLowerCase()) {
      navigate(`/organizations/${org}/jobs/${list.jobs[0]!.jobId}`, { replace: true });
    }
  }, [q, list, navigate, org]);

  function apply(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const next = new URLSearchParams();
    for (const k of ["q", ...FILTERS]) {
      const v = String(f.get(k) ?? "").trim();
      if (v && !(k === "hierarchy" && v === "TOP_LEVEL_ONLY")) next.set(k, v);
    }
    setSearch(next);
  }

  function toPage(tokens: string[]) {
    const next = new URLSearchParams(search);
    if (tokens.length > 0) next.set("pages", tokens.join(","));
    else next.delete("pages");
    setSearch(next);
  }

  return (
    <section>
      <div className="page-head">
        <h1>Jobs</h1>
        {workflowName && can("job:submit") && (
          <button type="button" onClick={() => setRerunning(true)}>
            Rerun failed jobs…
          </button>
        )}
      </div>
      {workflowName && can("job:submit") && (
        <RerunFailedDialog
          org={org}
          workflowName={workflowName}
          workflowId={workflowId}
          {...(listQuery.createdAfter ? { createdAfter: listQuery.createdAfter } : {})}
          {...(listQuery.createdBefore ? { createdBefore: listQuery.createdBefore } : {})}
          open={rerunning}
          onClose={() => {
            setRerunning(false);
            reload();
          }}
        />
      )}
      <form className="filters" onSubmit={apply} aria-label="Find jobs" key={search.toString()}>
        <label className="search">
          Search jobs
          <input name="q" type="search" defaultValue={q} placeholder="a job id, or its first characters" aria-describedby="search-help" autoComplete="off" />
        </label>
        <label>
          Status
          <select name="status" defaultValue={get("status")}>
            <option value="">Any</option>
            {JOB_STATUSES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Workflow name
          <input name="workflowName" defaultValue={get("workflowName")} />
        </label>
        <label>
          Hierarchy
          <select name="hierarchy" defaultValue={hierarchy}>
            {HIERARCHIES.map(([v, l]) => (
              <option key={v} value={v}>
                {l}
              </option>
            ))}
          </select>
        </label>
        <details className="more-filters" open={!!(get("parentJobId") || get("rootJobId") || get("scheduleId") || get("createdAfter") || get("createdBefore"))}>
          <summary>More filters</summary>
          <div className="more-filters-body">
            <label>
              Parent job id
              <input name="parentJobId" defaultValue={get("parentJobId")} pattern="[0-9a-fA-F\-]{36}" />
            </label>
            <label>
              Root job id
              <input name="rootJobId" defaultValue={get("rootJobId")} pattern="[0-9a-fA-F\-]{36}" />
            </label>
            <label>
              Schedule id
              <input name="scheduleId" defaultValue={get("scheduleId")} />
            </label>
            <label>
              Created after
              <input type="datetime-local" name="createdAfter" defaultValue={get("createdAfter")} />
            </label>
            <label>
              Created before
              <input type="datetime-local" name="createdBefore" defaultValue={get("createdBefore")} />
            </label>
          </div>
        </details>
        <button type="submit">Apply</button>
        <button type="button" onClick={reload}>
          Refresh
        </button>
      </form>
      <p id="search-help" className="muted small-print">
        A search finds every job, children included, whose id starts with what you type; a whole id opens its job.
        {hierarchy === "TOP_LEVEL_ONLY" && !q ? " Showing top-level jobs: choose “All jobs” to list children too." : ""}
      </p>
      {!validSearch && <p className="state error">A job id has only the digits 0–9, the letters a–f and dashes.</p>}
      {loading && !list && <Loading what="jobs" />}
      {error && <ErrorBox error={error} title="Could not list jobs" />}
      {list && (
        <>
          <p className="muted" data-testid="total-count">
            {list.totalCount} {list.totalCount === 1 ? "job" : "jobs"}
            {pages.length > 0 ? `, page ${pages.length + 1}` : ""}
            {live ? <span className="live"> · live</span> : null}
          </p>
          {list.jobs.length === 0 ? (
            filtered ? (
              <Empty>No jobs match.</Empty>
            ) : (
              <Empty>
                No jobs yet. Start one from a workflow's page
                {can("workflow:read") ? (
                  <>
                    {" "}
                    (<Link to={`/organizations/${org}/workflows`}>Workflows</Link> → a workflow → Start job)
                  </>
                ) : null}
                , submit one with <code>POST /organizations/{org}/jobs</code>, or let a schedule or a webhook trigger start them. No workflow yet? Register one
                with <code>POST /organizations/{org}/workflows</code> and a version (docs/definitions.md).
              </Empty>
            )
          ) : (
            <div className="table-wrap">
              <table className="jobs responsive">
                <thead>
                  <tr>
                    <th scope="col">Job</th>
                    <th scope="col">Workflow</th>
                    <th scope="col">Status</th>
                    <th scope="col">Current step</th>
                    <th scope="col">Error</th>
                    <th scope="col">Started by</th>
                    <th scope="col">Units</th>
                    <th scope="col">Created</th>
                    <th scope="col">Duration</th>
                  </tr>
                </thead>
                <tbody>
                  {list.jobs.map((j) => (
                    <tr key={j.jobId} data-job-id={j.jobId}>
                      <td data-label="Job">
                        <Link to={`/organizations/${org}/jobs/${j.jobId}`} aria-label={`${j.workflowName} ${shortId(j.jobId)}, ${j.status}${j.paused ? ", paused" : ""}`}>
                          <code>{shortId(j.jobId)}</code>
                        </Link>
                      </td>
                      <td data-label="Workflow">
                        {j.workflowName} <span className="muted">v{j.workflowVersion.versionNumber}</span>
                      </td>
                      <td data-label="Status">
                        <StatusBadge status={j.status} />
                        {j.paused && <PausedBadge />}
                      </td>
                      <td data-label="Current step">{j.currentStepName ?? "–"}</td>
                      <td data-label="Error">{j.error ? <code title={j.error.message}>{j.error.code}</code> : "–"}</td>
                      <td data-label="Started by">
                        <JobOrigin org={org} job={j} />
                      </td>
                      <td data-label="Units">{j.billableTransactionUnits}</td>
                      <td data-label="Created">
                        <Time iso={j.createdAt} now={now} />
                      </td>
                      <td data-label="Duration">{jobDuration(j, now)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <div className="pager">
            <button type="button" disabled={pages.length === 0} onClick={() => toPage(pages.slice(0, -1))}>
              Previous page
            </button>
            <button type="button" disabled={!list.nextPageToken} onClick={() => list.nextPageToken && toPage([...pages, list.nextPageToken])}>
              Next page
            </button>
          </div>
        </>
      )}
    </section>
  );
}
