/**
 * A job and all its descendants as a virtualized list of rows: only the rows on screen are in the
 * page, so 10,000 children scroll as smoothly as 10. A pure component over the rows; useJobTree fetches.
 */
import { useVirtualizer } from "@tanstack/react-virtual";
import { useEffect, useRef } from "react";
import { Link } from "react-router";
import type { TreeRow } from "../api/job-tree";
import { JOB_STATUSES } from "../api/types";
import { jobDuration, shortId } from "./format";
import { StatusBadge } from "./States";

const ROW_HEIGHT = 34;

export interface JobTreeProps {
  org: string;
  rows: TreeRow[];
  onToggle: (jobId: string) => void;
  onLoadMore: (parentId: string) => void;
  now: number;
}

function Counts({ row }: { row: Extract<TreeRow, { kind: "job" }> }) {
  if (row.total === undefined || !row.counts) return null;
  if (row.total === 0) return <span className="counts">no children</span>;
  const parts = JOB_STATUSES.filter((s) => row.counts![s] > 0).map((s) => `${row.counts![s]} ${s.toLowerCase()}`);
  return (
    <span className="counts">
      {row.total} {row.total === 1 ? "child" : "children"}: {parts.join(" · ")}
    </span>
  );
}

export function JobTree({ org, rows, onToggle, onLoadMore, now }: JobTreeProps) {
  const scroller = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
    getItemKey: (i) => {
      const r = rows[i]!;
      return r.kind === "job" ? r.job.jobId : `more:${r.parentId}`;
    },
  });
  const items = virtualizer.getVirtualItems();

  // The next page comes in as its placeholder row scrolls into view.
  useEffect(() => {
    for (const item of items) {
      const row = rows[item.index];
      if (row?.kind === "more" && !row.loading) onLoadMore(row.parentId);
    }
  }, [items, rows, onLoadMore]);

  return (
    <div className="tree" ref={scroller} data-testid="job-tree" tabIndex={-1}>
      <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
        {items.map((item) => {
          const row = rows[item.index]!;
          const style = { transform: `translateY(${item.start}px)`, height: ROW_HEIGHT, paddingLeft: 8 + row.depth * 22 };
          if (row.kind === "more") {
            return (
              <div key={item.key} className="tree-row more" style={style}>
                <button type="button" className="link-button" onClick={() => onLoadMore(row.parentId)} disabled={row.loading}>
                  {row.loading ? "Loading more children…" : `Load more (${row.loaded} of ${row.total} shown)`}
                </button>
              </div>
            );
          }
          const { job } = row;
          const label = `${job.workflowName} ${shortId(job.jobId)}`;
          const done = row.total === 0;
          return (
            <div key={item.key} className="tree-row" style={style} data-job-id={job.jobId} data-depth={row.depth}>
              <button
                type="button"
                className="toggle"
                aria-expanded={row.expanded}
                aria-label={`${row.expanded ? "Collapse" : "Expand"} ${label}`}
                disabled={done && !row.expanded}
                onClick={() => onToggle(job.jobId)}
              >
                {row.loading ? "…" : done ? "·" : row.expanded ? "▾" : "▸"}
              </button>
              {row.depth === 0 ? (
                <span className="wf-name">{job.workflowName}</span>
              ) : (
                <Link className="wf-name" to={`/organizations/${org}/jobs/${job.jobId}`}>
                  {job.workflowName}
                </Link>
              )}
              <code className="short-id">{shortId(job.jobId)}</code>
              <StatusBadge status={job.status} />
              <span className="units" title="billable units, rolled up from the subtree">
                {job.billableTransactionUnits} u
              </span>
              <span className="dur">{jobDuration(job, now)}</span>
              <Counts row={row} />
              {row.error && <span className="tree-error">{row.error}</span>}
            </div>
          );
        })}
      </div>
    </div>
  );
}
