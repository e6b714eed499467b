/**
 * A job and all its descendants as a virtualized list of rows: only the rows on screen are in the
 * page, so 10,000 children scroll as smoothly as 10. A pure component over the rows; useJobTree
 * fetches. Each row is one Tab stop (a child's link, the root's toggle) whose name says the job, its
 * key and its status; arrow keys expand and collapse.
 */
import { useVirtualizer } from "@tanstack/react-virtual";
import { useEffect, useRef, type KeyboardEvent } from "react";
import { Link } from "react-router";
import type { TreeRow } from "../api/job-tree";
import { JOB_STATUSES, type JobSummary } from "../api/types";
import { jobDuration, shortId } from "./format";
import { PausedBadge, StatusBadge } from "./States";

const ROW_HEIGHT = 34;
/** The tree's box shows at most this many rows before it scrolls. */
const VISIBLE_ROWS = 14;

export interface JobTreeProps {
  org: string;
  rows: TreeRow[];
  onToggle: (jobId: string) => void;
  onLoadMore: (parentId: string) => void;
  now: number;
  /** Whether a job's workflow can start children (undefined: not known yet); the root always can. */
  expandable: (job: JobSummary) => boolean | undefined;
  /** The status the tree is filtered by, for the counts' wording. */
  filtered?: string;
}

type JobRow = Extract<TreeRow, { kind: "job" }>;

function countsText(row: JobRow, filtered?: string): string | undefined {
  if (row.total === undefined || !row.counts) return undefined;
  const all = JOB_STATUSES.reduce((n, s) => n + row.counts![s], 0);
  if (all === 0) return "no children";
  const parts = JOB_STATUSES.filter((s) => row.counts![s] > 0).map((s) => `${row.counts![s]} ${s.toLowerCase()}`);
  const shown = filtered ? `; ${row.total} ${filtered.toLowerCase()} shown` : "";
  return `${all} ${all === 1 ? "child" : "children"}: ${parts.join(" · ")}${shown}`;
}

/** What a screen reader says for a row: workflow, short id, key, status. */
function rowName(job: JobSummary): string {
  const key = job.childKey !== undefined ? `, key ${job.childKey}` : "";
  return `${job.workflowName} ${shortId(job.jobId)}${key}, ${job.status}${job.paused ? ", paused" : ""}`;
}

export function JobTree({ org, rows, onToggle, onLoadMore, now, expandable, filtered }: JobTreeProps) {
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

  const keys = (row: JobRow, canExpand: boolean) => (e: KeyboardEvent) => {
    if (!canExpand) return;
    if ((e.key === "ArrowRight" && !row.expanded) || (e.key === "ArrowLeft" && row.expanded)) {
      e.preventDefault();
      onToggle(row.job.jobId);
    }
  };

  const height = Math.min(Math.max(rows.length, 1), VISIBLE_ROWS) * ROW_HEIGHT + 2;
  return (
    <>
      <p id="tree-help" className="visually-hidden">
        Right arrow expands a job's children, left arrow collapses them.
      </p>
      <div className="tree" ref={scroller} data-testid="job-tree" tabIndex={-1} style={{ height }}>
        <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
          {items.map((item) => {
            const row = rows[item.index]!;
            const style = { transform: `translateY(${item.start}px)`, height: ROW_HEIGHT, paddingLeft: 8 + row.depth * 18 };
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
            const canExpand = row.depth === 0 || expandable(job) === true;
            const none = row.total === 0 && !filtered;
            const counts = countsText(row, filtered);
            const name = rowName(job);
            const toggleLabel = `${row.expanded ? "Collapse" : "Expand"} ${name}`;
            return (
              <div key={item.key} className="tree-row" style={style} data-job-id={job.jobId} data-depth={row.depth} data-status={job.status}>
                {canExpand ? (
                  <button
                    type="button"
                    className="toggle"
                    aria-expanded={row.expanded}
                    aria-label={row.depth === 0 ? `${toggleLabel}${counts ? `, ${counts}` : ""}` : toggleLabel}
                    aria-describedby="tree-help"
                    // A child's row is reached by its link: one Tab stop per row.
                    tabIndex={row.depth === 0 ? 0 : -1}
                    disabled={none && !row.expanded}
                    onClick={() => onToggle(job.jobId)}
                    onKeyDown={keys(row, canExpand)}
                  >
                    {row.loading ? "…" : none ? "·" : row.expanded ? "▾" : "▸"}
                  </button>
                ) : (
                  <span className="toggle-space" aria-hidden="true" />
                )}
                {row.depth === 0 ? (
                  <span className="wf-name">{job.workflowName}</span>
                ) : (
                  <Link
                    className="wf-name"
                    to={`/organizations/${org}/jobs/${job.jobId}`}
                    aria-label={name}
                    {...(canExpand ? { "aria-expanded": row.expanded, "aria-describedby": "tree-help" } : {})}
                    onKeyDown={keys(row, canExpand)}
                  >
                    {job.workflowName}
                  </Link>
                )}
                {job.childKey !== undefined && row.depth > 0 && (
                  <span className="child-key" title="the child's key in its parent's step">
                    {job.childKey}
                  </span>
                )}
                <code className="short-id">{shortId(job.jobId)}</code>
                <StatusBadge status={job.status} />
                {job.paused && <PausedBadge />}
                <span className="units" title="billable units, rolled up from the subtree">
                  {job.billableTransactionUnits} u
                </span>
                <span className="dur">{jobDuration(job, now)}</span>
                {counts && <span className="counts">{counts}</span>}
                {row.error && <span className="tree-error">{row.error}</span>}
              </div>
            );
          })}
        </div>
      </div>
    </>
  );
}
