/** An organization's workflows, each with its versions and the tags on them. */
import { Link, useParams } from "react-router";
import { useGet, useTitle } from "../api/hooks";
import { time } from "../components/format";
import { Empty, ErrorBox, Loading } from "../components/States";

function Versions({ org, workflowId }: { org: string; workflowId: string }) {
  const { data, error, loading } = useGet("/organizations/{organizationId}/workflows/{workflowId}/versions", { params: { path: { organizationId: org, workflowId } } });
  if (loading) return <span className="muted">loading…</span>;
  if (error) return <span className="state error">{error.message}</span>;
  const versions = data?.versions ?? [];
  if (versions.length === 0) return <span className="muted">no versions</span>;
  return (
    <ul className="inline-list">
      {versions.map((v) => (
        <li key={v.versionId}>
          <Link to={`/organizations/${org}/workflows/${workflowId}?version=${v.versionId}`}>v{v.versionNumber}</Link>
          {v.tags.map((t) => (
            <span key={t} className="tag">
              {t}
            </span>
          ))}
        </li>
      ))}
      {data?.nextPageToken && (
        <li className="muted">
          and newer: <Link to={`/organizations/${org}/workflows/${workflowId}`}>all versions</Link>
        </li>
      )}
    </ul>
  );
}

export function Workflows() {
  const { org = "" } = useParams();
  const { data, error, loading } = useGet("/organizations/{organizationId}/workflows", { params: { path: { organizationId: org } } });
  useTitle("Workflows");
  return (
    <section>
      <h1>Workflows</h1>
      {loading && <Loading what="workflows" />}
      {error && <ErrorBox error={error} title="Could not list workflows" />}
      {data && data.workflows.length === 0 && (
        <Empty>
          No workflows yet. Register one with <code>POST /organizations/{org}/workflows</code> <code>{`{"name": "…"}`}</code>, then its definition with{" "}
          <code>POST …/workflows/&#123;workflowId&#125;/versions</code> and tag it <code>$LIVE</code> (docs/definitions.md). Its page then starts jobs.
        </Empty>
      )}
      {data && data.workflows.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Versions and tags</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {data.workflows.map((w) => (
                <tr key={w.workflowId}>
                  <td>
                    <Link to={`/organizations/${org}/workflows/${w.workflowId}`}>{w.name}</Link>
                  </td>
                  <td>
                    <Versions org={org} workflowId={w.workflowId} />
                  </td>
                  <td>{time(w.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
