/** The organization's audit log: who did what, newest first, filtered by action, paged. */
import { useState } from "react";
import { useParams, useSearchParams } from "react-router";
import { actorText, AUDIT_ACTIONS, type AuditAction } from "../api/audit";
import { useGet, useTitle } from "../api/hooks";
import { time } from "../components/format";
import { Empty, ErrorBox, Loading } from "../components/States";

export function AuditLog() {
  useTitle("Audit log");
  const { org = "" } = useParams();
  const [search, setSearch] = useSearchParams();
  const action = (AUDIT_ACTIONS as readonly string[]).includes(search.get("action") ?? "") ? (search.get("action") as AuditAction) : undefined;
  const [tokens, setTokens] = useState<string[]>([]);
  const pageToken = tokens[tokens.length - 1];
  const { data, error, loading } = useGet("/organizations/{organizationId}/audit-log", {
    params: { path: { organizationId: org }, query: { action, pageToken, pageSize: 50 } },
  });

  return (
    <section>
      <h1>Audit log</h1>
      <form className="filters" aria-label="Filter the audit log" onSubmit={(e) => e.preventDefault()}>
        <label>
          Action
          <select
            name="action"
            value={action ?? ""}
            onChange={(e) => {
              setTokens([]);
              setSearch(e.target.value ? { action: e.target.value } : {});
            }}
          >
            <option value="">Any</option>
            {AUDIT_ACTIONS.map((a) => (
              <option key={a}>{a}</option>
            ))}
          </select>
        </label>
      </form>
      {loading && !data && <Loading what="the audit log" />}
      {error && <ErrorBox error={error} title="Could not read the audit log" />}
      {data && data.entries.length === 0 && <Empty>No entries{action ? ` for ${action}` : ""}.</Empty>}
      {data && data.entries.length > 0 && (
        <div className="table-wrap">
          <table className="audit-log">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">Action</th>
                <th scope="col">Target</th>
                <th scope="col">Detail</th>
              </tr>
            </thead>
            <tbody>
              {data.entries.map((e, i) => (
                <tr key={`${e.at}-${i}`} data-action={e.action}>
                  <td>{time(e.at)}</td>
                  <td title={e.actor.apiAuthTokenId}>{actorText(e.actor)}</td>
                  <td>
                    <code>{e.action}</code>
                  </td>
                  <td>
                    {e.target.type} <code>{e.target.id}</code>
                  </td>
                  <td>{e.detail ? <code>{JSON.stringify(e.detail)}</code> : "–"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div className="pager">
        <button type="button" disabled={tokens.length === 0} onClick={() => setTokens(tokens.slice(0, -1))}>
          Newer
        </button>
        <button type="button" disabled={!data?.nextPageToken} onClick={() => data?.nextPageToken && setTokens([...tokens, data.nextPageToken])}>
          Older
        </button>
      </div>
    </section>
  );
}
