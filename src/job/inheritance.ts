/**
 * What a run passes to the run that continues it, on both sides, in bounded batches. The old run
 * reads its rows as stored (execution data with its references, the child rows those references
 * read, unused events); the new run writes them as they came, idempotently (a batch received twice
 * writes the same rows), keeping its cursor in the same commit, before it takes its first step.
 * So a rollover never assembles a fan-out's results, its messages stay within a batch, and a new
 * run that crashes half-way goes on from where its last commit left it.
 *
 * Why copy rather than point into the old run: the engine reads a run's rows synchronously, and the
 * old run deletes its storage RUN_RETENTION_MS after it hands over.
 */
import type { Continuation, EngineEvent } from "../engine/types";
import type { InheritanceBatch, InheritanceCursor, InheritedEntry } from "./messages";
import type { ChildTable } from "./child-rows";
import type { SqlTables } from "./sql-tables";
import { REF_TAG } from "./stored-tags";
import type { TimeTravelRows } from "./time-travel-rows";

/** Where a new run starts receiving. */
export const INHERITANCE_START: InheritanceCursor = { phase: "data", after: "" };

/** The first event a continued run applies once it holds its inheritance (cancel, reject or start; `at` is set then). */
export type FirstEvent = Extract<EngineEvent, { type: "start" | "reject" | "cancel" }>;

/** A continued run's pending inheritance: where it comes from, how far it got, and what it does once it has it. */
export interface PendingInheritance {
  fromRun: number;
  cursor: InheritanceCursor | null;
  first: FirstEvent;
  /**
   * A run that inherits all its predecessor's data keeps what it started with once it has it all,
   * and the step that ran before (time-travel-rows.ts): a rerun of the run may need a value its
   * steps overwrite.
   */
  keepStart?: { previousStepName?: string };
}

/** The old run's side: reads its rows for the run that continues it. */
export class InheritanceSource {
  constructor(
    private readonly t: SqlTables,
    private readonly children: ChildTable,
  ) {}

  /**
   * The next batch after `cursor` of what `carry` passes on: at most `maxBytes` (at least one
   * entry), each row read whole only once it is known to fit.
   */
  batch(carry: Continuation["carry"], cursor: InheritanceCursor, maxBytes: number): InheritanceBatch {
    const entries: InheritedEntry[] = [];
    let bytes = 0;
    /** Whether a row of `n` bytes may join the batch. */
    const fits = (n: number) => entries.length === 0 || bytes + n <= maxBytes;
    let { phase, after } = cursor;
    if (phase === "data") {
      for (const { key, n } of this.dataSizes(carry, after)) {
        if (!fits(n)) return { entries, next: { phase, after } };
        entries.push({ kind: "data", key, text: this.dataText(carry, key) });
        bytes += n;
        after = key;
      }
      [phase, after] = ["child", ""];
    }
    if (phase === "child") {
      for (const { job_id, n } of this.children.sizesOf(this.references(carry), after)) {
        if (!fits(n)) return { entries, next: { phase, after } };
        entries.push({ kind: "child", row: this.children.stored(job_id) });
        bytes += n;
        after = job_id;
      }
      [phase, after] = ["event", ""];
    }
    const events = this.t.has("event")
      ? this.t.sql
          .exec<{ event_id: string; n: number }>(`SELECT event_id, LENGTH(CAST(payload AS BLOB)) + 200 AS n FROM event WHERE consumed = 0 AND event_id > ? ORDER BY event_id`, after)
          .toArray()
      : [];
    for (const { event_id, n } of events) {
      if (!fits(n)) return { entries, next: { phase: "event", after } };
      const e = this.t.sql.exec<{ payload: string; received_at: number }>(`SELECT payload, received_at FROM event WHERE event_id = ?`, event_id).one();
      entries.push({ kind: "event", eventId: event_id, payload: e.payload, receivedAt: e.received_at });
      bytes += n;
      after = event_id;
    }
    return { entries, next: null };
  }

  /** The data rows passed on after `after`, by the key the new run stores them under, with their sizes. */
  private dataSizes(carry: Continuation["carry"], after: string): { key: string; n: number }[] {
    if (!this.t.has("data")) return [];
    if (carry !== "all") {
      // An explicit continueAsNew passes one value on, as the new run's workflowInput.
      if (after !== "") return [];
      const row = this.t.sql.exec<{ n: number }>(`SELECT LENGTH(CAST(value AS BLOB)) AS n FROM data WHERE key = ?`, carry.workflowInputFrom).toArray()[0];
      return row ? [{ key: "workflowInput", n: row.n }] : [];
    }
    return this.t.sql.exec<{ key: string; n: number }>(`SELECT key, LENGTH(CAST(value AS BLOB)) AS n FROM data WHERE key > ? ORDER BY key`, after).toArray();
  }

  private dataText(carry: Continuation["carry"], key: string): string {
    const source = carry === "all" ? key : carry.workflowInputFrom;
    return this.t.sql.exec<{ value: string }>(`SELECT value FROM data WHERE key = ?`, source).one().value;
  }

  /** The (step, attempt) pairs whose children the passed-on references read. */
  private references(carry: Continuation["carry"]): [string, number][] {
    if (!this.t.has("data")) return [];
    const texts =
      carry === "all"
        ? this.t.sql.exec<{ value: string }>(`SELECT value FROM data WHERE substr(value, 1, 1) = ?`, REF_TAG).toArray()
        : this.t.sql.exec<{ value: string }>(`SELECT value FROM data WHERE key = ? AND substr(value, 1, 1) = ?`, carry.workflowInputFrom, REF_TAG).toArray();
    const pairs = new Map<string, [string, number]>();
    for (const { value } of texts) {
      const { stepName, attempt } = (JSON.parse(value.slice(1)) as { children: { stepName: string; attempt: number } }).children;
      pairs.set(`${stepName}\u0000${attempt}`, [stepName, attempt]);
    }
    return [...pairs.values()];
  }
}

/** The new run's side: its pending inheritance, and the rows it receives. */
export class InheritanceSink {
  constructor(
    private readonly t: SqlTables,
    private readonly children: ChildTable,
    private readonly timeTravel: TimeTravelRows,
  ) {}

  /** The run's pending inheritance, or null once it has all it inherits (or inherits nothing). */
  pending(): PendingInheritance | null {
    if (!this.t.has("meta")) return null;
    const row = this.t.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'inheritance'`).toArray()[0];
    return row ? (JSON.parse(row.value) as PendingInheritance) : null;
  }

  /** Records (inside the caller's transaction) what the run is to receive, or, with null, that it has it all. */
  setPending(pending: PendingInheritance | null): void {
    this.t.ensure("meta");
    if (pending === null) this.t.sql.exec(`DELETE FROM meta WHERE key = 'inheritance'`);
    else this.t.sql.exec(`INSERT OR REPLACE INTO meta (key, value) VALUES ('inheritance', ?)`, JSON.stringify(pending));
  }

  /**
   * The run has all it inherits (inside the transaction of its first decision, before that decision
   * writes anything): nothing is pending any more, and a run that inherited everything keeps what it
   * started with now, its references reading the child rows it received.
   */
  complete(pending: PendingInheritance): void {
    this.setPending(null);
    if (pending.keepStart) this.timeTravel.keepStartData(pending.keepStart.previousStepName);
  }

  /**
   * Writes a batch of inherited rows (inside the caller's transaction); a batch written twice changes
   * nothing. One statement per row, its values bound as they are: a value of up to 1 MiB escaped
   * into a JSON array could pass the 2 MB a SQLite string may have on Cloudflare.
   */
  write(entries: InheritedEntry[]): void {
    for (const e of entries) {
      switch (e.kind) {
        case "data":
          this.t.ensure("data");
          this.t.sql.exec(`INSERT OR REPLACE INTO data (key, value) VALUES (?, ?)`, e.key, this.t.checked(e.text, `Execution data "${e.key}"`));
          break;
        case "child":
          this.children.writeStored([e.row]);
          break;
        case "event":
          this.t.ensure("event");
          this.t.sql.exec(
            `INSERT OR IGNORE INTO event (event_id, payload, received_at, consumed) VALUES (?, ?, ?, 0)`,
            e.eventId,
            this.t.checked(e.payload, `The payload of event "${e.eventId}"`),
            e.receivedAt,
          );
          break;
      }
    }
  }
}
