/** Who cancelled, resumed, reran or paused a job: its entries of the audit log. A pure component. */
import { actorText, type AuditEntry } from "../api/audit";
import { time } from "./format";

const VERBS: Record<string, string> = {
  "job.cancel": "Cancelled",
  "job.resume": "Resumed",
  "job.rerun": "Rerun",
  "job.pause": "Paused",
  "job.unpause": "Unpaused",
  "job.delete": "Deleted",
};

export function JobAuditTrail({ entries }: { entries: AuditEntry[] }) {
  if (entries.length === 0) return null;
  return (
    <section aria-labelledby="job-audit-h" className="panel job-audit">
      <h2 id="job-audit-h">Who acted on this job</h2>
      <ul>
        {entries.map((e, i) => (
          <li key={`${e.at}-${i}`} data-action={e.action}>
            {VERBS[e.action] ?? e.action} by <strong title={e.actor.apiAuthTokenId}>{actorText(e.actor)}</strong> at {time(e.at)}
          </li>
        ))}
      </ul>
    </section>
  );
}
