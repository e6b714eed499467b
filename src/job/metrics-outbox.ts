/**
 * A job run's metric events on their way to D1. They are written with the decision that produced
 * them (same transaction, so none is lost or made twice by a crash) and flushed by a coalesced
 * work item, in batches, after METRICS_FLUSH_DELAY_MS: a step end never waits on D1, and steps
 * ending close together share one round trip. D1 counts each event key once (registry/metrics.ts),
 * so a flush retried after D1 took it changes nothing.
 */
import type { MetricEvent } from "../metrics/types";
import type { SqlTables } from "./sql-tables";
import type { WorkQueue } from "./work-queue";

const UNITS_METERED = "units_metered";

export class MetricsOutbox {
  constructor(
    private readonly t: SqlTables,
    private readonly queue: WorkQueue,
  ) {}

  /** Keeps events for D1 and schedules their flush (inside the caller's transaction). */
  record(events: MetricEvent[], now: number, flushDelayMs: number): void {
    if (events.length === 0) return;
    this.t.ensure("metric");
    this.t.bulk(
      `INSERT INTO metric (key, event) SELECT value ->> 0, value ->> 1 FROM json_each(?) WHERE true ON CONFLICT (key) DO NOTHING`,
      events.map((e) => [e.key, JSON.stringify(e)]),
    );
    // Coalesced: queuing it again keeps the earliest due time, so a busy job still flushes.
    this.queue.enqueue({ id: "metrics", kind: "metrics", payload: null, dueAt: now + flushDelayMs, coalesce: true });
  }

  /** Events waiting for D1, at most `limit`. */
  pending(limit: number): MetricEvent[] {
    if (!this.t.has("metric")) return [];
    return this.t.sql
      .exec<{ event: string }>(`SELECT event FROM metric LIMIT ?`, limit)
      .toArray()
      .map((r) => JSON.parse(r.event) as MetricEvent);
  }

  /** Forgets events D1 has. */
  written(events: MetricEvent[]): void {
    if (events.length === 0 || !this.t.has("metric")) return;
    this.t.transaction(() => this.t.bulk(`DELETE FROM metric WHERE key IN (SELECT value ->> 0 FROM json_each(?))`, events.map((e) => [e.key])));
  }

  hasPending(): boolean {
    return this.t.has("metric") && this.t.sql.exec(`SELECT 1 FROM metric LIMIT 1`).toArray().length > 0;
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
