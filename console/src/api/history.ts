/**
 * A run's history, read a GetWorkflowState page at a time: the first page at once, the next on
 * `loadMore` (until historyFull), and the last page held again on `reload` (see history-pages.ts).
 * Reads run one after another, so a reload and a "Load more" never race over the same pages.
 */
import { useCallback, useEffect, useRef, useState } from "react";
import { get } from "./hooks";
import { historyFull, withPage, type HeldHistory } from "./history-pages";

export interface History {
  held: HeldHistory | undefined;
  error: Error | undefined;
  /** A page is being read. */
  loading: boolean;
  loadMore: () => void;
  reload: () => void;
}

/** The history of run `runNumber` of a job (nothing until the run is known). */
export function useHistory(org: string, jobId: string, runNumber: number | undefined): History {
  const [held, setHeld] = useState<HeldHistory>();
  const [error, setError] = useState<Error>();
  const [loading, setLoading] = useState(false);
  const heldRef = useRef<HeldHistory>(undefined);
  const chain = useRef<Promise<void>>(Promise.resolve());
  // Bumped when the run changes (or the page goes): reads queued before then are dropped.
  const generation = useRef(0);
  const run = runNumber === undefined ? null : { org, jobId, runNumber };
  const key = run && JSON.stringify(run);
  const runRef = useRef(run);
  runRef.current = run;

  const enqueue = useCallback((kind: "more" | "refresh") => {
    const g = generation.current;
    chain.current = chain.current.then(async () => {
      const r = runRef.current;
      const h = heldRef.current;
      if (g !== generation.current || !r) return;
      if (kind === "more" && (!h?.next || historyFull(h))) return;
      const token = kind === "more" ? h?.next : h?.tailToken;
      setLoading(true);
      try {
        const page = await get("/organizations/{organizationId}/jobs/{jobId}/state", {
          params: { path: { organizationId: r.org, jobId: r.jobId }, query: { runNumber: r.runNumber, ...(token !== undefined ? { pageToken: token } : {}) } },
        });
        if (g !== generation.current) return;
        heldRef.current = withPage(h, page, token, kind);
        setHeld(heldRef.current);
        setError(undefined);
      } catch (e) {
        if (g === generation.current) setError(e as Error);
      } finally {
        if (g === generation.current) setLoading(false);
      }
    });
  }, []);

  useEffect(() => {
    heldRef.current = undefined;
    setHeld(undefined);
    setError(undefined);
    if (key !== null) enqueue("refresh");
    return () => {
      generation.current += 1;
      setLoading(false);
    };
  }, [key, enqueue]);

  const loadMore = useCallback(() => enqueue("more"), [enqueue]);
  const reload = useCallback(() => enqueue("refresh"), [enqueue]);
  return { held, error, loading, loadMore, reload };
}
