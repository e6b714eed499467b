/**
 * How RerunJobs divides its work (src/job/rerun-batch.ts): into shares for further objects, and
 * calls made a few at a time. Pure, apart from the calls it is handed.
 */
import { RERUN_CONCURRENCY, RERUN_FANOUT, RERUN_SOURCES_PER_OBJECT } from "../limits";

/**
 * `items` in at most RERUN_FANOUT shares of nearly equal size, each of RERUN_SOURCES_PER_OBJECT or
 * more when there are enough: a share small enough is made by its object, a larger one split again.
 */
export function shares<T>(items: T[]): T[][] {
  if (items.length === 0) return [];
  const parts = Math.min(RERUN_FANOUT, Math.ceil(items.length / RERUN_SOURCES_PER_OBJECT));
  const size = Math.ceil(items.length / parts);
  return Array.from({ length: parts }, (_, i) => items.slice(i * size, (i + 1) * size)).filter((p) => p.length > 0);
}

/** `fn` over `items`, at most RERUN_CONCURRENCY at once (an invocation's simultaneous connections); answers in order. */
export async function inTurn<T, R>(items: T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(RERUN_CONCURRENCY, items.length) }, worker));
  return out;
}
