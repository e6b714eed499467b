/** Calls the public HTTP API with the signed-in token. The token lives in sessionStorage, never in a URL. */
import type { ApiErrorBody } from "./types";

const TOKEN_KEY = "canopy.token";

/** The window event sent when the API refuses the signed-in token (expired or revoked): `detail` says why. */
export const SESSION_ENDED = "canopy:session-ended";

export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  signIn: (token: string) => sessionStorage.setItem(TOKEN_KEY, token),
  signOut: () => sessionStorage.removeItem(TOKEN_KEY),
  /** Forgets a token the API no longer accepts, and tells the frame to ask for another. */
  end: (why: string) => {
    sessionStorage.removeItem(TOKEN_KEY);
    window.dispatchEvent(new CustomEvent<string>(SESSION_ENDED, { detail: why }));
  },
};

/** An answer in the API's error format (or a network failure, code "NetworkError"). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly errors: string[] = [],
  ) {
    super(message);
  }
}

export interface CallOptions {
  method?: "GET" | "POST" | "PUT" | "DELETE";
  body?: unknown;
  token?: string;
  signal?: AbortSignal;
}

/** One API call; a non-2xx answer throws its ApiError. */
export async function api<T>(path: string, { method = "GET", body, token, signal }: CallOptions = {}): Promise<T> {
  const headers: Record<string, string> = {};
  const bearer = token ?? session.token();
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(0, "NetworkError", `Canopy did not answer: ${(e as Error).message}`);
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    const err = (parsed ?? {}) as Partial<ApiErrorBody>;
    const error = new ApiError(res.status, err.code ?? `HTTP ${res.status}`, err.message ?? (text.slice(0, 200) || res.statusText), err.errors ?? []);
    // The session's own token was refused: it expired or was revoked while the tab was open.
    if (res.status === 401 && token === undefined && bearer !== null) session.end(error.message);
    throw error;
  }
  return parsed as T;
}

/** A query string from the defined values. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}

export const orgPath = (org: string) => `/organizations/${encodeURIComponent(org)}`;
