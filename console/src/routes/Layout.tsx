/** The frame of every page: sign-in gate, header, and the organization's navigation. */
import { useState, type FormEvent } from "react";
import { Link, NavLink, Outlet, useNavigate, useParams } from "react-router";
import { api, ApiError, session } from "../api/client";
import type { Organization } from "../api/types";
import { ErrorBox } from "../components/States";

/** Signs in in place: the address (a deep link) stays, and loads once the token is accepted. */
function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<Error>();
  const [busy, setBusy] = useState(false);
  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      // Any authenticated read tells a good token from a bad one; this one works for both kinds.
      await api<{ organizations: Organization[] }>("/organizations", { token: token.trim() });
      session.signIn(token.trim());
      onSignedIn();
    } catch (err) {
      setError(err instanceof Error ? err : new ApiError(0, "Error", String(err)));
    } finally {
      setBusy(false);
    }
  }
  return (
    <main className="signin">
      <h1>Canopy console</h1>
      <form onSubmit={submit}>
        <label htmlFor="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="off"
          value={token}
          onChange={(e) => setToken(e.target.value)}
          required
          aria-describedby="token-help"
        />
        <p id="token-help" className="muted">
          An organization's API token, or the admin token `npm start` printed. It is kept in this tab only.
        </p>
        <button type="submit" disabled={busy || token.trim() === ""}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
        {error && <ErrorBox error={error} title="Sign-in failed" />}
      </form>
    </main>
  );
}

export function Layout() {
  const [signedIn, setSignedIn] = useState(() => session.token() !== null);
  const navigate = useNavigate();
  if (!signedIn) return <SignIn onSignedIn={() => setSignedIn(true)} />;
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Link to="/organizations" className="brand">
          Canopy
        </Link>
        <button
          type="button"
          className="link-button"
          onClick={() => {
            session.signOut();
            setSignedIn(false);
            navigate("/");
          }}
        >
          Sign out
        </button>
      </header>
      <main id="main">
        <Outlet />
      </main>
    </>
  );
}

export function OrgLayout() {
  const { org = "" } = useParams();
  const base = `/organizations/${org}`;
  return (
    <>
      <nav className="org-nav" aria-label="Organization">
        <NavLink to={`${base}/jobs`}>Jobs</NavLink>
        <NavLink to={`${base}/workflows`}>Workflows</NavLink>
        <NavLink to={`${base}/triggers`}>Triggers</NavLink>
        <NavLink to={`${base}/audit-log`}>Audit log</NavLink>
      </nav>
      <Outlet />
    </>
  );
}
