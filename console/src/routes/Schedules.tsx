/**
 * An organization's schedules: each one's cron, workflow, next fire times and recent actions, with
 * pause/unpause, trigger-now and backfill (offered to a token that may submit jobs).
 */
import { useState, type FormEvent } from "react";
import { Link, useParams } from "react-router";
import { client, ok } from "../api/client";
import { useCan } from "../api/caller";
import { useGet, useHashTarget, useNow, useTitle } from "../api/hooks";
import type { ScheduleSummary } from "../api/types";
import { shortId, utc } from "../components/format";
import { Empty, ErrorBox, Loading, StatusBadge } from "../components/States";
import { Time } from "../components/Time";

function versionText(v: ScheduleSummary["spec"]["workflowVersion"]): string {
  if ("tag" in v) return v.tag;
  if ("versionNumber" in v) return `v${v.versionNumber}`;
  return v.versionId.slice(0, 8);
}

/** The result of a recent action as a badge: a job's status, or what became of a firing that started none. */
function ActionResult({ result }: { result: string }) {
  const known = ["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"].includes(result);
  return known ? <StatusBadge status={result} /> : <span className="tag">{result.toLowerCase().replace("_", " ")}</span>;
}

function ScheduleCard({ org, summary, canAct, now, targeted }: { org: string; summary: ScheduleSummary; canAct: boolean; now: number; targeted: boolean }) {
  const params = { path: { organizationId: org, scheduleId: summary.scheduleId } };
  const detail = useGet("/organizations/{organizationId}/schedules/{scheduleId}", { params }, 5000);
  const [message, setMessage] = useState<string>();
  const [error, setError] = useState<Error>();
  const [busy, setBusy] = useState(false);
  const s = detail.data ?? summary;
  const name = s.spec.workflowName;

  /** Runs an action and says what it did. */
  async function act(run: () => Promise<string>) {
    setBusy(true);
    setError(undefined);
    setMessage(undefined);
    try {
      setMessage(await run());
      detail.reload();
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(false);
    }
  }
  const pause = (paused: boolean) =>
    act(async () => {
      await ok(client.POST(paused ? "/organizations/{organizationId}/schedules/{scheduleId}/pause" : "/organizations/{organizationId}/schedules/{scheduleId}/unpause", { params, body: {} }));
      return paused ? "Paused." : "Unpaused.";
    });
  const trigger = () =>
    act(async () => {
      const answer = await ok(client.POST("/organizations/{organizationId}/schedules/{scheduleId}/trigger", { params }));
      return answer.jobId ? `Triggered: job ${shortId(answer.jobId)} (${answer.result.toLowerCase()}).` : `Triggered: ${answer.result.toLowerCase()}.`;
    });

  function backfill(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const from = String(f.get("from") ?? "");
    const to = String(f.get("to") ?? "");
    if (!from || !to) return;
    void act(async () => {
      const body = { startAt: new Date(from).toISOString(), endAt: new Date(to).toISOString() };
      const { fireTimes } = await ok(client.POST("/organizations/{organizationId}/schedules/{scheduleId}/backfill", { params, body }));
      return `Backfill queued ${fireTimes.length} ${fireTimes.length === 1 ? "firing" : "firings"}.`;
    });
  }

  const headingId = `schedule-h-${s.scheduleId}`;
  return (
    <article className={`panel schedule${targeted ? " targeted" : ""}`} id={`schedule-${s.scheduleId}`} aria-labelledby={headingId} data-schedule-id={s.scheduleId}>
      <div className="panel-head">
        <h2 id={headingId}>
          <code>{s.spec.cron}</code> <span className="muted">{s.spec.timezone}</span>
        </h2>
        {s.paused ? <span className="tag warn-tag">paused</span> : <span className="tag ok-tag">active</span>}
      </div>
      <dl className="summary">
        <dt>Workflow</dt>
        <dd>
          <Link to={`/organizations/${org}/workflows/${s.spec.workflowId}`}>{name}</Link> <span className="muted">{versionText(s.spec.workflowVersion)}</span>
        </dd>
        <dt>Schedule id</dt>
        <dd>
          <code>{s.scheduleId}</code>
        </dd>
        <dt>Overlap</dt>
        <dd>{s.spec.overlapPolicy}</dd>
        {s.note && (
          <>
            <dt>Note</dt>
            <dd>{s.note}</dd>
          </>
        )}
        <dt>Jobs</dt>
        <dd>
          <Link to={`/organizations/${org}/jobs?scheduleId=${s.scheduleId}`}>jobs it started</Link>
        </dd>
      </dl>
      {detail.error && <ErrorBox error={detail.error} title="Could not read the schedule" />}
      {detail.data && (
        <div className="split even">
          <div>
            <h3>Next fire times</h3>
            {detail.data.nextFireTimes.length === 0 ? (
              <p className="muted">None{detail.data.paused ? " while paused" : ""}.</p>
            ) : (
              <ol className="plain-list">
                {detail.data.nextFireTimes.map((t) => (
                  <li key={t}>
                    <Time iso={t} now={now} /> <span className="muted">{utc(t)}</span>
                  </li>
                ))}
              </ol>
            )}
          </div>
          <div>
            <h3>Recent actions</h3>
            {detail.data.recentActions.length === 0 ? (
              <p className="muted">None yet.</p>
            ) : (
              <ul className="plain-list recent-actions">
                {detail.data.recentActions.map((a) => (
                  <li key={`${a.trigger}:${a.scheduledAt}:${a.actionTime}`}>
                    <ActionResult result={a.result} /> <span className="muted">{a.trigger.toLowerCase()}</span> for <Time iso={a.scheduledAt} now={now} />
                    {a.jobId && (
                      <>
                        {" "}
                        <Link to={`/organizations/${org}/jobs/${a.jobId}`}>
                          job <code>{shortId(a.jobId)}</code>
                        </Link>
                      </>
                    )}
                    {a.detail && <span className="muted"> {a.detail}</span>}
                  </li>
                ))}
              </ul>
            )}
            {(detail.data.missedCount > 0 || detail.data.skippedCount > 0) && (
              <p className="muted">
                {detail.data.missedCount} missed, {detail.data.skippedCount} skipped.
              </p>
            )}
          </div>
        </div>
      )}
      {canAct && (
        <div className="schedule-actions">
          <div className="actions">
            {s.paused ? (
              <button type="button" disabled={busy} onClick={() => void pause(false)}>
                Unpause
              </button>
            ) : (
              <button type="button" disabled={busy} onClick={() => void pause(true)}>
                Pause
              </button>
            )}
            <button type="button" disabled={busy} onClick={() => void trigger()}>
              Trigger now
            </button>
          </div>
          <form className="backfill" onSubmit={backfill} aria-label={`Backfill ${s.spec.cron}`}>
            <label>
              Backfill from
              <input type="datetime-local" name="from" required />
            </label>
            <label>
              to
              <input type="datetime-local" name="to" required />
            </label>
            <button type="submit" disabled={busy}>
              Backfill
            </button>
          </form>
        </div>
      )}
      {message && (
        <p role="status" className="ok">
          {message}
        </p>
      )}
      {error && <ErrorBox error={error} title="The schedule could not be changed" />}
    </article>
  );
}

export function Schedules() {
  const { org = "" } = useParams();
  const can = useCan();
  useTitle("Schedules");
  const list = useGet("/organizations/{organizationId}/schedules", { params: { path: { organizationId: org }, query: { pageSize: 100 } } });
  const now = useNow(true, 5000);
  const target = useHashTarget(!!list.data);
  return (
    <section>
      <h1>Schedules</h1>
      {list.loading && <Loading what="schedules" />}
      {list.error && <ErrorBox error={list.error} title="Could not list schedules" />}
      {list.data && list.data.schedules.length === 0 && (
        <Empty>
          No schedules yet. Create one with <code>POST /organizations/{org}/schedules</code> (a workflow, a cron and its input: see docs/schedules.md).
        </Empty>
      )}
      {list.data?.schedules.map((s) => <ScheduleCard key={s.scheduleId} org={org} summary={s} canAct={can("job:submit")} now={now} targeted={target === `schedule-${s.scheduleId}`} />)}
      {list.data?.nextPageToken && <p className="muted">Showing the first 100 schedules.</p>}
    </section>
  );
}
