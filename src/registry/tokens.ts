/** D1 access for organization API tokens. Only SHA-256 hashes are stored. */
import { ConflictError, NotFoundError } from "../errors";
import { MAX_API_TOKENS_PER_ORGANIZATION } from "../limits";
import { randomToken, sha256Hex } from "../crypto/hash";
import { isoTime, newId } from "../ids";
import { REGISTRY_CACHE_MS, TtlCache } from "./ttl-cache";

export interface ApiAuthToken {
  apiAuthTokenId: string;
  name: string;
  createdAt: string;
  expiresAt?: string;
  /** The stored list; absent: created without one (src/api/permissions.ts says what that grants). */
  permissions?: string[];
}

interface TokenRow {
  api_auth_token_id: string;
  organization_id: string;
  name: string;
  token_hash: string;
  permissions: string | null;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
}

function toToken(row: TokenRow): ApiAuthToken {
  return {
    apiAuthTokenId: row.api_auth_token_id,
    name: row.name,
    createdAt: row.created_at,
    ...(row.expires_at ? { expiresAt: row.expires_at } : {}),
    ...(row.permissions ? { permissions: JSON.parse(row.permissions) as string[] } : {}),
  };
}

/** Prefix that makes a Canopy token recognisable in logs and secret scanners. */
const TOKEN_PREFIX = "cnp_";

/** Creates a token and returns it once in clear; only its hash is kept. */
export async function createApiToken(
  db: D1Database,
  organizationId: string,
  input: { name: string; expiresAt?: string; permissions?: string[] },
  now: number,
): Promise<ApiAuthToken & { token: string }> {
  const token = TOKEN_PREFIX + randomToken(32);
  // At most MAX_API_TOKENS_PER_ORGANIZATION unrevoked tokens (ListApiAuthTokens lists them all),
  // counted in the same statement.
  const row = await db
    .prepare(
      `INSERT INTO api_tokens (api_auth_token_id, organization_id, name, token_hash, permissions, created_at, expires_at)
       SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 WHERE (SELECT count(*) FROM api_tokens WHERE organization_id = ?2 AND revoked_at IS NULL) < ?8
       RETURNING *`,
    )
    .bind(
      newId(),
      organizationId,
      input.name,
      await sha256Hex(token),
      input.permissions ? JSON.stringify(input.permissions) : null,
      isoTime(now),
      input.expiresAt ?? null,
      MAX_API_TOKENS_PER_ORGANIZATION,
    )
    .first<TokenRow>();
  if (!row) throw new ConflictError(`An organization has at most ${MAX_API_TOKENS_PER_ORGANIZATION} API tokens that are not revoked; revoke one first.`);
  return { ...toToken(row), token };
}

/** One live (unrevoked) token of this organization, without its secret, or NotFoundError. */
export async function getApiToken(db: D1Database, organizationId: string, tokenId: string): Promise<ApiAuthToken> {
  const row = await db
    .prepare(`SELECT * FROM api_tokens WHERE api_auth_token_id = ? AND organization_id = ? AND revoked_at IS NULL`)
    .bind(tokenId, organizationId)
    .first<TokenRow>();
  if (!row) throw new NotFoundError(`API token ${tokenId} was not found.`);
  return toToken(row);
}

/** A token's stored permissions and expiry: null for a token without a list, or one that never expires. */
export interface TokenBounds {
  permissions: string[] | null;
  expiresAt: string | null;
}

/** The stored bounds of one live token, for a change to be checked against what it would leave. */
export function boundsOf(token: ApiAuthToken): TokenBounds {
  return { permissions: token.permissions ?? null, expiresAt: token.expiresAt ?? null };
}

/**
 * Replaces a live token's permissions and expiry with `next`, only if they are still `expected`
 * (what the caller read and checked): null when the token changed meanwhile, so a change is never
 * judged on a token that is no longer there. NotFoundError when the token is not live.
 */
export async function updateApiTokenIfUnchanged(
  db: D1Database,
  organizationId: string,
  tokenId: string,
  next: TokenBounds,
  expected: TokenBounds,
): Promise<ApiAuthToken | null> {
  const json = (p: string[] | null) => (p ? JSON.stringify(p) : null);
  const row = await db
    .prepare(
      `UPDATE api_tokens SET permissions = ?, expires_at = ?
       WHERE api_auth_token_id = ? AND organization_id = ? AND revoked_at IS NULL AND permissions IS ? AND expires_at IS ? RETURNING *`,
    )
    .bind(json(next.permissions), next.expiresAt, tokenId, organizationId, json(expected.permissions), expected.expiresAt)
    .first<TokenRow>();
  forgetToken(tokenId);
  if (row) return toToken(row);
  await getApiToken(db, organizationId, tokenId); // NotFoundError when it is gone
  return null;
}

/** Lists an organization's live (unrevoked) tokens, without secrets. */
export async function listApiTokens(db: D1Database, organizationId: string): Promise<ApiAuthToken[]> {
  const { results } = await db
    .prepare(
      `SELECT * FROM api_tokens WHERE organization_id = ? AND revoked_at IS NULL ORDER BY created_at, api_auth_token_id`,
    )
    .bind(organizationId)
    .all<TokenRow>();
  return results.map(toToken);
}

/** Revokes a token of this organization, or throws NotFoundError. */
export async function revokeApiToken(db: D1Database, organizationId: string, tokenId: string, now: number): Promise<void> {
  const result = await db
    .prepare(
      `UPDATE api_tokens SET revoked_at = ? WHERE api_auth_token_id = ? AND organization_id = ? AND revoked_at IS NULL`,
    )
    .bind(isoTime(now), tokenId, organizationId)
    .run();
  forgetToken(tokenId);
  if (result.meta.changes === 0) throw new NotFoundError(`API token ${tokenId} was not found.`);
}

/**
 * Live tokens by hash, for at most REGISTRY_CACHE_MS and never past their expiry: a revoke through
 * another isolate takes effect here within that bound, one through this isolate at once.
 * Unknown hashes are not cached, so a token used right after its creation always works.
 */
const liveTokens = new TtlCache<TokenIdentity>(REGISTRY_CACHE_MS, 1_000);

/** Drops a token from this isolate's cache (after a revoke or an update through this isolate). */
export function forgetToken(tokenId: string): void {
  liveTokens.deleteWhere((t) => t.apiAuthTokenId === tokenId);
}

/** Drops every token of an organization from this isolate's cache (after its deletion). */
export function forgetOrganizationTokens(organizationId: string): void {
  liveTokens.deleteWhere((t) => t.organizationId === organizationId);
}

export interface TokenIdentity {
  apiAuthTokenId: string;
  organizationId: string;
  name: string;
  tokenHash: string;
  /** The stored list, or null when the token was created without one. */
  permissions: string[] | null;
  expiresAt: string | null;
}

/** Finds the live token with this hash, or null if unknown, revoked, expired or of a deleted organization. */
export async function findTokenByHash(db: D1Database, tokenHash: string, now: number): Promise<TokenIdentity | null> {
  const cached = liveTokens.get(tokenHash, now);
  if (cached) return cached;
  const row = await db
    .prepare(
      `SELECT t.* FROM api_tokens t JOIN organizations o ON o.organization_id = t.organization_id AND o.deleted_at IS NULL
       WHERE t.token_hash = ? AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?)`,
    )
    .bind(tokenHash, isoTime(now))
    .first<TokenRow>();
  if (!row) return null;
  const identity: TokenIdentity = {
    apiAuthTokenId: row.api_auth_token_id,
    organizationId: row.organization_id,
    name: row.name,
    tokenHash: row.token_hash,
    permissions: row.permissions ? (JSON.parse(row.permissions) as string[]) : null,
    expiresAt: row.expires_at,
  };
  liveTokens.set(tokenHash, identity, now, row.expires_at ? Date.parse(row.expires_at) : Infinity);
  return identity;
}

/** The statement that revokes every live token of an organization (run in DeleteOrganization's batch). */
export function revokeAllTokensStatement(db: D1Database, organizationId: string, now: number): D1PreparedStatement {
  return db.prepare(`UPDATE api_tokens SET revoked_at = ? WHERE organization_id = ? AND revoked_at IS NULL`).bind(isoTime(now), organizationId);
}
