/** A job's execution history: one row per item, attempts numbered, external events marked. */
import type { HistoryItem } from "../api/types";
import { duration, time } from "./format";

export function HistoryTable({ items }: { items: HistoryItem[] }) {
  if (items.length === 0) return <p className="state empty">No history yet.</p>;
  const attempts = new Map<string, number>();
  return (
    <div className="table-wrap">
      <table className="history">
        <caption className="visually-hidden">Execution history</caption>
        <thead>
          <tr>
            <th scope="col">Step</th>
            <th scope="col">Attempt</th>
            <th scope="col">Status</th>
            <th scope="col">Started</th>
            <th scope="col">Took</th>
            <th scope="col">Errors</th>
          </tr>
        </thead>
        <tbody>
          {items.map((h) => {
            const external = h.historySource === "external";
            const attempt = external ? undefined : (attempts.get(h.stepName) ?? 0) + 1;
            if (attempt) attempts.set(h.stepName, attempt);
            return (
              <tr key={h.id} className={external ? "external" : undefined}>
                <td>
                  {h.stepName}
                  {external && <span className="tag external-tag">external event{h.eventId ? `: ${h.eventId}` : ""}</span>}
                  <div className="muted">{h.stepExecutorType}</div>
                </td>
                <td>{attempt ?? "–"}</td>
                <td>
                  <span className={`status status-${h.output.status === "success" ? "succeeded" : h.output.status === "failure" ? "failed" : "running"}`}>{h.output.status}</span>
                </td>
                <td>{time(h.startTimestamp)}</td>
                <td>{duration(Date.parse(h.endTimestamp) - Date.parse(h.startTimestamp))}</td>
                <td>{h.errors.length > 0 ? h.errors.join("; ") : "–"}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
