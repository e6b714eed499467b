/**
 * Runs async sections one at a time, in the order they were asked for. A Durable Object handles
 * one event at a time only between awaits; a decision that awaits (a job's status) and must not
 * interleave with another decision runs in a section. In memory: an instance that dies takes its
 * queue with it, and whatever it had decided is in storage already.
 */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  /** Runs `section` after every section asked for before it has settled; its result or error is the caller's. */
  run<T>(section: () => Promise<T>): Promise<T> {
    const result = this.tail.then(section);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
