/** The organization picker: the admin token picks one; an organization's token goes straight to its own. */
import { Link, Navigate } from "react-router";
import { useCaller } from "../api/caller";
import { useGet, useTitle } from "../api/hooks";
import { Empty, ErrorBox, Loading } from "../components/States";

function AdminOrganizations() {
  const { data, error, loading } = useGet("/organizations", {});
  if (loading) return <Loading what="organizations" />;
  if (error) return <ErrorBox error={error} title="Could not list organizations" />;
  const orgs = data?.organizations ?? [];
  if (orgs.length === 1) return <Navigate to={`/organizations/${orgs[0]!.organizationId}/jobs`} replace />;
  return (
    <section>
      <h1>Organizations</h1>
      {orgs.length === 0 ? (
        <Empty>
          No organizations yet. Create one with <code>POST /organizations</code> and the admin token (see docs/operating.md), then make it an API
          token with <code>POST /organizations/&#123;id&#125;/api-auth-tokens</code>.
        </Empty>
      ) : (
        <ul className="cards">
          {orgs.map((o) => (
            <li key={o.organizationId}>
              <Link to={`/organizations/${o.organizationId}/jobs`}>{o.displayName || o.name}</Link>
              <span className="muted"> {o.key}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

export function Organizations() {
  const me = useCaller();
  useTitle("Organizations");
  if (!me) return <Loading what="your session" />;
  // A token belongs to one organization, and may not even be allowed to read it: it goes there.
  if (me.caller.type === "token") return <Navigate to={`/organizations/${me.caller.organizationId}/jobs`} replace />;
  return <AdminOrganizations />;
}
