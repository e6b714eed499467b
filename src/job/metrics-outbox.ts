/**
 * A job run's metric events on their way to D1. They are written with the decision that produced
 * them (same transaction, so none is lost or made twice by a crash) and leave in one of two ways,
 * neither of which makes a step end wait on D1:
 * - flushed in batches during the run's next pass of work (work.ts), or by a coalesced work item
 *   due within METRICS_MAX_FLUSH_DELAY_MS when no pass comes sooner;
 * - for a child with few pending, on its reports: the parent adopts them into its own outbox.
 * D1 counts each event key once (registry/metrics.ts), so a flush retried after D1 took it, or
 * events sent both ways, count once.
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

  /**
   * Keeps events for D1 (inside the caller's transaction). A run that reports to a parent keeps up
   * to `reportMax` for its reports; otherwise a flush is owed within `maxDelayMs`.
   */
  record(events: MetricEvent[], now: number, opts: { reportsToParent: boolean; reportMax: number; maxDelayMs: number }): void {
    if (events.length === 0) return;
    this.t.ensure("metric");
    this.t.bulk(
      `INSERT INTO metric (key, event) SELECT value ->> 0, value ->> 1 FROM json_each(?) WHERE true ON CONFLICT (key) DO NOTHING`,
      events.map((e) => [e.key, JSON.stringify(e)]),
    );
    if (opts.reportsToParent && this.count() <= opts.reportMax) return;
    // Coalesced: queuing it again keeps the earliest due time.
    this.queue.enqueue({ id: "metrics", kind: "metrics", payload: null, dueAt: now + opts.maxDelayMs, coalesce: true });
  }

  private count(): number {
    return this.t.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM metric`).one().n;
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
