/**
 * AuditLog: one Durable Object per organization, holding its audit log in its own SQLite (never in a
 * database every tenant shares). Writers reach it through src/audit/record.ts; ListAuditLog reads it.
 *
 * - Idempotent: an entry's id is its dedupe key, so an owed entry delivered twice (an alarm that
 *   fires again) is stored once.
 * - Bounded: entries older than AUDIT_RETENTION_MS are deleted by the alarm, AUDIT_PRUNE_BATCH per
 *   pass; a page is at most AUDIT_MAX_PAGE_SIZE entries; a write at most AUDIT_MAX_ENTRIES_PER_WRITE.
 */
import { DurableObject } from "cloudflare:workers";
import { AUDIT_MAX_ENTRIES_PER_WRITE, AUDIT_PENDING_GRACE_MS, AUDIT_PRUNE_BATCH, AUDIT_RETENTION_MS } from "../limits";
import { AuditStore, decodeCursor, type EntryRow } from "./store";
import type { AuditDetail, AuditEntryInput, AuditPage, AuditQuery, AuditTarget } from "./types";

/** The methods of an AuditLog other code may call. */
export interface AuditLogRpc {
  record(entries: AuditEntryInput[]): Promise<void>;
  begin(entry: AuditEntryInput): Promise<void>;
  settle(id: string, outcome: "done" | "discard", patch?: { target?: AuditTarget; detail?: AuditDetail }): Promise<void>;
  list(query: AuditQuery): Promise<{ ok: true; value: AuditPage } | { ok: false; error: string }>;
}

export class AuditLog extends DurableObject<Env> implements AuditLogRpc {
  readonly #store: AuditStore;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#store = new AuditStore(ctx.storage.sql);
  }

  /** Stores entries of actions that happened; an id already stored is kept as it is. */
  async record(entries: AuditEntryInput[]): Promise<void> {
    if (entries.length > AUDIT_MAX_ENTRIES_PER_WRITE) throw new Error(`At most ${AUDIT_MAX_ENTRIES_PER_WRITE} audit entries per write.`);
    this.ctx.storage.transactionSync(() => this.#store.insert(entries, "done"));
    await this.#armPrune();
  }

  /** Stores an entry ahead of its action (src/audit/record.ts `audited`). */
  async begin(entry: AuditEntryInput): Promise<void> {
    this.#store.insert([entry], "pending");
    await this.#armPrune();
  }

  /** The outcome of an action begun: it happened (with what it learnt), or it did not (the entry goes). */
  async settle(id: string, outcome: "done" | "discard", patch?: { target?: AuditTarget; detail?: AuditDetail }): Promise<void> {
    this.ctx.storage.transactionSync(() => this.#store.settle(id, outcome, patch));
  }

  /** A page of the log, newest first; an error for a page token this log did not make. */
  async list(query: AuditQuery): Promise<{ ok: true; value: AuditPage } | { ok: false; error: string }> {
    const cursor = query.pageToken !== undefined ? decodeCursor(query.pageToken) : null;
    if (query.pageToken !== undefined && cursor === null) return { ok: false, error: "pageToken is not one ListAuditLog returned." };
    return { ok: true, value: this.#store.list(query, cursor, Date.now(), AUDIT_PENDING_GRACE_MS) };
  }

  /** Every stored row, as stored (tests search them for values that must never be there). */
  async rawRows(): Promise<EntryRow[]> {
    return this.#store.rawRows();
  }

  /** Arms the alarm for when the oldest entry expires, unless one is set. */
  async #armPrune(): Promise<void> {
    if ((await this.ctx.storage.getAlarm()) !== null) return;
    const oldest = this.#store.oldestAt();
    if (oldest !== undefined) await this.ctx.storage.setAlarm(Math.max(Date.now(), oldest + AUDIT_RETENTION_MS));
  }

  /** Deletes a batch of expired entries, then re-arms: at once while a full batch went, else for the next expiry. */
  override async alarm(): Promise<void> {
    const deleted = this.#store.prune(Date.now() - AUDIT_RETENTION_MS, AUDIT_PRUNE_BATCH);
    if (deleted >= AUDIT_PRUNE_BATCH) {
      await this.ctx.storage.setAlarm(Date.now());
      return;
    }
    const oldest = this.#store.oldestAt();
    if (oldest !== undefined) await this.ctx.storage.setAlarm(Math.max(Date.now(), oldest + AUDIT_RETENTION_MS));
  }
}
