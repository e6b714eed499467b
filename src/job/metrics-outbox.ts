/**
 * A job run's metrics on their way to its organization's index. Events are written with the
 * decision that produced them (same transaction, so none is lost or made twice by a crash), then
 * sealed: folded into rollup increments per (workflow, metric, hour) under a random key, in one
 * transaction that also forgets the events. A sealed flush leaves in one of two ways, and only one:
 * - a top-level job sends it to its index shard (work.ts), which counts each key once;
 * - a child carries it on its reports to its parent, which adopts each key once (`metric_in`) and
 *   seals what it adopted into its own flushes, so a fan-out's metrics reach the index through its
 *   root, a few flushes per alarm, with no call of each child's own.
 * A flush is forgotten only once its receiver has it; sent again after a crash, it counts nothing
 * twice. No per-step row is written anywhere shared.
 *
 *   metric      events not yet sealed
 *   metric_in   the keys of the flushes adopted from children (a child's retried report adds nothing)
 *   metric_sum  their increments, folded per (workflow, metric, hour) as they are adopted: one row
 *               per bucket however many children report, not one body per child
 *   metric_out  sealed flushes not yet taken by their receiver
 */
import { MAX_INCREMENTS_PER_FLUSH, METRICS_FLUSH_BATCH } from "../limits";
import { Rollup } from "../metrics/rollup";
import type { Increment, MetricEvent, MetricFlush, MetricType } from "../metrics/types";
import type { SqlTables } from "./sql-tables";
import type { WorkQueue } from "./work-queue";

const UNITS_METERED = "units_metered";
/** A row of `metric_sum`. */
type SumRow = { workflow_id: string; metric: MetricType; hour_start: number; n: number; total: number; peak: number };
/** Seals per call: each is a few hundred events; more wait for the next pass. */
const SEALS_PER_CALL = 10;

export class MetricsOutbox {
  constructor(
    private readonly t: SqlTables,
    private readonly queue: WorkQueue,
  ) {}

  /** Keeps events (inside the caller's transaction) and owes a flush within `maxDelayMs`. */
  record(events: MetricEvent[], now: number, maxDelayMs: number): void {
    if (events.length === 0) return;
    this.t.ensure("metric");
    this.t.bulk(
      `INSERT INTO metric (key, event) SELECT value ->> 0, value ->> 1 FROM json_each(?) WHERE true ON CONFLICT (key) DO NOTHING`,
      events.map((e) => [e.key, JSON.stringify(e)]),
    );
    this.queue.owe("metrics", "metrics", now + maxDelayMs, now);
  }

  /** Adopts children's flushes, each key once (inside the caller's transaction), and owes a flush within `maxDelayMs`. */
  adopt(flushes: MetricFlush[], now: number, maxDelayMs: number): void {
    if (flushes.length === 0) return;
    this.t.ensure("metric_in");
    this.t.ensure("metric_sum");
    const fresh: Increment[] = [];
    for (const f of flushes) {
      if (this.t.sql.exec(`INSERT INTO metric_in (key) VALUES (?) ON CONFLICT (key) DO NOTHING`, f.key).rowsWritten > 0) fresh.push(...f.increments);
    }
    this.t.bulk(
      `INSERT INTO metric_sum (workflow_id, metric, hour_start, n, total, peak)
       SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5 FROM json_each(?) WHERE true
       ON CONFLICT (workflow_id, metric, hour_start) DO UPDATE SET
         n = n + excluded.n, total = total + excluded.total, peak = MAX(peak, excluded.peak)`,
      fresh,
    );
    this.queue.owe("metrics", "metrics", now + maxDelayMs, now);
  }

  /**
   * Seals what is pending into flushes (inside the caller's transaction): each at most
   * METRICS_FLUSH_BATCH events and MAX_INCREMENTS_PER_FLUSH increments.
   */
  seal(now: number): void {
    for (let i = 0; i < SEALS_PER_CALL; i++) {
      const events = this.t.has("metric")
        ? this.t.sql.exec<{ key: string; event: string }>(`SELECT key, event FROM metric LIMIT ?`, METRICS_FLUSH_BATCH).toArray()
        : [];
      const rollup = new Rollup();
      for (const e of events) rollup.addEvent(JSON.parse(e.event) as MetricEvent);
      // What the children's flushes added fills the rest of the flush.
      const room = MAX_INCREMENTS_PER_FLUSH - rollup.size;
      const sums =
        this.t.has("metric_sum") && room > 0
          ? this.t.sql.exec<SumRow>(`SELECT * FROM metric_sum LIMIT ?`, room).toArray()
          : [];
      if (events.length === 0 && sums.length === 0) return;
      for (const r of sums) rollup.add([r.workflow_id, r.metric, r.hour_start, r.n, r.total, r.peak]);
      this.t.ensure("metric_out");
      this.t.sql.exec(
        `INSERT INTO metric_out (key, body, created_at) VALUES (?, ?, ?)`,
        crypto.randomUUID(),
        this.t.checked(JSON.stringify(rollup.increments()), "A metric flush"),
        now,
      );
      if (events.length > 0) this.t.bulk(`DELETE FROM metric WHERE key IN (SELECT value ->> 0 FROM json_each(?))`, events.map((e) => [e.key]));
      if (sums.length > 0) {
        this.t.bulk(
          `DELETE FROM metric_sum WHERE (workflow_id, metric, hour_start) IN (SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?))`,
          sums.map((r) => [r.workflow_id, r.metric, r.hour_start]),
        );
      }
    }
  }

  /** Sealed flushes not yet taken, oldest first. */
  outgoing(limit: number): MetricFlush[] {
    if (!this.t.has("metric_out")) return [];
    return this.t.sql
      .exec<{ key: string; body: string }>(`SELECT key, body FROM metric_out ORDER BY created_at, key LIMIT ?`, limit)
      .toArray()
      .map((r) => ({ key: r.key, increments: JSON.parse(r.body) as Increment[] }));
  }

  /** Forgets flushes their receiver has taken (inside the caller's transaction). */
  delivered(keys: string[]): void {
    if (keys.length === 0 || !this.t.has("metric_out")) return;
    this.t.bulk(`DELETE FROM metric_out WHERE key IN (SELECT value ->> 0 FROM json_each(?))`, keys.map((k) => [k]));
  }

  /** Whether anything is still to be sealed or delivered. */
  hasPending(): boolean {
    const any = (sql: string) => this.t.sql.exec(sql).toArray().length > 0;
    return (
      (this.t.has("metric") && any(`SELECT 1 FROM metric LIMIT 1`)) ||
      (this.t.has("metric_sum") && any(`SELECT 1 FROM metric_sum LIMIT 1`)) ||
      (this.t.has("metric_out") && any(`SELECT 1 FROM metric_out LIMIT 1`))
    );
  }

  /** Whether more is sealed than one flush call carries, or more waits than one seal takes. */
  backlog(): boolean {
    const count = (table: "metric" | "metric_sum" | "metric_out") => (this.t.has(table) ? this.t.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`).one().n : 0);
    return count("metric_out") > 0 || count("metric") >= METRICS_FLUSH_BATCH || count("metric_sum") >= MAX_INCREMENTS_PER_FLUSH;
  }

  /** After a flush: the owed flush is dropped once nothing is pending (a later event owes a new one). */
  settle(): void {
    if (!this.hasPending()) this.queue.dropWork("metrics");
  }

  /** The job's own units already counted as billable_transaction_units at an earlier end of this run. */
  unitsMetered(): number {
    if (!this.t.has("meta")) return 0;
    const row = this.t.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = ?`, UNITS_METERED).toArray()[0];
    return row ? Number(row.value) : 0;
  }

  setUnitsMetered(units: number): void {
    this.t.ensure("meta");
    this.t.sql.exec(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, UNITS_METERED, String(units));
  }
}
