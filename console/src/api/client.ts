/**
 * Calls the public HTTP API with the signed-in token, through openapi-fetch typed by the generated
 * openapi.d.ts: a path, its parameters, a body and the answer are all checked against the API's own
 * document. The token lives in sessionStorage, never in a URL.
 */
import createClient, { type Middleware } from "openapi-fetch";
import type { paths } from "./openapi";
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

/** The `authorization` header for a token. */
export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/**
 * Signs each call with the session's token (unless the call brings its own), and ends the session
 * when the API refuses that token: it expired or was revoked while the tab was open.
 */
const auth: Middleware = {
  onRequest({ request }) {
    const token = session.token();
    if (token && !request.headers.has("authorization")) request.headers.set("authorization", `Bearer ${token}`);
    return request;
  },
  async onResponse({ request, response }) {
    const token = session.token();
    if (response.status === 401 && token && request.headers.get("authorization") === `Bearer ${token}`) {
      const body = (await response
        .clone()
        .json()
        .catch(() => ({}))) as Partial<ApiErrorBody>;
      session.end(body.message ?? "The API refused the token.");
    }
    return undefined;
  },
};

/** The typed client: `client.GET("/organizations/{organizationId}/jobs", {params: …})`; wrap its answer in `ok`. */
export const client = createClient<paths>();
client.use(auth);

/**
 * The data of an openapi-fetch answer; an error answer (or no answer) throws its ApiError. An
 * aborted call throws its AbortError, which callers ignore.
 */
export async function ok<T>(pending: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let answer: Awaited<typeof pending>;
  try {
    answer = await pending;
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError(0, "NetworkError", `Canopy did not answer: ${(e as Error).message}`);
  }
  const { data, error, response } = answer;
  if (response.ok) return data as T;
  const body = (typeof error === "object" && error !== null ? error : {}) as Partial<ApiErrorBody>;
  const text = typeof error === "string" ? error.slice(0, 200) : "";
  throw new ApiError(response.status, body.code ?? `HTTP ${response.status}`, body.message ?? (text || response.statusText), body.errors ?? []);
}
