/** The organization picker: an admin token picks one; an organization's token goes straight to its own. */
import { Link, Navigate } from "react-router";
import { useApi } from "../api/hooks";
import type { Organization } from "../api/types";
import { Empty, ErrorBox, Loading } from "../components/States";

export function Organizations() {
  const { data, error, loading } = useApi<{ organizations: Organization[] }>("/organizations");
  if (loading) return <Loading what="organizations" />;
  if (error) return <ErrorBox error={error} title="Could not list organizations" />;
  const orgs = data?.organizations ?? [];
  // ListOrganizations shows an organization's token only its own organization.
  if (orgs.length === 1) return <Navigate to={`/organizations/${orgs[0]!.organizationId}/jobs`} replace />;
  return (
    <section>
      <h1>Organizations</h1>
      {orgs.length === 0 ? (
        <Empty>No organizations yet. Create one with POST /organizations (see the README).</Empty>
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
