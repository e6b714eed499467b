/**
 * Bearer-token auth. The admin token is the `ADMIN_TOKEN` secret; organization tokens are looked
 * up by their SHA-256 hash. Both `Bearer <t>` and a bare `<t>` are accepted (the JustWorkflowIt
 * client sends the bare form).
 */
import type { Context, MiddlewareHandler } from "hono";
import { AuthenticationError, AuthorizationError } from "../errors";
import { constantTimeEqual, sha256Hex } from "../crypto/hash";
import { findTokenByHash } from "../registry/tokens";
import type { AppEnv, Caller } from "./context";

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
  const adminToken = c.env.ADMIN_TOKEN;
  if (adminToken && (await constantTimeEqual(token, adminToken))) {
    c.set("caller", { kind: "admin" });
    return next();
  }
  const hash = await sha256Hex(token);
  const found = await findTokenByHash(c.env.DB, hash, Date.now());
  // The lookup is by hash; the final comparison is constant-time all the same.
  if (!found || !(await constantTimeEqual(found.tokenHash, hash))) {
    throw new AuthenticationError("Unknown, revoked or expired token.");
  }
  c.set("caller", {
    kind: "token",
    organizationId: found.organizationId,
    apiAuthTokenId: found.apiAuthTokenId,
    name: found.name,
  });
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
