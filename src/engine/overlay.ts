/**
 * A decision's window onto its run: reads go to the store's `JobView`, writes are recorded as
 * `Changes`, and reads see the decision's own writes. The engine stays pure: it never touches
 * storage, it only reads through a narrow interface and returns what changed.
 */
import { MAX_PAYLOAD_BYTES } from "../limits";
import { exceedsBytes, payloadTooLargeToRead, TooLargeToRead } from "./payload";
import type { Changes, ChildRow, ChildrenRef, JobView, NewChild, ReceivedEvent, StoredValue } from "./types";

const ENDED: ReadonlySet<string> = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);

/** A child's entry in a runChildJob step's output (DEFINITIONS.md), in the order of the list or array. */
export function childResult(c: ChildRow) {
  return {
    id: c.key,
    jobId: c.jobId,
    workflowName: c.workflowName ?? c.workflowRef.workflowName ?? c.workflowRef.workflowId,
    status: c.status,
    ...(c.output !== undefined ? { output: c.output } : {}),
    ...(c.error ? { error: c.error } : {}),
  };
}

/** A runChildJob step's output, assembled from its children's rows. */
export function childResults(children: ChildRow[]) {
  const results = children.map(childResult);
  const succeeded = children.filter((c) => c.status === "SUCCEEDED").length;
  return { results, succeeded, failed: children.length - succeeded };
}

export function emptyChanges(): Changes {
  return { data: new Map(), newChildren: [], children: new Map(), cancelWaiting: [], events: new Map() };
}

export class Overlay implements JobView {
  readonly changes: Changes = emptyChanges();
  /** Store rows read ahead by `prefetchChildren` (undefined: the store has no such child). */
  private readonly prefetched = new Map<string, ChildRow | undefined>();
  /** This decision's new children by job id: an update to one rewrites its pending insert. */
  private readonly fresh = new Map<string, NewChild>();
  /** Values assembled in this decision, by key (a fan-out's results are read at most once). */
  private readonly materialized = new Map<string, unknown>();
  private lazyData: Record<string, unknown> | undefined;
  /** The store's execution-data keys, listed once per decision when first needed. */
  private baseKeys: Set<string> | undefined;

  constructor(private readonly base: JobView) {}

  // ---- execution data --------------------------------------------------------------------------

  dataKeys(): string[] {
    this.baseKeys ??= new Set(this.base.dataKeys());
    const keys = new Set(this.baseKeys);
    for (const k of this.changes.data.keys()) keys.add(k);
    return [...keys];
  }

  data(key: string): StoredValue | undefined {
    const changed = this.changes.data.get(key);
    if (changed) return changed;
    // Keys the run does not have are answered without a query: a chain of steps asks for many.
    this.baseKeys ??= new Set(this.base.dataKeys());
    return this.baseKeys.has(key) ? this.base.data(key) : undefined;
  }

  /**
   * The value under `key`, assembled if need be. Throws TooLargeToRead, having read no more than
   * the payload limit, when it is a fan-out's results over it.
   */
  value(key: string): unknown {
    if (this.materialized.has(key)) return this.materialized.get(key);
    const stored = this.data(key);
    const value = stored === undefined ? undefined : "value" in stored ? stored.value : this.assembled(stored.ref, `Execution data "${key}"`);
    this.materialized.set(key, value);
    return value;
  }

  /**
   * A runChildJob step's results, assembled from its children's rows up to MAX_PAYLOAD_BYTES: over
   * it, TooLargeToRead (naming the value as `what`), and the rows past the limit are never read.
   */
  assembled(ref: ChildrenRef, what: string): unknown {
    const { stepName, attempt } = ref.children;
    const stubs = this.childStubs(stepName, attempt);
    // A payload is recorded once: one this decision recorded is not in the store yet, and one in
    // the store is never replaced, so the store is asked only for the others.
    const unread = stubs.filter((r) => r.output === undefined && r.error === undefined && childEnded(r.status)).map((r) => r.jobId);
    const read = this.base.childPayloads(unread, MAX_PAYLOAD_BYTES);
    if ("over" in read) throw new TooLargeToRead(payloadTooLargeToRead(what, read.over));
    const value = childResults(stubs.map((r) => ({ ...r, ...read.payloads.get(r.jobId) })));
    const json = JSON.stringify(value);
    if (exceedsBytes(json, MAX_PAYLOAD_BYTES)) throw new TooLargeToRead(payloadTooLargeToRead(what, json.length));
    return value;
  }

  /** Stores a value (its JSON text, when known, is kept so the store need not serialise it again). */
  setValue(key: string, value: unknown, json?: string): void {
    this.put(key, json === undefined ? { value } : { value, json }, value);
  }

  /** Makes `key` hold the same stored entry as `from` (a reference stays a reference). */
  copy(key: string, from: string): void {
    const stored = this.data(from);
    if (stored) this.put(key, stored, this.materialized.get(from));
  }

  setRef(key: string, ref: ChildrenRef): void {
    this.put(key, { ref }, undefined);
  }

  private put(key: string, stored: StoredValue, value: unknown): void {
    this.changes.data.set(key, stored);
    if (value === undefined && "ref" in stored) this.materialized.delete(key);
    else this.materialized.set(key, "value" in stored ? stored.value : value);
    if (this.lazyData) defineLazy(this.lazyData, key, () => this.value(key));
  }

  /**
   * The execution data as a plain object for transformers, JSON Logic and paths: each key reads
   * (and assembles) its value only when something asks for it.
   */
  executionData(): Record<string, unknown> {
    if (!this.lazyData) {
      const data: Record<string, unknown> = {};
      for (const key of this.dataKeys()) defineLazy(data, key, () => this.value(key));
      this.lazyData = data;
    }
    return this.lazyData;
  }

  // ---- children --------------------------------------------------------------------------------

  addChildren(children: NewChild[]): void {
    for (const c of children) {
      const copy = { row: c.row, input: c.input };
      this.changes.newChildren.push(copy);
      this.fresh.set(c.row.jobId, copy);
    }
  }

  updateChild(row: ChildRow): void {
    const fresh = this.fresh.get(row.jobId);
    // A child created in this decision is inserted as it ends up, not inserted and then updated.
    if (fresh) fresh.row = row;
    else this.changes.children.set(row.jobId, row);
  }

  cancelWaitingChildren(stepName: string, attempt: number): void {
    this.changes.cancelWaiting.push({ stepName, attempt });
  }

  private overlaid(row: ChildRow): ChildRow {
    const changed = this.changes.children.get(row.jobId);
    if (changed) return changed;
    if (row.status === "WAITING" && this.changes.cancelWaiting.some((c) => c.stepName === row.stepName && c.attempt === row.stepAttempt)) {
      return { ...row, status: "CANCELLED" };
    }
    return row;
  }

  private newRows(stepName: string, attempt: number): ChildRow[] {
    return this.changes.newChildren.map((c) => this.overlaid(c.row)).filter((r) => r.stepName === stepName && r.stepAttempt === attempt);
  }

  child(jobId: string): ChildRow | undefined {
    const changed = this.changes.children.get(jobId);
    if (changed) return changed;
    const row = this.fresh.get(jobId)?.row ?? (this.prefetched.has(jobId) ? this.prefetched.get(jobId) : this.base.child(jobId));
    return row && this.overlaid(row);
  }

  childrenById(jobIds: string[]): ChildRow[] {
    return jobIds.flatMap((id) => {
      const row = this.child(id);
      return row ? [row] : [];
    });
  }

  /** Reads these children from the store in one go, for the `child` lookups that follow. */
  prefetchChildren(jobIds: string[]): void {
    const wanted = jobIds.filter((id) => !this.prefetched.has(id) && !this.fresh.has(id) && !this.changes.children.has(id));
    for (const id of wanted) this.prefetched.set(id, undefined);
    for (const row of this.base.childrenById(wanted)) this.prefetched.set(row.jobId, row);
  }

  childStubs(stepName: string, attempt: number): ChildRow[] {
    return this.merged(this.base.childStubs(stepName, attempt), stepName, attempt);
  }

  childPayloads(jobIds: string[], maxBytes: number): { payloads: Map<string, Pick<ChildRow, "output" | "error">> } | { over: number } {
    return this.base.childPayloads(jobIds, maxBytes);
  }

  /** The store's rows of a step attempt as this decision leaves them, in order. */
  private merged(base: ChildRow[], stepName: string, attempt: number): ChildRow[] {
    const rows = new Map<string, ChildRow>();
    for (const r of base) rows.set(r.jobId, this.overlaid(r));
    // Rows this decision moved into the attempt, or created in it.
    for (const r of this.changes.children.values()) {
      if (r.stepName === stepName && r.stepAttempt === attempt) rows.set(r.jobId, r);
      else if (rows.has(r.jobId)) rows.delete(r.jobId);
    }
    for (const r of this.newRows(stepName, attempt)) rows.set(r.jobId, r);
    return [...rows.values()].filter((r) => !r.superseded).sort((a, b) => a.childIndex - b.childIndex);
  }

  waitingChildren(stepName: string, attempt: number, limit: number): ChildRow[] {
    // Rows changed in this decision may have left WAITING: ask the store for enough to make up for them.
    const base = this.base.waitingChildren(stepName, attempt, limit + this.changes.children.size);
    const rows = [...base.map((r) => this.overlaid(r)), ...this.newRows(stepName, attempt)];
    return rows
      .filter((r) => r.status === "WAITING" && !r.superseded)
      .sort((a, b) => a.childIndex - b.childIndex)
      .slice(0, limit);
  }

  activeChildJobIds(stepName: string, attempt: number): string[] {
    const ids = new Set<string>();
    for (const id of this.base.activeChildJobIds(stepName, attempt)) {
      const r = this.changes.children.get(id);
      if (!r || (r.status === "STARTING" && !r.superseded)) ids.add(id);
    }
    for (const r of [...this.changes.children.values(), ...this.newRows(stepName, attempt)]) {
      if (r.stepName === stepName && r.stepAttempt === attempt && r.status === "STARTING" && !r.superseded) ids.add(r.jobId);
    }
    return [...ids];
  }

  // ---- events ----------------------------------------------------------------------------------

  event(eventId: string): ReceivedEvent | undefined {
    return this.changes.events.get(eventId) ?? this.base.event(eventId);
  }

  setEvent(eventId: string, event: ReceivedEvent): void {
    this.changes.events.set(eventId, event);
  }

}

function defineLazy(target: Record<string, unknown>, key: string, get: () => unknown): void {
  Object.defineProperty(target, key, { get, enumerable: true, configurable: true });
}

/** Whether a child status is terminal. */
export function childEnded(status: string): boolean {
  return ENDED.has(status);
}
