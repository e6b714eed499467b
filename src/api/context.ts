/** The Hono environment shared by every route: bindings plus who is calling. */
import type { OpenAPIHono } from "@hono/zod-openapi";

export type Caller =
  | { kind: "admin" }
  | {
      kind: "token";
      organizationId: string;
      apiAuthTokenId: string;
      name: string;
      /** The stored list, or null: created without one (src/api/permissions.ts). */
      permissions: string[] | null;
      expiresAt: string | null;
    };

export interface AppEnv {
  Bindings: Env;
  Variables: { caller: Caller };
}

export type App = OpenAPIHono<AppEnv>;

/** The name the API shows as `submittedByUser` for a caller. */
export function callerName(caller: Caller): string {
  return caller.kind === "admin" ? "admin" : `token:${caller.name}`;
}

/** Who submits a job, as its identity keeps it: the caller's name, and its token's id. */
export function submitterOf(caller: Caller): { submittedByUser: string; apiAuthTokenId?: string } {
  return { submittedByUser: callerName(caller), ...(caller.kind === "token" ? { apiAuthTokenId: caller.apiAuthTokenId } : {}) };
}
