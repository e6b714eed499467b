/** Hooks that fetch: pages and components take data, these fetch it. */
import { useCallback, useEffect, useRef, useState } from "react";
import { useLocation } from "react-router";
import { api } from "./client";

export interface Loaded<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload: () => void;
}

/**
 * GETs `path` (nothing while it is null), again every `pollMs` while that is set. A poll keeps the
 * data on screen; a new path clears it.
 */
export function useApi<T>(path: string | null, pollMs = 0): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<Error>();
  const [loading, setLoading] = useState(path !== null);
  const [tick, setTick] = useState(0);
  const shownPath = useRef<string | null>(null);

  useEffect(() => {
    if (path === null) return;
    const ctl = new AbortController();
    if (shownPath.current !== path) {
      shownPath.current = path;
      setData(undefined);
      setLoading(true);
    }
    api<T>(path, { signal: ctl.signal })
      .then((d) => {
        setData(d);
        setError(undefined);
      })
      .catch((e: Error) => {
        if (e.name !== "AbortError") setError(e);
      })
      .finally(() => {
        if (!ctl.signal.aborted) setLoading(false);
      });
    return () => ctl.abort();
  }, [path, tick]);

  useEffect(() => {
    if (!pollMs || path === null) return;
    const t = setInterval(() => setTick((n) => n + 1), pollMs);
    return () => clearInterval(t);
  }, [pollMs, path]);

  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { data, error, loading, reload };
}

/** Names the page in the tab's title: "<what> · Canopy". */
export function useTitle(what: string | undefined): void {
  useEffect(() => {
    document.title = what ? `${what} · Canopy` : "Canopy console";
  }, [what]);
}

/** The time now, ticking every `everyMs` while `live`. */
export function useNow(live: boolean, everyMs = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!live) return;
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [live, everyMs]);
  return live ? now : Date.now();
}

/**
 * The element the address's #hash names, once `ready` (its page's data has arrived): scrolled into
 * view, and returned so the page can mark it. (A single-page app's links do not scroll by themselves.)
 */
export function useHashTarget(ready: boolean): string {
  const { hash } = useLocation();
  const id = decodeURIComponent(hash.slice(1));
  useEffect(() => {
    if (ready && id) document.getElementById(id)?.scrollIntoView({ block: "start" });
  }, [ready, id]);
  return id;
}
