/**
 * The rows of a job run that pausing and rerunning need, beside the store's own (store.ts owns the
 * run's tables; this module adds SQL over the same `SqlTables`, as work-queue.ts does):
 *
 *   meta 'parent_pause'   a parent's pause word that reached a child before the child existed
 *   start_data            the execution data a run started with, when it started with more than its
 *                         input (a rollover carrying everything, a rerun): a later rerun of the run
 *                         needs the values that the run's own steps have since overwritten
 *   meta 'start_previous' the step that had run last when such a run started
 */
import type { SqlTables } from "./sql-tables";

/** A pause word of the parent (see src/engine/pause.ts). */
export interface PauseWord {
  paused: boolean;
  seq: number;
}

export class TimeTravelRows {
  constructor(private readonly t: SqlTables) {}

  // ---- a parent's pause that overtook the child's start ------------------------------------------

  /** Keeps the parent's latest word for a child not created yet (as a tombstone keeps a cancel). */
  keepParentPause(word: PauseWord): void {
    this.t.transaction(() => {
      this.t.ensure("meta");
      const kept = this.parentPause();
      if (kept && kept.seq >= word.seq) return;
      this.t.sql.exec(`INSERT OR REPLACE INTO meta (key, value) VALUES ('parent_pause', ?)`, JSON.stringify(word));
    });
  }

  /** The parent's word kept before the child existed, if any. */
  parentPause(): PauseWord | undefined {
    if (!this.t.has("meta")) return undefined;
    const row = this.t.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'parent_pause'`).toArray()[0];
    return row ? (JSON.parse(row.value) as PauseWord) : undefined;
  }

  // ---- what a run started with ---------------------------------------------------------------------

  /**
   * Inside the transaction that creates a run: copies the execution data it starts with, and the
   * step that ran before, so a rerun of this run can rebuild its data at any step (SQL to SQL: no
   * value passes through the isolate).
   */
  keepStartData(previousStepName: string | undefined): void {
    this.t.ensure("start_data");
    this.t.ensure("meta");
    if (this.t.has("data")) this.t.sql.exec(`INSERT OR REPLACE INTO start_data (key, value) SELECT key, value FROM data`);
    if (previousStepName !== undefined) {
      this.t.sql.exec(`INSERT OR REPLACE INTO meta (key, value) VALUES ('start_previous', ?)`, previousStepName);
    }
  }

  /** Whether the run kept what it started with (else it started with its workflowInput alone). */
  hasStartData(): boolean {
    return this.t.has("start_data");
  }

  /** The step that had run last when the run started, if it kept its start. */
  startPreviousStep(): string | undefined {
    if (!this.t.has("meta")) return undefined;
    return this.t.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'start_previous'`).toArray()[0]?.value;
  }
}
