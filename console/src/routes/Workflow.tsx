/** One workflow: a version picker, its definition drawn as a graph, and the raw JSON beside it. */
import { lazy, Suspense } from "react";
import { useParams, useSearchParams } from "react-router";
import { orgPath } from "../api/client";
import { useApi } from "../api/hooks";
import type { Workflow as WorkflowT, WorkflowVersion } from "../api/types";
import { Empty, ErrorBox, Loading } from "../components/States";

const WorkflowGraph = lazy(() => import("../components/WorkflowGraph"));

function pretty(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

export function Workflow() {
  const { org = "", workflowId = "" } = useParams();
  const [search, setSearch] = useSearchParams();
  const wf = useApi<WorkflowT>(`${orgPath(org)}/workflows/${workflowId}`);
  const list = useApi<{ versions: WorkflowVersion[] }>(`${orgPath(org)}/workflows/${workflowId}/versions`);
  const versions = [...(list.data?.versions ?? [])].sort((a, b) => b.versionNumber - a.versionNumber);
  const chosen = versions.find((v) => v.versionId === search.get("version")) ?? versions.find((v) => v.tags.includes("$LIVE")) ?? versions[0];

  return (
    <section>
      <h1>{wf.data ? wf.data.name : "Workflow"}</h1>
      {wf.error && <ErrorBox error={wf.error} title="Could not load the workflow" />}
      {list.loading && <Loading what="versions" />}
      {list.error && <ErrorBox error={list.error} title="Could not list versions" />}
      {list.data && versions.length === 0 && <Empty>This workflow has no versions yet.</Empty>}
      {chosen && (
        <>
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
          <div className="split">
            <Suspense fallback={<Loading what="the graph" />}>
              <WorkflowGraph definition={chosen.definition} />
            </Suspense>
            <pre className="raw-json" tabIndex={0} aria-label="The definition's JSON">
              {pretty(chosen.definition)}
            </pre>
          </div>
        </>
      )}
    </section>
  );
}
