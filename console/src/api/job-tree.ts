/**
 * The data behind a job's tree: each expanded job's direct children, paged in through ListJobs
 * (`parentJobId`, 100 a page, in the order their step listed them) with their counts per status,
 * optionally only those in one status (`status`: across all of a job's children, server-side). The
 * tree component gets the flat rows.
 */
import { useCallback, useEffect, useRef, useState } from "react";
import { get } from "./hooks";
import type { JobStatus, JobSummary, ListJobsResponse } from "./types";

const PAGE_SIZE = 100;
/** A live tree re-reads at most this many of a job's children per poll: 5 requests, not 100 at 10,000. */
const REFRESH_ROWS = 500;

interface NodeState {
  expanded: boolean;
  children: JobSummary[];
  nextPageToken?: string;
  /** How many children the listing has (only those in the filter's status when filtered). */
  total?: number;
  /** Children per status, all of them, whatever the filter. */
  counts?: Record<JobStatus, number>;
  loading: boolean;
  loaded: boolean;
  error?: string;
}

export type TreeRow =
  | {
      kind: "job";
      job: JobSummary;
      depth: number;
      expanded: boolean;
      loading: boolean;
      total?: number;
      counts?: Record<JobStatus, number>;
      error?: string;
    }
  | { kind: "more"; parentId: string; depth: number; loaded: number; total: number; loading: boolean };

export interface JobTreeData {
  rows: TreeRow[];
  toggle: (jobId: string) => void;
  loadMore: (jobId: string) => void;
  /** Set once the root's first page of children has arrived (or failed). */
  ready: boolean;
}

/** Keeps the tree of `root`, each level showing only children in `status` when it is set; while `live`, re-reads what is shown every `pollMs`. */
export function useJobTree(org: string, root: JobSummary | undefined, live: boolean, pollMs = 2500, status?: JobStatus): JobTreeData {
  const nodes = useRef(new Map<string, NodeState>());
  const [version, setVersion] = useState(0);
  const bump = useCallback(() => setVersion((v) => v + 1), []);
  const rootId = root?.jobId;

  const node = (id: string): NodeState => {
    let n = nodes.current.get(id);
    if (!n) nodes.current.set(id, (n = { expanded: false, children: [], loading: false, loaded: false }));
    return n;
  };

  /** A page of a job's children (in the filter's status), with every child's count per status. */
  const fetchPage = useCallback(
    async (parentId: string, pageToken?: string): Promise<ListJobsResponse & { allCounts: Record<JobStatus, number> }> => {
      const list = (query: { pageSize: number; pageToken?: string; status?: JobStatus }) =>
        get("/organizations/{organizationId}/jobs", { params: { path: { organizationId: org }, query: { parentJobId: parentId, ...query } } });
      if (!status) {
        const page = await list({ pageSize: PAGE_SIZE, pageToken });
        return { ...page, allCounts: page.statusCounts };
      }
      const [page, all] = await Promise.all([list({ pageSize: PAGE_SIZE, pageToken, status }), list({ pageSize: 1 })]);
      return { ...page, allCounts: all.statusCounts };
    },
    [org, status],
  );

  const loadMore = useCallback(
    (id: string) => {
      const n = node(id);
      if (n.loading || (n.loaded && !n.nextPageToken)) return;
      n.loading = true;
      bump();
      fetchPage(id, n.nextPageToken)
        .then((page) => {
          n.children = [...n.children, ...page.jobs];
          n.nextPageToken = page.nextPageToken;
          n.total = page.totalCount;
          n.counts = page.allCounts;
          n.error = undefined;
        })
        .catch((e: Error) => (n.error = e.message))
        .finally(() => {
          n.loading = false;
          n.loaded = true;
          bump();
        });
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [fetchPage, bump],
  );

  const toggle = useCallback(
    (id: string) => {
      const n = node(id);
      n.expanded = !n.expanded;
      bump();
      if (n.expanded && !n.loaded) loadMore(id);
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [loadMore, bump],
  );

  // A new job page, or a new filter, starts from the root, expanded.
  useEffect(() => {
    if (!rootId) return;
    nodes.current = new Map();
    node(rootId).expanded = true;
    loadMore(rootId);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [rootId, org, status]);

  /** Re-reads every expanded job's children (the first REFRESH_ROWS of them), in place. */
  const refresh = useCallback(async () => {
    for (const [id, n] of nodes.current) {
      if (!n.expanded || !n.loaded || n.loading) continue;
      const want = Math.min(Math.max(n.children.length, 1), REFRESH_ROWS);
      const fresh: JobSummary[] = [];
      let token: string | undefined;
      let last: Awaited<ReturnType<typeof fetchPage>> | undefined;
      try {
        do {
          last = await fetchPage(id, token);
          fresh.push(...last.jobs);
          token = last.nextPageToken;
        } while (token && fresh.length < want);
      } catch {
        continue; // The next poll tries again; what is shown stays.
      }
      if (!token || fresh.length >= n.children.length) {
        n.children = fresh;
        n.nextPageToken = token;
      } else {
        // Rows past the re-read window keep what they last showed, and paging goes on after them.
        const seen = new Set(fresh.map((c) => c.jobId));
        n.children = [...fresh, ...n.children.filter((c) => !seen.has(c.jobId))];
      }
      n.total = last.totalCount;
      n.counts = last.allCounts;
    }
    bump();
  }, [fetchPage, bump]);

  // While the job runs its tree is re-read; once it ends, one last read shows the final state.
  const wasLive = useRef(false);
  useEffect(() => {
    if (live) {
      wasLive.current = true;
      const t = setInterval(() => void refresh(), pollMs);
      return () => clearInterval(t);
    }
    if (wasLive.current) {
      wasLive.current = false;
      void refresh();
    }
    return undefined;
  }, [live, pollMs, refresh]);

  const rows: TreeRow[] = [];
  if (root) {
    const walk = (job: JobSummary, depth: number) => {
      const n = nodes.current.get(job.jobId);
      rows.push({
        kind: "job",
        job,
        depth,
        expanded: !!n?.expanded,
        loading: !!n?.loading,
        total: n?.total,
        counts: n?.counts,
        error: n?.error,
      });
      if (!n?.expanded) return;
      for (const c of n.children) walk(c, depth + 1);
      if (n.nextPageToken) rows.push({ kind: "more", parentId: job.jobId, depth: depth + 1, loaded: n.children.length, total: n.total ?? 0, loading: n.loading });
    };
    walk(root, 0);
  }
  const rootNode = rootId ? nodes.current.get(rootId) : undefined;
  void version;
  return { rows, toggle, loadMore, ready: !!rootNode?.loaded };
}

/** Definitions read once per version: whether a version's workflow has a step that starts children. */
const startsChildren = new Map<string, Promise<boolean>>();
/** Versions remembered at most: a long session browsing many workflows does not keep them all. */
const MAX_REMEMBERED_VERSIONS = 500;

/**
 * Which jobs can have children: those whose workflow version has a runChildJob step. Each version's
 * definition is read once (a tree of 10,000 children of one workflow reads one).
 */
export function useExpandable(org: string, jobs: JobSummary[]): (job: JobSummary) => boolean | undefined {
  const [known, setKnown] = useState<ReadonlyMap<string, boolean>>(new Map());
  const versions = [...new Map(jobs.map((j) => [j.workflowVersion.versionId, j.workflowId])).entries()];
  const missing = versions.filter(([v]) => !known.has(v));
  const key = missing.map(([v]) => v).join(",");
  useEffect(() => {
    if (missing.length === 0) return;
    let live = true;
    for (const [versionId, workflowId] of missing) {
      let pending = startsChildren.get(versionId);
      if (!pending) {
        pending = get("/organizations/{organizationId}/workflows/{workflowId}/versions/{versionId}", {
          params: { path: { organizationId: org, workflowId, versionId } },
        })
          .then((v) => /\/runChildJob"/.test(v.definition))
          // Unknown: offer the toggle, which then says "no children" if there are none.
          .catch(() => true);
        if (startsChildren.size >= MAX_REMEMBERED_VERSIONS) startsChildren.delete(startsChildren.keys().next().value!);
        startsChildren.set(versionId, pending);
      }
      void pending.then((yes) => live && setKnown((m) => new Map(m).set(versionId, yes)));
    }
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [org, key]);
  return (job) => known.get(job.workflowVersion.versionId);
}
