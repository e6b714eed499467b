/**
 * The frame of every page: the sign-in gate, who is signed in and what they may do (provided to
 * every page), the header, and the organization's navigation. A token the API stops accepting
 * (expired, revoked) returns here, to sign in again, with the reason.
 */
import { useEffect, useState, type FormEvent } from "react";
import { Link, NavLink, Outlet, useNavigate, useParams } from "react-router";
import { ApiError, bearer, client, ok, session, SESSION_ENDED } from "../api/client";
import { CallerContext, useCan, useCaller } from "../api/caller";
import { useGet } from "../api/hooks";
import { ErrorBox, Loading } from "../components/States";

/** Signs in in place: the address (a deep link) stays, and loads once the token is accepted. */
function SignIn({ onSignedIn, ended }: { onSignedIn: () => void; ended?: string }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<Error>();
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    document.title = "Sign in · Canopy";
  }, []);
  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      // Any token may ask who it is, also one that may not read its organization.
      await ok(client.GET("/users/me", { headers: bearer(token.trim()) }));
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
      {ended && (
        <div className="state error" role="alert">
          <strong>You were signed out</strong>: the API no longer accepts the token ({ended}). It may have expired or been revoked; sign in with a
          valid one.
        </div>
      )}
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

/** Who the signed-in token is, for the pages under it. */
function Session({ onSignOut }: { onSignOut: () => void }) {
  const me = useGet("/users/me", {});
  if (me.loading && !me.data) return <Loading what="your session" />;
  if (me.error && !me.data) return <ErrorBox error={me.error} title="Could not read who you are" />;
  const who = me.data?.caller;
  return (
    <CallerContext.Provider value={me.data ?? null}>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Link to="/organizations" className="brand">
          Canopy
        </Link>
        <span className="who muted">
          {who?.type === "token" ? (
            <>
              token <strong>{who.name}</strong>
            </>
          ) : (
            "admin"
          )}
          <button type="button" className="link-button" onClick={onSignOut}>
            Sign out
          </button>
        </span>
      </header>
      <main id="main">
        <Outlet />
      </main>
    </CallerContext.Provider>
  );
}

export function Layout() {
  const [signedIn, setSignedIn] = useState(() => session.token() !== null);
  const [ended, setEnded] = useState<string>();
  const navigate = useNavigate();
  useEffect(() => {
    const onEnded = (e: Event) => {
      setEnded((e as CustomEvent<string>).detail);
      setSignedIn(false);
    };
    window.addEventListener(SESSION_ENDED, onEnded);
    return () => window.removeEventListener(SESSION_ENDED, onEnded);
  }, []);
  if (!signedIn)
    return (
      <SignIn
        ended={ended}
        onSignedIn={() => {
          setEnded(undefined);
          setSignedIn(true);
        }}
      />
    );
  return (
    <Session
      onSignOut={() => {
        session.signOut();
        setSignedIn(false);
        navigate("/");
      }}
    />
  );
}

/**
 * An organization's pages. What the token may do there is read from GetMyPermissions: actions it
 * lacks are not offered.
 */
export function OrgLayout() {
  const { org = "" } = useParams();
  const me = useCaller();
  const mine = useGet("/organizations/{organizationId}/users/me/permissions", { params: { path: { organizationId: org } } });
  const caller = me && mine.data ? { ...me, permissions: mine.data.permissions } : me;
  return (
    <CallerContext.Provider value={caller}>
      <OrgNav org={org} />
      <Outlet />
    </CallerContext.Provider>
  );
}

function OrgNav({ org }: { org: string }) {
  const can = useCan();
  const base = `/organizations/${org}`;
  return (
    <>
      <nav className="org-nav" aria-label="Organization">
        <NavLink to={`${base}/jobs`}>Jobs</NavLink>
        {can("workflow:read") && <NavLink to={`${base}/workflows`}>Workflows</NavLink>}
        {can("job:list") && <NavLink to={`${base}/schedules`}>Schedules</NavLink>}
        {can("workflow:read") && <NavLink to={`${base}/triggers`}>Triggers</NavLink>}
        {can("organization:read") && <NavLink to={`${base}/audit-log`}>Audit log</NavLink>}
      </nav>
    </>
  );
}
