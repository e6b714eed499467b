/** A Gantt chart of a job's steps and children: a bar from when each started to when it ended. */
import { duration } from "./format";
import type { TimelineItem } from "./timeline-items";

export function Timeline({ items, now, note }: { items: TimelineItem[]; now: number; note?: string }) {
  if (items.length === 0) return <p className="state empty">Nothing has run yet.</p>;
  const min = Math.min(...items.map((i) => i.start));
  const max = Math.max(...items.map((i) => i.end ?? now), min + 1);
  const span = max - min;
  return (
    <figure className="timeline">
      <div className="timeline-axis" aria-hidden="true">
        <span>0</span>
        <span>{duration(span / 2)}</span>
        <span>{duration(span)}</span>
      </div>
      <ol tabIndex={0} aria-label="Steps and children over time">
        {items.map((i) => {
          const end = i.end ?? now;
          const left = ((i.start - min) / span) * 100;
          const width = Math.max(((end - i.start) / span) * 100, 0.4);
          return (
            <li key={i.key} className={`timeline-row ${i.kind}`}>
              <span className="timeline-label">
                {i.kind === "child" ? "↳ " : ""}
                {i.label}
              </span>
              <span className="timeline-track">
                <span
                  className={`timeline-bar status-${i.status.toLowerCase()}${i.end === undefined ? " running" : ""}`}
                  style={{ left: `${left}%`, width: `${width}%` }}
                  title={`${i.label}: +${duration(i.start - min)}, ${duration(end - i.start)} (${i.status})`}
                />
              </span>
              <span className="timeline-time">{duration(end - i.start)}</span>
            </li>
          );
        })}
      </ol>
      {note && <figcaption>{note}</figcaption>}
    </figure>
  );
}

