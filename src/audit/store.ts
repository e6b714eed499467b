/**
 * All SQL of an organization's AuditLog Durable Object (src/audit/audit-log.ts): one `entry` row per
 * action, and a schema version that is read back on wake.
 *
 * An entry is `done` (the action happened: written after it, or settled by it) or `pending` (written
 * ahead of an action whose outcome has not come back yet: shown as `outcome: "unknown"` once
 * AUDIT_PENDING_GRACE_MS has passed, and never if the action reports that it did not happen).
 */
import { isoTime } from "../ids";
import { AUDIT_MAX_DETAIL_BYTES } from "../limits";
import type { AuditAction, AuditDetail, AuditEntryInput, AuditEntryView, AuditPage, AuditQuery, AuditTarget } from "./types";

const SCHEMA_VERSION = 1;

/** The columns of `entry`. */
export type EntryRow = {
  id: string;
  at: number;
  action: AuditAction;
  actor_type: "admin" | "token";
  actor_token_id: string | null;
  target_type: string;
  target_id: string;
  detail: string | null;
  state: "done" | "pending";
};

/** A page token: the (at, id) of the last entry shown, so the next page starts after it. */
type Cursor = [at: number, id: string];

export function encodeCursor(c: Cursor): string {
  return btoa(JSON.stringify(c)).replace(/=+$/, "");
}

/** The cursor a page token holds, or null when it is not one this log made. */
export function decodeCursor(token: string): Cursor | null {
  try {
    const c: unknown = JSON.parse(atob(token));
    if (Array.isArray(c) && c.length === 2 && Number.isSafeInteger(c[0]) && typeof c[1] === "string") return c as Cursor;
  } catch {
    /* not a token of ours */
  }
  return null;
}

/** `detail` as stored: JSON within AUDIT_MAX_DETAIL_BYTES, or a note saying it was left out. */
function detailColumn(detail: AuditDetail | undefined): string | null {
  if (detail === undefined) return null;
  const text = JSON.stringify(detail);
  if (new TextEncoder().encode(text).byteLength <= AUDIT_MAX_DETAIL_BYTES) return text;
  return JSON.stringify({ omitted: `The detail was over ${AUDIT_MAX_DETAIL_BYTES} bytes.` });
}

function toView(r: EntryRow, now: number, graceMs: number): AuditEntryView {
  let detail = r.detail !== null ? (JSON.parse(r.detail) as AuditDetail) : undefined;
  // A write-ahead entry whose action never reported back: it may or may not have happened.
  if (r.state === "pending" && r.at < now - graceMs) detail = { ...detail, outcome: "unknown" };
  return {
    at: isoTime(r.at),
    actor: r.actor_type === "admin" ? { type: "admin" } : { type: "token", apiAuthTokenId: r.actor_token_id ?? "" },
    action: r.action,
    target: { type: r.target_type, id: r.target_id },
    ...(detail !== undefined ? { detail } : {}),
  };
}

export class AuditStore {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`);
    const stored = sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'schema'`).toArray()[0]?.value;
    if (stored !== undefined && Number(stored) > SCHEMA_VERSION) {
      throw new Error(`The audit log's schema is version ${stored}, newer than this code's ${SCHEMA_VERSION}.`);
    }
    sql.exec(`CREATE TABLE IF NOT EXISTS entry (
        id TEXT PRIMARY KEY, at INTEGER NOT NULL, action TEXT NOT NULL, actor_type TEXT NOT NULL, actor_token_id TEXT,
        target_type TEXT NOT NULL, target_id TEXT NOT NULL, detail TEXT, state TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS entry_at ON entry (at, id);
      CREATE INDEX IF NOT EXISTS entry_action ON entry (action, at, id);
      CREATE INDEX IF NOT EXISTS entry_target ON entry (target_id, at, id)`);
    sql.exec(`INSERT INTO meta (key, value) VALUES ('schema', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, String(SCHEMA_VERSION));
  }

  /** Stores entries; an id already stored is left as it is (a retried delivery). */
  insert(entries: AuditEntryInput[], state: EntryRow["state"]): void {
    for (const e of entries) {
      this.sql.exec(
        `INSERT INTO entry (id, at, action, actor_type, actor_token_id, target_type, target_id, detail, state)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
        e.id,
        e.at,
        e.action,
        e.actor.type,
        e.actor.type === "token" ? e.actor.apiAuthTokenId : null,
        e.target.type,
        e.target.id,
        detailColumn(e.detail),
        state,
      );
    }
  }

  /** A pending entry's outcome: kept as done (with what the action learnt: its target, more detail), or removed. */
  settle(id: string, outcome: "done" | "discard", patch: { target?: AuditTarget; detail?: AuditDetail } = {}): void {
    if (outcome === "discard") {
      this.sql.exec(`DELETE FROM entry WHERE id = ? AND state = 'pending'`, id);
      return;
    }
    const row = this.sql.exec<EntryRow>(`SELECT * FROM entry WHERE id = ?`, id).toArray()[0];
    if (!row) return;
    const detail = patch.detail !== undefined ? { ...(row.detail !== null ? (JSON.parse(row.detail) as AuditDetail) : {}), ...patch.detail } : undefined;
    this.sql.exec(
      `UPDATE entry SET state = 'done', target_type = ?, target_id = ?, detail = coalesce(?, detail) WHERE id = ?`,
      patch.target?.type ?? row.target_type,
      patch.target?.id ?? row.target_id,
      detailColumn(detail),
      id,
    );
  }

  /** One page, newest first. Pending entries younger than `graceMs` are not shown yet. */
  list(q: AuditQuery, cursor: Cursor | null, now: number, graceMs: number): AuditPage {
    const where = [`(state = 'done' OR at < ?)`];
    const args: (string | number)[] = [now - graceMs];
    if (q.action !== undefined) (where.push(`action = ?`), args.push(q.action));
    if (q.targetId !== undefined) (where.push(`target_id = ?`), args.push(q.targetId));
    if (cursor) (where.push(`(at < ? OR (at = ? AND id < ?))`), args.push(cursor[0], cursor[0], cursor[1]));
    const rows = this.sql
      .exec<EntryRow>(`SELECT * FROM entry WHERE ${where.join(" AND ")} ORDER BY at DESC, id DESC LIMIT ?`, ...args, q.pageSize + 1)
      .toArray();
    const shown = rows.slice(0, q.pageSize);
    const last = shown[shown.length - 1];
    return {
      entries: shown.map((r) => toView(r, now, graceMs)),
      ...(rows.length > q.pageSize && last ? { nextPageToken: encodeCursor([last.at, last.id]) } : {}),
    };
  }

  /** Deletes up to `limit` entries older than `before`; how many it deleted. */
  prune(before: number, limit: number): number {
    return this.sql.exec(`DELETE FROM entry WHERE id IN (SELECT id FROM entry WHERE at < ? ORDER BY at LIMIT ?) RETURNING id`, before, limit).toArray().length;
  }

  /** The time of the oldest entry, if any. */
  oldestAt(): number | undefined {
    return this.sql.exec<{ at: number | null }>(`SELECT min(at) AS at FROM entry`).toArray()[0]?.at ?? undefined;
  }

  /** Every stored row (tests search them for values that must never be stored). */
  rawRows(): EntryRow[] {
    return this.sql.exec<EntryRow>(`SELECT * FROM entry`).toArray();
  }
}
