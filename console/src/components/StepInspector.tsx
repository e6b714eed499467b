/**
 * One history item in full, in a modal dialog: what the step received and what came back (or the
 * answer that failed it), its errors, attempt, timing and status code.
 */
import { useEffect, useRef } from "react";
import type { Omitted } from "../api/history-pages";
import type { HistoryItem } from "../api/types";
import { bytes, duration, utc } from "./format";
import { ValueBlock } from "./LargeValue";

export interface InspectedItem {
  item: HistoryItem;
  /** "attempt 3 of 4, retries used up", as the history table says it. */
  attempt: string;
  /** The item's input and output payload where the API showed a marker instead (too large for its answer). */
  omitted: { input?: Omitted; output?: Omitted };
}

function outputLabel(h: HistoryItem): string {
  if (h.historySource === "external") return "Event payload";
  if (h.output.status === "failure") return h.statusCode !== undefined ? "Response that failed it" : "What came back";
  if (h.output.status === "successful_but_incomplete") return "Incomplete result";
  return "Output";
}

export function StepInspector({ inspected, onClose }: { inspected: InspectedItem | undefined; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (inspected && !d.open) d.showModal();
    if (!inspected && d.open) d.close();
  }, [inspected]);
  const h = inspected?.item;
  return (
    <dialog ref={ref} className="inspector" aria-labelledby="inspector-title" onClose={() => inspected && onClose()}>
      {h && inspected && (
        <>
          <div className="inspector-head">
            <h2 id="inspector-title">
              {h.historySource === "external" ? `Event ${h.eventId ?? ""}` : h.stepName}
              <span className="muted"> {h.historySource === "external" ? "(external)" : inspected.attempt}</span>
            </h2>
            <button type="button" onClick={onClose} autoFocus>
              Close
            </button>
          </div>
          <dl className="summary inspector-facts">
            <dt>Status</dt>
            <dd>
              <span className={`status status-${h.cancelled ? "cancelled" : h.output.status === "success" ? "succeeded" : h.output.status === "failure" ? "failed" : "running"}`}>
                {h.cancelled ? "cancelled" : h.output.status}
              </span>
            </dd>
            <dt>Executor</dt>
            <dd>
              <code>{h.stepExecutorType}</code>
            </dd>
            {h.statusCode !== undefined && (
              <>
                <dt>Status code</dt>
                <dd data-testid="status-code">{h.statusCode}</dd>
              </>
            )}
            <dt>Started</dt>
            <dd>{utc(h.startTimestamp)}</dd>
            <dt>Ended</dt>
            <dd>{utc(h.endTimestamp)}</dd>
            <dt>Took</dt>
            <dd>{duration(Date.parse(h.endTimestamp) - Date.parse(h.startTimestamp))}</dd>
            {h.retryAt && (
              <>
                <dt>Retried at</dt>
                <dd>{utc(h.retryAt)}</dd>
              </>
            )}
          </dl>
          {h.errors.length > 0 && (
            <section aria-labelledby="inspector-errors" className="inspector-errors">
              <h3 id="inspector-errors">Error</h3>
              <ul>
                {h.errors.map((e, i) => (
                  <li key={i} className="job-error">
                    {e}
                  </li>
                ))}
              </ul>
            </section>
          )}
          {h.historySource !== "external" && <ValueBlock label="Input" value={h.input} omitted={inspected.omitted.input} fileName={`${h.id}-input`} />}
          <ValueBlock
            label={outputLabel(h)}
            value={h.output.payload}
            omitted={inspected.omitted.output}
            fileName={`${h.id}-output`}
            note={h.payloadTruncated ? `(cut: the first ${bytes(new TextEncoder().encode(String(h.output.payload)).length)} of ${bytes(h.payloadTruncated.originalBytes)})` : undefined}
          />
        </>
      )}
    </dialog>
  );
}
