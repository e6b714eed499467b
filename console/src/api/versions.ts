/**
 * A workflow's versions for a picker. ListWorkflowVersions lists them oldest first, at most 100 a
 * page (and fewer when their definitions are long): the first page is read at once, each further one
 * when the user asks for it, so a workflow with thousands of versions is never read whole.
 */
import { useCallback, useEffect, useState } from "react";
import { get } from "./hooks";
import type { ListedVersion } from "./types";

export interface VersionPages {
  /** The versions read so far, newest first. */
  versions: ListedVersion[];
  /** More (newer) versions are left to read. */
  more: boolean;
  loadMore: () => void;
  loading: boolean;
  error: Error | undefined;
}

/** Pages in the versions of `workflowId` (nothing while it is undefined). */
export function useWorkflowVersions(org: string, workflowId: string | undefined): VersionPages {
  const [read, setRead] = useState<{ versions: ListedVersion[]; next?: string }>({ versions: [] });
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<Error>();

  const load = useCallback(
    (pageToken: string | undefined, signal?: AbortSignal) => {
      if (!workflowId) return;
      setLoading(true);
      get("/organizations/{organizationId}/workflows/{workflowId}/versions", { params: { path: { organizationId: org, workflowId }, query: { pageToken } } }, signal)
        .then((page) => {
          setRead((r) => ({ versions: [...(pageToken ? r.versions : []), ...page.versions], next: page.nextPageToken }));
          setError(undefined);
        })
        .catch((e: Error) => e.name !== "AbortError" && setError(e))
        .finally(() => !signal?.aborted && setLoading(false));
    },
    [org, workflowId],
  );

  useEffect(() => {
    const ctl = new AbortController();
    setRead({ versions: [] });
    load(undefined, ctl.signal);
    return () => ctl.abort();
  }, [load]);

  const versions = [...read.versions].sort((a, b) => b.versionNumber - a.versionNumber);
  return { versions, more: read.next !== undefined, loadMore: () => read.next && !loading && load(read.next), loading, error };
}
