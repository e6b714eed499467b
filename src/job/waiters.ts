/**
 * Callers waiting in a job run's memory for it to end (GetJob's `waitForTerminalSeconds`). Nothing
 * here is persisted: an evicted object loses its waiters, and their calls fail with the eviction.
 */
export class Waiters {
  private readonly pending = new Set<() => void>();

  /** Resolves `true` when woken, `false` once `ms` have passed; either way it is gone from the set. */
  wait(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(wake);
        resolve(false);
      }, ms);
      const wake = () => {
        clearTimeout(timer);
        this.pending.delete(wake);
        resolve(true);
      };
      this.pending.add(wake);
    });
  }

  /** Wakes every waiter; each asks again what it waits for. */
  wakeAll(): void {
    for (const wake of [...this.pending]) wake();
  }

  /** Waiters held now. */
  get size(): number {
    return this.pending.size;
  }
}
