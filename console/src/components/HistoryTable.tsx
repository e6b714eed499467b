/**
 * A job's execution history: one row per item, each attempt placed in its step's execution
 * ("attempt 3 of 4, retries used up") and loop iteration, external events marked (and those no step
 * awaits), each with an "Inspect" button that opens the item in full.
 */
import { useMemo, useState } from "react";
import { CONSOLE_HISTORY_ITEMS, CONSOLE_HISTORY_PAGES } from "../../../src/limits";
import { historyFull, omittedMarker, type HeldHistory } from "../api/history-pages";
import type { HistoryItem } from "../api/types";
import { attemptText, loopedSteps } from "./attempts";
import { duration, utc } from "./format";
import { StepInspector, type InspectedItem } from "./StepInspector";
import { Time } from "./Time";

export interface HistoryTableProps {
  items: HistoryItem[];
  /** `${itemId}/input`, `${itemId}/output`: the payloads the API showed as markers (HeldHistory.omitted). */
  omitted: ReadonlySet<string>;
  now: number;
  /** Every event id a step of the workflow waits for: an external event outside it is marked. */
  awaitedEventIds?: ReadonlySet<string>;
}

function statusClass(h: HistoryItem): string {
  if (h.cancelled) return "cancelled";
  return h.output.status === "success" ? "succeeded" : h.output.status === "failure" ? "failed" : "running";
}

/** The markers in an item's input and output, where the API listed them. */
function markers(h: HistoryItem, omitted: ReadonlySet<string>): InspectedItem["omitted"] {
  const input = omittedMarker(h.input, omitted.has(`${h.id}/input`));
  const output = omittedMarker(h.output.payload, omitted.has(`${h.id}/output`));
  return { ...(input ? { input } : {}), ...(output ? { output } : {}) };
}

export function HistoryTable({ items, omitted, now, awaitedEventIds }: HistoryTableProps) {
  const [inspected, setInspected] = useState<InspectedItem>();
  const rows = useMemo(() => {
    const looped = loopedSteps(items);
    const counts = new Map<string, number>();
    return items.map((h) => {
      const fallback = h.historySource === "engine" && !h.cancelled ? (counts.get(h.stepName) ?? 0) + 1 : undefined;
      if (fallback) counts.set(h.stepName, fallback);
      return { h, attempt: attemptText(h, { iterations: looped.has(h.stepName), ...(fallback ? { fallback } : {}), now }) };
    });
  }, [items, now]);
  if (items.length === 0) return <p className="state empty">No history yet.</p>;
  return (
    <div className="table-wrap">
      <table className="history responsive">
        <caption className="visually-hidden">Execution history</caption>
        <thead>
          <tr>
            <th scope="col">Step</th>
            <th scope="col">Attempt</th>
            <th scope="col">Status</th>
            <th scope="col">Started</th>
            <th scope="col">Took</th>
            <th scope="col">Errors</th>
            <th scope="col">
              <span className="visually-hidden">Details</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map(({ h, attempt }) => {
            const external = h.historySource === "external";
            const unawaited = external && h.eventId !== undefined && awaitedEventIds !== undefined && !awaitedEventIds.has(h.eventId);
            return (
              <tr key={h.id} className={external ? "external" : h.cancelled ? "cancelled-row" : undefined} data-history-id={h.id}>
                <td data-label="Step">
                  {h.stepName || <span className="muted">(no step)</span>}
                  {external && <span className="tag external-tag">external event{h.eventId ? `: ${h.eventId}` : ""}</span>}
                  {unawaited && <span className="tag warn-tag">awaited by no step</span>}
                  <div className="muted">{h.stepExecutorType}</div>
                </td>
                <td data-label="Attempt">{attempt}</td>
                <td data-label="Status">
                  <span className={`status status-${statusClass(h)}`}>{h.cancelled ? "cancelled" : h.output.status}</span>
                  {h.statusCode !== undefined && <span className="muted"> HTTP {h.statusCode}</span>}
                </td>
                <td data-label="Started">
                  <Time iso={h.startTimestamp} now={now} />
                </td>
                <td data-label="Took" title={`${utc(h.startTimestamp)} → ${utc(h.endTimestamp)}`}>
                  {duration(Date.parse(h.endTimestamp) - Date.parse(h.startTimestamp))}
                </td>
                <td data-label="Errors" className="errors-cell">
                  {h.errors.length > 0 ? h.errors.join("; ") : "–"}
                </td>
                <td data-label="Details">
                  <button type="button" className="small" onClick={() => setInspected({ item: h, attempt, omitted: markers(h, omitted) })}>
                    Inspect<span className="visually-hidden"> {external ? `event ${h.eventId ?? ""}` : `${h.stepName}, ${attempt}`}</span>
                  </button>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <StepInspector inspected={inspected} onClose={() => setInspected(undefined)} />
    </div>
  );
}

/**
 * Under the table: how much of a long history is shown and, while it goes on, "Load more history"
 * (the next GetWorkflowState page), until the console holds its bound.
 */
export function HistoryPager({ held, loading, onLoadMore }: { held: HeldHistory; loading: boolean; onLoadMore: () => void }) {
  const n = held.items.length.toLocaleString("en");
  const full = held.next !== undefined && historyFull(held);
  const said = !held.next
    ? held.pages > 1
      ? `All ${n} items of the history are shown.`
      : ""
    : full
      ? `Showing the first ${n} items. The console reads at most ${CONSOLE_HISTORY_ITEMS.toLocaleString("en")} items or ${CONSOLE_HISTORY_PAGES} pages of a history; read the rest through the API (GetWorkflowState with pageToken).`
      : loading
        ? `Showing ${n} items; loading more…`
        : `Showing ${n} items; the history goes on.`;
  return (
    <div className="history-pager">
      <p className="muted" role="status" data-testid="history-count">
        {said}
      </p>
      {held.next !== undefined && !full && (
        <button type="button" onClick={onLoadMore}>
          Load more history
        </button>
      )}
    </div>
  );
}
