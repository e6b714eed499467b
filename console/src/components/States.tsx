/** Loading, empty and error states, the same on every page. */
import type { ReactNode } from "react";
import { ApiError } from "../api/client";

export function Loading({ what }: { what: string }) {
  return (
    <p className="state loading" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="state empty">{children}</p>;
}

export function ErrorBox({ error, title }: { error: Error; title?: string }) {
  const code = error instanceof ApiError ? error.code : error.name;
  const details = error instanceof ApiError ? error.errors : [];
  return (
    <div className="state error" role="alert">
      <strong>{title ?? "Something went wrong"}</strong>: <span className="error-code">{code}</span> {error.message}
      {details.length > 0 && (
        <ul>
          {details.map((d) => (
            <li key={d}>{d}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function StatusBadge({ status }: { status: string }) {
  return <span className={`status status-${status.toLowerCase()}`}>{status}</span>;
}

/** Beside a job's status: it starts no new step attempt until it is unpaused (PauseJob, or a paused ancestor). */
export function PausedBadge() {
  return (
    <span className="status status-paused" title="Paused: it starts no new step until it is unpaused">
      PAUSED
    </span>
  );
}
