/**
 * Bearer-token auth and permissions. The admin token is the `ADMIN_TOKEN` secret; organization
 * tokens are looked up by their SHA-256 hash. Both `Bearer <t>` and a bare `<t>` are accepted (the
 * JustWorkflowIt client sends the bare form). `authorize` then checks the route's permission
 * (src/api/permissions.ts) before any handler runs.
 */
import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import { AuthenticationError, AuthorizationError, NotFoundError } from "../errors";
import { digestsEqual, sha256Hex } from "../crypto/hash";
import { organizationIsLive } from "../registry/organizations";
import { findTokenByHash } from "../registry/tokens";
import type { AppEnv, Caller } from "./context";
import { ADMIN_PERMISSIONS, FOREIGN_PERMISSIONS, grantedBy, requirementOf } from "./permissions";

/**
 * The admin token's hash, kept per isolate once computed (again only if the secret changes). The
 * value is kept, not the promise: a request must not await a promise another request settles.
 */
let adminHash: { token: string; hash: string } | undefined;
async function adminTokenHash(adminToken: string): Promise<string> {
  if (adminHash?.token === adminToken) return adminHash.hash;
  const hash = await sha256Hex(adminToken);
  adminHash = { token: adminToken, hash };
  return hash;
}

function tokenFrom(header: string | undefined): string | null {
  if (!header) return null;
  const trimmed = header.trim();
  const token = /^bearer\s+/i.test(trimmed) ? trimmed.replace(/^bearer\s+/i, "") : trimmed;
  return token.length > 0 && token.length <= 512 ? token : null;
}

/** Identifies the caller or answers 401. */
export const authenticate: MiddlewareHandler<AppEnv> = async (c, next) => {
  const token = tokenFrom(c.req.header("authorization"));
  if (!token) throw new AuthenticationError("Missing Authorization header.");
  // One digest per request: the admin token is compared by its hash (kept per isolate), and an
  // organization's token is looked up by it.
  const hash = await sha256Hex(token);
  const adminToken = c.env.ADMIN_TOKEN;
  if (adminToken && digestsEqual(hash, await adminTokenHash(adminToken))) {
    c.set("caller", { kind: "admin" });
    return next();
  }
  const found = await findTokenByHash(c.env.DB, hash, Date.now());
  // The lookup is by hash; the final comparison is constant-time all the same.
  if (!found || !digestsEqual(found.tokenHash, hash)) {
    throw new AuthenticationError("Unknown, revoked or expired token.");
  }
  c.set("caller", {
    kind: "token",
    organizationId: found.organizationId,
    apiAuthTokenId: found.apiAuthTokenId,
    name: found.name,
    permissions: found.permissions,
    expiresAt: found.expiresAt,
  });
  return next();
};

/** The permissions a caller has: every one for the admin, the stored list or the defaults for a token. */
export function permissionsOf(caller: Caller): ReadonlySet<string> {
  return caller.kind === "admin" ? new Set(ADMIN_PERMISSIONS) : grantedBy(caller.permissions);
}

/** Throws 403 naming the permission unless the caller has it. */
export function requirePermission(caller: Caller, permission: string): void {
  if (!permissionsOf(caller).has(permission)) {
    throw new AuthorizationError(`This token lacks the permission "${permission}".`, [`missing permission: ${permission}`]);
  }
}

/** The `{organizationId}` segment of a path under /organizations, if any. */
function organizationIdIn(path: string): string | undefined {
  const match = /^\/organizations\/([^/]+)/.exec(path);
  if (!match) return undefined;
  try {
    return decodeURIComponent(match[1]!);
  } catch {
    return match[1]; // malformed escapes name no organization: refused below like any other unknown id
  }
}

/**
 * Checks, before any handler runs, that the caller may call this route: the route's permission
 * (an unmapped route is refused to every token: fail closed), the organization the path names (a
 * token acts only on its own; for the admin token it must exist and not be deleted). A path no
 * route matches goes on to the 404 UnknownOperation answer.
 */
export const authorize: MiddlewareHandler<AppEnv> = async (c, next) => {
  const route = matchedRoutes(c).find((r) => r.method !== "ALL");
  if (!route) return next();
  const caller = c.get("caller");
  const organizationId = organizationIdIn(c.req.path);
  if (organizationId !== undefined) {
    if (caller.kind === "token" && caller.organizationId !== organizationId) throw new AuthorizationError();
    if (caller.kind === "admin" && !(await organizationIsLive(c.env.DB, organizationId))) {
      throw new NotFoundError(`Organization ${organizationId} was not found.`);
    }
  }
  const requirement = requirementOf(route.method, route.path);
  if (requirement === "authenticated") return next();
  if (requirement === "admin") {
    requireAdmin(c);
    return next();
  }
  if (requirement === undefined) {
    if (caller.kind === "admin") return next();
    throw new AuthorizationError(`${route.method} ${route.path} has no permission mapped to it, so no API token may call it.`);
  }
  requirePermission(caller, requirement);
  return next();
};

/** Throws 403 unless the caller may act on this organization. */
export function requireOrganization(c: Context<AppEnv>, organizationId: string): Caller {
  const caller = c.get("caller");
  if (caller.kind === "token" && caller.organizationId !== organizationId) throw new AuthorizationError();
  return caller;
}

/** Throws 403 unless the caller is the admin. */
export function requireAdmin(c: Context<AppEnv>): void {
  if (c.get("caller").kind !== "admin") throw new AuthorizationError("Only the admin token may do this.");
}

/**
 * Throws 403 unless a token the caller mints or changes stays within the caller's own bounds:
 * no permission the caller lacks (the client's permissions that grant nothing here excepted), no
 * expiry later than the caller's own (`expiresAt` undefined: not being set). The admin token has no bounds.
 */
export function requireWithinBounds(caller: Caller, wanted: { permissions?: readonly string[]; expiresAt?: string }): void {
  if (caller.kind === "admin") return;
  if (wanted.permissions) {
    const held = permissionsOf(caller);
    const lacking = wanted.permissions.filter((p) => !held.has(p) && !(FOREIGN_PERMISSIONS as readonly string[]).includes(p));
    if (lacking.length > 0) {
      throw new AuthorizationError(
        `A token cannot grant permissions it lacks: ${lacking.map((p) => `"${p}"`).join(", ")}.`,
        lacking.map((p) => `missing permission: ${p}`),
      );
    }
  }
  if (caller.expiresAt !== null && wanted.expiresAt !== undefined && Date.parse(wanted.expiresAt) > Date.parse(caller.expiresAt)) {
    throw new AuthorizationError(`A token cannot give a token a later expiry than its own (${caller.expiresAt}).`);
  }
}

/**
 * Throws 403 unless the token a change would leave (`result`: its whole permissions and expiry
 * after the change, not only the fields the request names) stays within the caller's bounds: every
 * permission it would hold is one the caller has, and it expires no later than the caller does. A
 * request that names only some fields is judged by what the token keeps of the rest: an hour-long
 * token may not hand its permissions to an everlasting one, nor extend the life of a token that
 * holds permissions it lacks.
 */
export function requireTokenWithinBounds(caller: Caller, result: { permissions: readonly string[] | null; expiresAt: string | null }): void {
  if (caller.kind === "admin") return;
  const held = permissionsOf(caller);
  const lacking = [...grantedBy(result.permissions)].filter((p) => !held.has(p) && !(FOREIGN_PERMISSIONS as readonly string[]).includes(p));
  if (lacking.length > 0) {
    throw new AuthorizationError(
      `The token would hold permissions this token lacks: ${lacking.map((p) => `"${p}"`).join(", ")}. A token can change only a token it could have created.`,
      lacking.map((p) => `missing permission: ${p}`),
    );
  }
  if (caller.expiresAt === null) return;
  if (result.expiresAt === null) {
    throw new AuthorizationError(`The token would never expire, and this token expires at ${caller.expiresAt}: give it an expiresAt no later than that.`);
  }
  if (Date.parse(result.expiresAt) > Date.parse(caller.expiresAt)) {
    throw new AuthorizationError(`A token cannot give a token a later expiry than its own (${caller.expiresAt}).`);
  }
}
