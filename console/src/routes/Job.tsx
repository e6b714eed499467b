/**
 * One job, answering first what an operator asks: its status and what it waits for (or why it
 * failed, or where it was cancelled), its input and output, then the actions the token may take,
 * the tree of all its descendants (filterable by status), a timeline, the history with a step
 * inspector, and the graph of its workflow with the path taken. While it runs the page re-reads it
 * every 2 s and stops once it has ended.
 */
import { lazy, Suspense, useEffect, useMemo, useRef, useState } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { ApiError } from "../api/client";
import { useCan } from "../api/caller";
import { useGet, useNow, useTitle } from "../api/hooks";
import { useHistory } from "../api/history";
import { omittedMarker } from "../api/history-pages";
import { useExpandable, useJobTree } from "../api/job-tree";
import { isTerminal, JOB_STATUSES, type JobStatus } from "../api/types";
import { CopyButton } from "../components/Copy";
import { shortId } from "../components/format";
import { HistoryPager, HistoryTable } from "../components/HistoryTable";
import { useJobAudit } from "../api/audit";
import { JobAuditTrail } from "../components/JobAuditTrail";
import { awaitedEventIds, jobPath, stepBars } from "../components/job-path";
import { JobTree } from "../components/JobTree";
import { ValueBlock } from "../components/LargeValue";
import { ErrorBox, Loading, PausedBadge, StatusBadge } from "../components/States";
import { Timeline } from "../components/Timeline";
import { childItems } from "../components/timeline-items";
import { WaitingLine } from "../components/WaitingFor";
import { JobActions } from "./job-actions";
import { JobLineage } from "./job-lineage";
import { offeredTimeTravel, TimeTravelActions } from "./job-time-travel";
import { JobFacts, JobOutcome } from "./job-summary";

const WorkflowGraph = lazy(() => import("../components/WorkflowGraph"));
const POLL_MS = 2000;
const BIG_TREE = 1000;
/** Bars of a timeline beyond this many children say more than they show. */
const TIMELINE_CHILDREN = 100;

const CHILD_FILTERS: { value: "" | JobStatus; label: string }[] = [
  { value: "", label: "All" },
  { value: "FAILED", label: "Failed" },
  { value: "RUNNING", label: "Running" },
  { value: "SUCCEEDED", label: "Succeeded" },
  { value: "CANCELLED", label: "Cancelled" },
];

/** Short JSON is shown open; a long one (a fan-out's items) starts folded, so the page's answers stay in view. */
const shortJson = (v: unknown) => v === undefined || JSON.stringify(v, null, 2).split("\n").length <= 24;

/** A job id the API does not know: a page that says so, with ways back. */
function UnknownJob({ org, jobId }: { org: string; jobId: string }) {
  useTitle("Job not found");
  return (
    <section>
      <h1>Job not found</h1>
      <p className="state empty">
        There is no job <code>{jobId}</code> in this organization. It may have been deleted after its retention period, or the id may be
        mistyped.
      </p>
      <p>
        <Link to={`/organizations/${org}/jobs`}>Back to the jobs</Link> · <Link to={`/organizations/${org}/jobs?q=${encodeURIComponent(jobId.slice(0, 8))}`}>Search for ids starting {jobId.slice(0, 8)}</Link>
      </p>
    </section>
  );
}

export function Job() {
  const { org = "", jobId = "" } = useParams();
  const [search, setSearch] = useSearchParams();
  const can = useCan();
  const jobParams = { params: { path: { organizationId: org, jobId } } };
  const [live, setLive] = useState(true);
  const [pollMs, setPollMs] = useState(POLL_MS);
  const [notice, setNotice] = useState<string>();
  const job = useGet("/organizations/{organizationId}/jobs/{jobId}", jobParams, live ? pollMs : 0);
  const status = job.data?.job.status;
  const updatedAt = job.data?.job.updatedAt;
  const childFilter = (JOB_STATUSES as readonly string[]).includes(search.get("children") ?? "") ? (search.get("children") as JobStatus) : undefined;
  useEffect(() => {
    setLive(true);
    setNotice(undefined);
  }, [jobId]);
  // Live until the job ends; the poll that saw the end is the last.
  useEffect(() => {
    if (status && isTerminal(status)) setLive(false);
  }, [status]);
  const summary = job.data?.job;
  const ofThisJob = summary?.jobId.toLowerCase() === jobId.toLowerCase();
  // The run's history, a page at a time; read once the run is known (a rollover starts another).
  const state = useHistory(org, jobId, ofThisJob ? summary?.runNumber : undefined);
  // Read again only when the job changed: its last page held (see history-pages.ts).
  const seenUpdate = useRef<string>(undefined);
  useEffect(() => {
    if (seenUpdate.current !== undefined && updatedAt !== undefined && updatedAt !== seenUpdate.current) state.reload();
    seenUpdate.current = updatedAt;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [updatedAt]);
  useTitle(summary ? `${summary.workflowName} ${shortId(summary.jobId)} (${summary.status})` : `Job ${shortId(jobId)}`);
  const treeLive = live && !!summary && !isTerminal(summary.status);
  const tree = useJobTree(org, ofThisJob ? summary : undefined, treeLive, pollMs, childFilter);
  const expandable = useExpandable(
    org,
    tree.rows.flatMap((r) => (r.kind === "job" && r.depth > 0 ? [r.job] : [])),
  );
  const version = useGet(
    "/organizations/{organizationId}/workflows/{workflowId}/versions/{versionId}",
    summary ? { params: { path: { organizationId: org, workflowId: summary.workflowId, versionId: summary.workflowVersion.versionId } } } : null,
  );
  const now = useNow(!!summary && !isTerminal(summary.status));
  const audit = useJobAudit(org, jobId, updatedAt);

  const held = state.held;
  const history = useMemo(() => held?.items ?? [], [held]);
  const path = useMemo(() => jobPath(history, summary), [history, summary]);
  const eventIds = useMemo(() => awaitedEventIds(version.data?.definition), [version.data?.definition]);
  const timeline = useMemo(() => {
    const children = tree.rows.flatMap((r) => (r.kind === "job" && r.depth === 1 ? [r.job] : []));
    return { items: [...stepBars(history, summary), ...childItems(children.slice(0, TIMELINE_CHILDREN))], shown: Math.min(children.length, TIMELINE_CHILDREN) };
  }, [history, summary, tree.rows]);
  const rootRow = tree.rows[0];
  const childTotal = rootRow?.kind === "job" && rootRow.counts ? JOB_STATUSES.reduce((n, s) => n + rootRow.counts![s], 0) : undefined;
  // GetJob lists every child: a big tree is re-read less often.
  useEffect(() => setPollMs((childTotal ?? 0) > BIG_TREE ? POLL_MS * 2.5 : POLL_MS), [childTotal]);

  function filterChildren(value: string) {
    const next = new URLSearchParams(search);
    if (value) next.set("children", value);
    else next.delete("children");
    setSearch(next, { replace: true });
  }

  if (job.loading && !job.data) return <Loading what="the job" />;
  if (job.error && !job.data) {
    if (job.error instanceof ApiError && job.error.status === 404) return <UnknownJob org={org} jobId={jobId} />;
    return <ErrorBox error={job.error} title="Could not load the job" />;
  }
  if (!job.data || !summary) return null;
  const hasChildren = (childTotal ?? 0) > 0 || !!childFilter;
  const input = held ? (held.executionData.workflowInput ?? null) : undefined;
  const inputOmitted = held && omittedMarker(input, held.omittedData.has("workflowInput"));
  const reload = (message: string) => {
    setNotice(message);
    setLive(true);
    job.reload();
    state.reload();
  };

  return (
    <article className="job-page">
      <h1>
        {summary.workflowName} <code>{shortId(summary.jobId)}</code> <StatusBadge status={summary.status} />
        {summary.paused && <PausedBadge />}
      </h1>
      <p className="muted job-id-line">
        Job <code>{summary.jobId}</code> <CopyButton text={summary.jobId} label="Copy job id" />{" "}
        {live ? <span className="live">· live, updating every {pollMs / 1000} s</span> : <span>· ended, not updating</span>}
      </p>
      {job.error && <ErrorBox error={job.error} title="The last update failed" />}
      <p role="status" className={notice ? "ok notice" : "visually-hidden"}>
        {notice}
      </p>
      <JobLineage org={org} job={summary} canList={can("job:list")} />
      {summary.waitingFor && !isTerminal(summary.status) && <WaitingLine waiting={summary.waitingFor} now={now} />}
      <JobOutcome job={summary} history={history} />

      <div className="split">
        <JobFacts org={org} data={job.data} now={now} />
        <JobActions
          org={org}
          job={summary}
          can={can}
          {...(eventIds ? { definitionEventIds: eventIds } : {})}
          onDone={reload}
          more={
            Object.values(offeredTimeTravel(summary, can)).some(Boolean) && (
              <TimeTravelActions org={org} job={summary} can={can} definition={version.data?.definition} history={history} input={inputOmitted ? undefined : input} onDone={reload} />
            )
          }
        />
      </div>

      {!audit.hidden && <JobAuditTrail entries={audit.entries} />}

      <section aria-labelledby="data-h" className="panel">
        <h2 id="data-h">Input and output</h2>
        <div className="split even">
          <ValueBlock label="Job input" value={input} omitted={inputOmitted} fileName={`${summary.jobId}-input`} open={shortJson(input)} />
          <ValueBlock
            label="Job output"
            value={summary.output}
            omitted={summary.outputTooLarge}
            fileName={`${summary.jobId}-output`}
            open={summary.output !== undefined && shortJson(summary.output)}
          />
        </div>
      </section>

      {tree.ready && hasChildren && (
        <section aria-labelledby="tree-h" className="panel" id="children">
          <div className="panel-head">
            <h2 id="tree-h">Job tree</h2>
            <label className="inline-field">
              Filter children
              <select value={childFilter ?? ""} onChange={(e) => filterChildren(e.target.value)}>
                {CHILD_FILTERS.map((f) => (
                  <option key={f.value} value={f.value}>
                    {f.label}
                  </option>
                ))}
              </select>
            </label>
          </div>
          {!tree.ready && <Loading what="children" />}
          {tree.ready && childFilter && rootRow?.kind === "job" && rootRow.total === 0 && (
            <p className="state empty">No child is {childFilter.toLowerCase()}.</p>
          )}
          <JobTree
            org={org}
            rows={tree.rows}
            onToggle={tree.toggle}
            onLoadMore={tree.loadMore}
            now={now}
            expandable={expandable}
            {...(childFilter ? { filtered: childFilter } : {})}
          />
        </section>
      )}

      <section aria-labelledby="timeline-h" className="panel">
        <h2 id="timeline-h">Timeline</h2>
        <Timeline
          items={timeline.items}
          now={now}
          note={childTotal && childTotal > timeline.shown ? `Showing the steps and ${timeline.shown} of ${childTotal} children (those loaded in the tree).` : undefined}
        />
      </section>

      <section aria-labelledby="history-h" className="panel">
        <h2 id="history-h">History</h2>
        {!held && !state.error && <Loading what="the history" />}
        {state.error && <ErrorBox error={state.error} title="Could not load the history" />}
        {held && (
          <>
            <HistoryTable items={history} omitted={held.omitted} now={now} {...(eventIds ? { awaitedEventIds: eventIds } : {})} />
            <HistoryPager held={held} loading={state.loading} onLoadMore={state.loadMore} />
          </>
        )}
      </section>

      <section aria-labelledby="graph-h" className="panel">
        <h2 id="graph-h">Workflow graph</h2>
        <p className="muted">The steps this job ran are highlighted, failed ones marked, and the transitions it took are animated.</p>
        {version.error && <ErrorBox error={version.error} title="Could not load the definition" />}
        {version.data && (
          <Suspense fallback={<Loading what="the graph" />}>
            <WorkflowGraph
              definition={version.data.definition}
              visited={path.visited}
              taken={path.taken}
              failed={path.failed}
              {...(path.cancelled ? { cancelled: path.cancelled } : {})}
              {...(isTerminal(summary.status) || !summary.currentStepName ? {} : { current: summary.currentStepName })}
            />
          </Suspense>
        )}
      </section>
    </article>
  );
}
