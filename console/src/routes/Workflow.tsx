/**
 * One workflow: a version picker, "Start job" (an input editor checked against the version's
 * workflowInput schema as you type), its recent jobs, its metrics as small charts, and the chosen
 * version's definition drawn as a graph beside its JSON.
 */
import { lazy, Suspense, useEffect, useRef, useState, type FormEvent } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { client, ok } from "../api/client";
import { useCan } from "../api/caller";
import { useGet, useNow, useTitle } from "../api/hooks";
import { useWorkflowVersions } from "../api/versions";
import type { ListedVersion, Workflow as WorkflowT } from "../api/types";
import { json, jobDuration, shortId } from "../components/format";
import { Empty, ErrorBox, Loading, StatusBadge } from "../components/States";
import { Time } from "../components/Time";
import { InputEditor, useInputCheck } from "../components/InputEditor";
import { exampleInput } from "../schema";
import { WorkflowMetrics } from "./workflow-metrics";

const WorkflowGraph = lazy(() => import("../components/WorkflowGraph"));
const RECENT_JOBS = 10;

function pretty(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** The "Start job" dialog: the input, checked as it is typed, and a Start that opens the new job. */
function StartJob({ org, workflow, version, open, onClose }: { org: string; workflow: WorkflowT; version: ListedVersion; open: boolean; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const navigate = useNavigate();
  const [text, setText] = useState(() => json(exampleInput(version.definition)));
  const [error, setError] = useState<Error>();
  const [busy, setBusy] = useState(false);
  useEffect(() => setText(json(exampleInput(version.definition))), [version.definition]);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  const check = useInputCheck(version.definition, text);
  const problems = check.problems;

  async function start(e: FormEvent) {
    e.preventDefault();
    if (problems.length > 0) return;
    setBusy(true);
    setError(undefined);
    try {
      const { jobId } = await ok(
        client.POST("/organizations/{organizationId}/jobs", {
          params: { path: { organizationId: org } },
          body: { workflowId: workflow.workflowId, workflowVersion: { versionId: version.versionId }, inputJson: JSON.parse(text) as Record<string, unknown> | unknown[] },
        }),
      );
      onClose();
      navigate(`/organizations/${org}/jobs/${jobId}`);
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  }

  return (
    <dialog ref={ref} className="start-job" aria-labelledby="start-title" onClose={() => open && onClose()}>
      <form onSubmit={start}>
        <h2 id="start-title">
          Start a job of {workflow.name} <span className="muted">v{version.versionNumber}</span>
        </h2>
        <InputEditor id="job-input" label="Input" text={text} onChange={setText} check={check} />
        {error && <ErrorBox error={error} title="The job was not started" />}
        <div className="actions">
          <button type="button" onClick={onClose}>
            Close
          </button>
          <button type="submit" disabled={busy || problems.length > 0}>
            {busy ? "Starting…" : "Start"}
          </button>
        </div>
      </form>
    </dialog>
  );
}

/** The workflow's latest jobs (ListJobs by name, kept to this workflow's id). */
function RecentJobs({ org, workflow }: { org: string; workflow: WorkflowT }) {
  const list = useGet(
    "/organizations/{organizationId}/jobs",
    { params: { path: { organizationId: org }, query: { workflowName: workflow.name, jobHierarchy: "ALL", pageSize: 50 } } },
    5000,
  );
  const now = useNow(true, 5000);
  const jobs = (list.data?.jobs ?? []).filter((j) => j.workflowId === workflow.workflowId).slice(0, RECENT_JOBS);
  return (
    <section aria-labelledby="recent-h" className="panel">
      <div className="panel-head">
        <h2 id="recent-h">Recent jobs</h2>
        <Link to={`/organizations/${org}/jobs?hierarchy=ALL&workflowName=${encodeURIComponent(workflow.name)}`}>All jobs of {workflow.name}</Link>
      </div>
      {list.error && <ErrorBox error={list.error} title="Could not list its jobs" />}
      {list.data && jobs.length === 0 && <Empty>No jobs of this workflow yet.</Empty>}
      {jobs.length > 0 && (
        <div className="table-wrap">
          <table className="responsive">
            <thead>
              <tr>
                <th scope="col">Job</th>
                <th scope="col">Status</th>
                <th scope="col">Current step</th>
                <th scope="col">Error</th>
                <th scope="col">Created</th>
                <th scope="col">Duration</th>
              </tr>
            </thead>
            <tbody>
              {jobs.map((j) => (
                <tr key={j.jobId}>
                  <td data-label="Job">
                    <Link to={`/organizations/${org}/jobs/${j.jobId}`}>
                      <code>{shortId(j.jobId)}</code>
                    </Link>
                    {j.parentJobId && <span className="muted"> child</span>}
                  </td>
                  <td data-label="Status">
                    <StatusBadge status={j.status} />
                  </td>
                  <td data-label="Current step">{j.currentStepName ?? "–"}</td>
                  <td data-label="Error">{j.error ? <code title={j.error.message}>{j.error.code}</code> : "–"}</td>
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
    </section>
  );
}

export function Workflow() {
  const { org = "", workflowId = "" } = useParams();
  const [search, setSearch] = useSearchParams();
  const can = useCan();
  const [starting, setStarting] = useState(false);
  const params = { path: { organizationId: org, workflowId } };
  const wf = useGet("/organizations/{organizationId}/workflows/{workflowId}", { params });
  const list = useWorkflowVersions(org, workflowId);
  useTitle(wf.data ? `Workflow ${wf.data.name}` : "Workflow");
  const versions = list.versions;
  const chosen = versions.find((v) => v.versionId === search.get("version")) ?? versions.find((v) => v.tags.includes("$LIVE")) ?? versions[0];

  return (
    <section>
      <div className="page-head">
        <h1>{wf.data ? wf.data.name : "Workflow"}</h1>
        {wf.data && chosen && can("job:submit") && (
          <button type="button" onClick={() => setStarting(true)}>
            Start job
          </button>
        )}
      </div>
      {wf.error && <ErrorBox error={wf.error} title="Could not load the workflow" />}
      {list.loading && versions.length === 0 && <Loading what="versions" />}
      {list.error && <ErrorBox error={list.error} title="Could not list versions" />}
      {!list.loading && !list.error && versions.length === 0 && <Empty>This workflow has no versions yet: register one with POST …/workflows/{workflowId}/versions.</Empty>}
      {chosen && (
        <label className="inline-field">
          Version{" "}
          <select value={chosen.versionId} onChange={(e) => setSearch({ version: e.target.value }, { replace: true })}>
            {versions.map((v) => (
              <option key={v.versionId} value={v.versionId}>
                v{v.versionNumber}
                {v.tags.length > 0 ? ` (${v.tags.join(", ")})` : ""}
              </option>
            ))}
          </select>
        </label>
      )}
      {chosen && list.more && (
        <button type="button" className="link-button" onClick={list.loadMore} disabled={list.loading}>
          {list.loading ? "Loading versions…" : "Load more versions"}
        </button>
      )}
      {wf.data && chosen && <StartJob org={org} workflow={wf.data} version={chosen} open={starting} onClose={() => setStarting(false)} />}
      {wf.data && can("job:list") && <RecentJobs org={org} workflow={wf.data} />}
      {wf.data && can("metrics:read") && <WorkflowMetrics org={org} workflowId={wf.data.workflowId} />}
      {chosen && (
        <section aria-labelledby="definition-h" className="panel">
          <h2 id="definition-h">Definition</h2>
          <div className="split">
            <Suspense fallback={<Loading what="the graph" />}>
              <WorkflowGraph definition={chosen.definition} />
            </Suspense>
            <pre className="raw-json" tabIndex={0} aria-label="The definition's JSON">
              {pretty(chosen.definition)}
            </pre>
          </div>
        </section>
      )}
    </section>
  );
}
