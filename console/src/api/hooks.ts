/** Hooks that fetch: pages and components take data, these fetch it. */
import { useCallback, useEffect, useRef, useState } from "react";
import type { ClientPathsWithMethod, MaybeOptionalInit, MethodResponse } from "openapi-fetch";
import { useLocation } from "react-router";
import { client, ok } from "./client";
import type { paths } from "./openapi";

export interface Loaded<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload: () => void;
}

/** A path the API answers GET on, the parameters it takes, and its answer's data. */
export type GetPath = ClientPathsWithMethod<typeof client, "get">;
export type GetInit<P extends GetPath> = NonNullable<MaybeOptionalInit<paths[P], "get">>;
export type GetData<P extends GetPath> = MethodResponse<typeof client, "get", P>;

/** One GET of `path` with `init`'s parameters, typed by the path; an error answer throws its ApiError. */
export function get<P extends GetPath>(path: P, init: GetInit<P>, signal?: AbortSignal): Promise<GetData<P>> {
  // The client's GET is generic over its own inference of `init`, which a caller generic in P cannot
  // satisfy; P and GetInit<P> above are exactly what it checks, so the call is made untyped.
  const untyped = client.GET as unknown as (url: string, init: object) => Promise<{ data?: GetData<P>; error?: unknown; response: Response }>;
  return ok(untyped(path, { ...init, signal }));
}

/**
 * GETs `path` with `init`'s parameters (nothing while `init` is null), again every `pollMs` while
 * that is set. A poll keeps the data on screen; a new request clears it.
 */
export function useGet<P extends GetPath>(path: P, init: GetInit<P> | null, pollMs = 0): Loaded<GetData<P>> {
  const key = init === null ? null : JSON.stringify([path, init]);
  const [data, setData] = useState<GetData<P>>();
  const [error, setError] = useState<Error>();
  const [loading, setLoading] = useState(key !== null);
  const [tick, setTick] = useState(0);
  const shownKey = useRef<string | null>(null);

  useEffect(() => {
    if (key === null) return;
    const ctl = new AbortController();
    if (shownKey.current !== key) {
      shownKey.current = key;
      setData(undefined);
      setLoading(true);
    }
    const [p, i] = JSON.parse(key) as [P, GetInit<P>];
    get(p, i, ctl.signal)
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
  }, [key, tick]);

  useEffect(() => {
    if (!pollMs || key === null) return;
    const t = setInterval(() => setTick((n) => n + 1), pollMs);
    return () => clearInterval(t);
  }, [pollMs, key]);

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
