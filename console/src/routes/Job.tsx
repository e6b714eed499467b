/**
 * One job: its summary, the tree of all its descendants, a timeline, the history, the graph of its
 * workflow with the path taken, and the actions. While it runs the page re-reads it every 2 s and
 * stops once it has ended.
 */
import { lazy, Suspense, useEffect, useMemo, useState, type FormEvent } from "react";
import { Link, useParams } from "react-router";
import { api, orgPath } from "../api/client";
import { useApi } from "../api/hooks";
import { useJobTree } from "../api/job-tree";
import { isTerminal, type GetJobResponse, type JobSummary, type WorkflowState, type WorkflowVersion } from "../api/types";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { END } from "../definition";
import { json, shortId, time, jobDuration } from "../components/format";
import { HistoryTable } from "../components/HistoryTable";
import { useJobAudit } from "../api/audit";
import { JobAuditTrail } from "../components/JobAuditTrail";
import { JobTree } from "../components/JobTree";
import { ErrorBox, Loading, StatusBadge } from "../components/States";
import { childItems, Timeline, type TimelineItem } from "../components/Timeline";

const WorkflowGraph = lazy(() => import("../components/WorkflowGraph"));
const POLL_MS = 2000;
const BIG_TREE = 1000;
/** Bars of a timeline beyond this many children say more than they show. */
const TIMELINE_CHILDREN = 100;

function useNow(live: boolean): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!live) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [live]);
  return live ? now : Date.now();
}

type Action = "cancel" | "resume";

function Actions({ org, job, onDone }: { org: string; job: JobSummary; onDone: () => void }) {
  const [confirm, setConfirm] = useState<Action>();
  const [error, setError] = useState<Error>();
  const [message, setMessage] = useState<string>();
  const [eventId, setEventId] = useState("");
  const [payload, setPayload] = useState("{}");
  const payloadProblem = useMemo(() => {
    if (payload.trim() === "") return undefined;
    try {
      JSON.parse(payload);
      return undefined;
    } catch (e) {
      return (e as Error).message;
    }
  }, [payload]);
  const base = `${orgPath(org)}/jobs/${job.jobId}`;

  async function run(action: Action) {
    setConfirm(undefined);
    setError(undefined);
    try {
      await api(`${base}/${action}`, { method: "POST" });
      setMessage(action === "cancel" ? "Cancel requested." : "Resumed.");
      onDone();
    } catch (e) {
      setError(e as Error);
    }
  }

  async function send(e: FormEvent) {
    e.preventDefault();
    if (payloadProblem) return;
    setError(undefined);
    try {
      const body = payload.trim() === "" ? { eventId } : { eventId, payload: JSON.parse(payload) as unknown };
      await api(`${base}/events`, { method: "POST", body });
      setMessage(`Event ${eventId} sent.`);
      onDone();
    } catch (err) {
      setError(err as Error);
    }
  }

  const terminal = isTerminal(job.status);
  return (
    <section aria-labelledby="actions-h" className="panel">
      <h2 id="actions-h">Actions</h2>
      <div className="actions">
        {!terminal && (
          <button type="button" className="danger" onClick={() => setConfirm("cancel")}>
            Cancel job
          </button>
        )}
        {(job.status === "FAILED" || job.status === "CANCELLED") && (
          <button type="button" onClick={() => setConfirm("resume")}>
            Resume job
          </button>
        )}
      </div>
      {!terminal && (
        <form className="send-event" onSubmit={send} aria-label="Send an event">
          <label>
            Event id
            <input name="eventId" value={eventId} onChange={(e) => setEventId(e.target.value)} required maxLength={200} />
          </label>
          <label>
            Payload (JSON)
            <textarea
              name="payload"
              rows={4}
              value={payload}
              onChange={(e) => setPayload(e.target.value)}
              aria-invalid={!!payloadProblem}
              aria-describedby="payload-problem"
              spellCheck={false}
            />
          </label>
          <p id="payload-problem" className={payloadProblem ? "field-error" : "muted"} aria-live="polite">
            {payloadProblem ? `Not valid JSON: ${payloadProblem}` : "Valid JSON."}
          </p>
          <button type="submit" disabled={!!payloadProblem || eventId.trim() === ""}>
            Send event
          </button>
        </form>
      )}
      {message && (
        <p role="status" className="ok">
          {message}
        </p>
      )}
      {error && <ErrorBox error={error} title="The action failed" />}
      <ConfirmDialog
        open={confirm !== undefined}
        title={confirm === "cancel" ? "Cancel this job?" : "Resume this job?"}
        body={
          confirm === "cancel"
            ? `${job.workflowName} ${shortId(job.jobId)} and every unfinished descendant will be cancelled.`
            : `${job.workflowName} ${shortId(job.jobId)} restarts at the step it stopped on.`
        }
        confirmLabel={confirm === "cancel" ? "Yes, cancel it" : "Yes, resume it"}
        onConfirm={() => confirm && void run(confirm)}
        onCancel={() => setConfirm(undefined)}
      />
    </section>
  );
}

function Summary({ org, data }: { org: string; data: GetJobResponse }) {
  const { job, parentJob } = data;
  const now = useNow(!isTerminal(job.status));
  return (
    <dl className="summary">
      <dt>Status</dt>
      <dd>
        <StatusBadge status={job.status} />
      </dd>
      <dt>Current step</dt>
      <dd>{job.currentStepName ?? "–"}</dd>
      <dt>Workflow</dt>
      <dd>
        <Link to={`/organizations/${org}/workflows/${job.workflowId}?version=${job.workflowVersion.versionId}`}>{job.workflowName}</Link> v
        {job.workflowVersion.versionNumber}
      </dd>
      <dt>Run number</dt>
      <dd>{job.runNumber}</dd>
      <dt>Units</dt>
      <dd>{job.billableTransactionUnits}</dd>
      <dt>Created</dt>
      <dd>{time(job.createdAt)}</dd>
      <dt>Duration</dt>
      <dd>{jobDuration(job, now)}</dd>
      {job.parentJobId && (
        <>
          <dt>Parent</dt>
          <dd>
            <Link to={`/organizations/${org}/jobs/${job.parentJobId}`}>
              {parentJob?.workflowName ?? "parent"} <code>{shortId(job.parentJobId)}</code>
            </Link>
            {job.parentStepName ? ` (step ${job.parentStepName})` : ""}
          </dd>
        </>
      )}
      {job.rootJobId && job.rootJobId !== job.jobId && (
        <>
          <dt>Root</dt>
          <dd>
            <Link to={`/organizations/${org}/jobs/${job.rootJobId}`}>
              <code>{shortId(job.rootJobId)}</code>
            </Link>
          </dd>
        </>
      )}
      {job.error && (
        <>
          <dt>Error</dt>
          <dd className="job-error">
            <strong>{job.error.code}</strong>
            {job.error.stepName ? ` at ${job.error.stepName}` : ""}: {job.error.message}
          </dd>
        </>
      )}
    </dl>
  );
}

export function Job() {
  const { org = "", jobId = "" } = useParams();
  const base = `${orgPath(org)}/jobs/${jobId}`;
  const [live, setLive] = useState(true);
  const [pollMs, setPollMs] = useState(POLL_MS);
  const job = useApi<GetJobResponse>(base, live ? pollMs : 0);
  const state = useApi<WorkflowState>(`${base}/state`);
  const status = job.data?.job.status;
  const updatedAt = job.data?.job.updatedAt;
  useEffect(() => setLive(true), [jobId]);
  // Live until the job ends; the poll that saw the end is the last.
  useEffect(() => {
    if (status && isTerminal(status)) setLive(false);
  }, [status]);
  // The history (which holds every child's result) is read again only when the job changed.
  useEffect(() => {
    if (updatedAt) state.reload();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [updatedAt]);
  const summary = job.data?.job;
  const treeLive = live && !!summary && !isTerminal(summary.status);
  const tree = useJobTree(org, summary?.jobId.toLowerCase() === jobId.toLowerCase() ? summary : undefined, treeLive, pollMs);
  const version = useApi<WorkflowVersion>(summary ? `${orgPath(org)}/workflows/${summary.workflowId}/versions/${summary.workflowVersion.versionId}` : null);
  const now = useNow(treeLive);
  const audit = useJobAudit(org, jobId, updatedAt);

  const history = state.data?.state.executionHistory ?? [];
  const path = useMemo(() => {
    const steps = history.filter((h) => h.historySource === "engine").map((h) => h.stepName);
    // The step running now is on the path too.
    if (summary?.currentStepName && !isTerminal(summary.status)) steps.push(summary.currentStepName);
    const taken = new Set<string>();
    for (let i = 1; i < steps.length; i++) if (steps[i] !== steps[i - 1]) taken.add(`${steps[i - 1]}→${steps[i]}`);
    // A job that succeeded left its last step through a transition to null.
    const last = steps[steps.length - 1];
    if (summary?.status === "SUCCEEDED" && last) taken.add(`${last}→${END}`);
    return { visited: new Set(steps), taken };
  }, [history, summary?.currentStepName, summary?.status]);

  const timeline = useMemo(() => {
    const items: TimelineItem[] = history
      .filter((h) => h.historySource === "engine")
      .map((h) => ({ key: h.id, label: h.stepName, kind: "step" as const, start: Date.parse(h.startTimestamp), end: Date.parse(h.endTimestamp), status: h.output.status === "failure" ? "FAILED" : "SUCCEEDED" }));
    if (summary?.currentStepName && !isTerminal(summary.status)) {
      const last = history[history.length - 1];
      items.push({ key: "current", label: summary.currentStepName, kind: "step", start: last ? Date.parse(last.endTimestamp) : Date.parse(summary.startedAt ?? summary.createdAt), status: "RUNNING" });
    }
    const children = tree.rows.flatMap((r) => (r.kind === "job" && r.depth === 1 ? [r.job] : []));
    return { items: [...items, ...childItems(children.slice(0, TIMELINE_CHILDREN))], shown: Math.min(children.length, TIMELINE_CHILDREN) };
  }, [history, summary, tree.rows]);
  const rootRow = tree.rows[0];
  const childTotal = rootRow?.kind === "job" ? rootRow.total : undefined;
  // GetJob lists every child: a big tree is re-read less often.
  useEffect(() => setPollMs((childTotal ?? 0) > BIG_TREE ? POLL_MS * 2.5 : POLL_MS), [childTotal]);

  if (job.loading && !job.data) return <Loading what="the job" />;
  if (job.error && !job.data) return <ErrorBox error={job.error} title="Could not load the job" />;
  if (!job.data || !summary) return null;

  return (
    <article className="job-page">
      <h1>
        {summary.workflowName} <code>{shortId(summary.jobId)}</code>
      </h1>
      <p className="muted">
        Job {summary.jobId} {live ? <span className="live">· live, updating every {pollMs / 1000} s</span> : <span>· ended, not updating</span>}
      </p>
      {job.error && <ErrorBox error={job.error} title="The last update failed" />}
      <div className="split">
        <Summary org={org} data={job.data} />
        <Actions
          org={org}
          job={summary}
          onDone={() => {
            setLive(true);
            job.reload();
            state.reload();
          }}
        />
      </div>

      {!audit.hidden && <JobAuditTrail entries={audit.entries} />}

      <section aria-labelledby="tree-h" className="panel">
        <h2 id="tree-h">Job tree</h2>
        {!tree.ready && <Loading what="children" />}
        <JobTree org={org} rows={tree.rows} onToggle={tree.toggle} onLoadMore={tree.loadMore} now={now} />
      </section>

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
        {state.loading && !state.data && <Loading what="the history" />}
        {state.error && <ErrorBox error={state.error} title="Could not load the history" />}
        {state.data && <HistoryTable items={history} />}
      </section>

      <section aria-labelledby="graph-h" className="panel">
        <h2 id="graph-h">Workflow graph</h2>
        <p className="muted">The steps this job ran are highlighted, and the transitions it took are animated.</p>
        {version.error && <ErrorBox error={version.error} title="Could not load the definition" />}
        {version.data && (
          <Suspense fallback={<Loading what="the graph" />}>
            <WorkflowGraph definition={version.data.definition} visited={path.visited} taken={path.taken} current={isTerminal(summary.status) ? undefined : summary.currentStepName} />
          </Suspense>
        )}
      </section>

      <section aria-labelledby="data-h" className="panel">
        <h2 id="data-h">Input and output</h2>
        <div className="split">
          <div>
            <h3>Input</h3>
            <pre tabIndex={0} aria-label="Job input">{state.data ? json(state.data.state.executionData.workflowInput ?? null) : "…"}</pre>
          </div>
          <div>
            <h3>Output</h3>
            <pre tabIndex={0} aria-label="Job output">{summary.output === undefined ? "–" : json(summary.output)}</pre>
          </div>
        </div>
      </section>
    </article>
  );
}
