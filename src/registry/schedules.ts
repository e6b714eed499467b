/** The D1 copy of schedules: written by each schedule's Durable Object, read by ListSchedules. */
import { ValidationError } from "../errors";
import type { ScheduleSpec } from "../schedule/spec";

export interface ScheduleRow {
  scheduleId: string;
  spec: ScheduleSpec;
  paused: boolean;
  note?: string;
  createdAt: string;
  updatedAt: string;
}

interface DbRow {
  schedule_id: string;
  organization_id: string;
  workflow_id: string;
  spec: string;
  paused: number;
  note: string | null;
  created_at: string;
  updated_at: string;
}

const toRow = (r: DbRow): ScheduleRow => ({
  scheduleId: r.schedule_id,
  spec: JSON.parse(r.spec) as ScheduleSpec,
  paused: r.paused === 1,
  ...(r.note !== null ? { note: r.note } : {}),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** Writes a schedule's row unless a newer write (a higher `seq`) is already there. */
export async function upsertScheduleIndex(db: D1Database, organizationId: string, row: ScheduleRow, seq: number): Promise<void> {
  await db
    .prepare(
      `INSERT INTO schedules (schedule_id, organization_id, workflow_id, spec, paused, note, created_at, updated_at, index_seq)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
       ON CONFLICT (schedule_id) DO UPDATE SET workflow_id = excluded.workflow_id, spec = excluded.spec,
         paused = excluded.paused, note = excluded.note, updated_at = excluded.updated_at, index_seq = excluded.index_seq
       WHERE excluded.index_seq > schedules.index_seq`,
    )
    .bind(row.scheduleId, organizationId, row.spec.workflowId, JSON.stringify(row.spec), row.paused ? 1 : 0, row.note ?? null, row.createdAt, row.updatedAt, seq)
    .run();
}

/** Removes a deleted schedule's row. */
export async function deleteScheduleIndex(db: D1Database, scheduleId: string): Promise<void> {
  await db.prepare(`DELETE FROM schedules WHERE schedule_id = ?`).bind(scheduleId).run();
}

interface Cursor {
  c: string;
  s: string;
}

function decodeToken(token: string): Cursor {
  try {
    const c = JSON.parse(atob(token.replaceAll("-", "+").replaceAll("_", "/"))) as Cursor;
    if (typeof c.c === "string" && typeof c.s === "string") return c;
  } catch {
    /* fall through */
  }
  throw new ValidationError("pageToken is not a token this API issued.", ["pageToken: invalid"], { pageToken: "invalid" });
}

function encodeToken(c: Cursor): string {
  return btoa(JSON.stringify(c)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** An organization's schedules, oldest first, by keyset pagination on (created_at, schedule_id). */
export async function listSchedules(
  db: D1Database,
  organizationId: string,
  q: { pageSize: number; pageToken?: string; workflowId?: string },
): Promise<{ schedules: ScheduleRow[]; nextPageToken?: string }> {
  const where = ["organization_id = ?"];
  const args: (string | number)[] = [organizationId];
  if (q.workflowId) (where.push("workflow_id = ?"), args.push(q.workflowId));
  if (q.pageToken) {
    const c = decodeToken(q.pageToken);
    where.push("(created_at > ? OR (created_at = ? AND schedule_id > ?))");
    args.push(c.c, c.c, c.s);
  }
  const { results } = await db
    .prepare(`SELECT * FROM schedules WHERE ${where.join(" AND ")} ORDER BY created_at, schedule_id LIMIT ?`)
    .bind(...args, q.pageSize + 1)
    .all<DbRow>();
  const page = results.slice(0, q.pageSize);
  const last = page[page.length - 1];
  return {
    schedules: page.map(toRow),
    ...(results.length > q.pageSize && last ? { nextPageToken: encodeToken({ c: last.created_at, s: last.schedule_id }) } : {}),
  };
}
