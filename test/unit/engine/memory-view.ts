/**
 * The engine's `JobView` over plain maps, with the same semantics as the SQLite store: what unit
 * tests run decisions against, applying each decision's changes as the store would commit them.
 */
import { childResults } from "../../../src/engine/overlay";
import type { Changes, ChildRow, JobView, ReceivedEvent, StoredValue } from "../../../src/engine/types";

export class MemoryView implements JobView {
  readonly dataMap = new Map<string, StoredValue>();
  readonly childMap = new Map<string, ChildRow>();
  readonly inputs = new Map<string, unknown>();
  readonly eventMap = new Map<string, ReceivedEvent>();

  constructor(data: Record<string, unknown> = {}) {
    for (const [k, v] of Object.entries(data)) this.dataMap.set(k, { value: v });
  }

  /** Applies a decision's changes in the order the store commits them. */
  apply(changes: Changes): void {
    for (const [k, v] of changes.data) {
      if ("value" in v && v.value === undefined) this.dataMap.delete(k);
      else this.dataMap.set(k, "value" in v ? { value: structuredClone(v.value) } : v);
    }
    for (const { row, input } of changes.newChildren) {
      this.childMap.set(row.jobId, structuredClone(row));
      this.inputs.set(row.jobId, input);
    }
    for (const c of changes.cancelWaiting) {
      for (const r of this.childMap.values()) {
        if (r.stepName === c.stepName && r.stepAttempt === c.attempt && r.status === "WAITING") r.status = "CANCELLED";
      }
    }
    // A row read without its payloads keeps the stored ones, as the store's update does.
    for (const r of changes.children.values()) {
      const old = this.childMap.get(r.jobId);
      const output = r.output ?? old?.output;
      const error = r.error ?? old?.error;
      this.childMap.set(r.jobId, structuredClone({ ...r, ...(output !== undefined ? { output } : {}), ...(error ? { error } : {}) }));
    }
    for (const [id, e] of changes.events) this.eventMap.set(id, structuredClone(e));
  }

  dataKeys(): string[] {
    return [...this.dataMap.keys()];
  }
  data(key: string): StoredValue | undefined {
    return this.dataMap.get(key);
  }
  /** A value as a reader of the API sees it (references assembled). */
  value(key: string): unknown {
    const stored = this.dataMap.get(key);
    if (!stored) return undefined;
    return "value" in stored ? stored.value : childResults(this.children(stored.ref.children.stepName, stored.ref.children.attempt));
  }
  childStubs(stepName: string, attempt: number): ChildRow[] {
    return this.children(stepName, attempt).map(({ output: _o, error: _e, ...stub }) => stub);
  }
  childPayloads(jobIds: string[], maxBytes: number): { payloads: Map<string, Pick<ChildRow, "output" | "error">> } | { over: number } {
    const payloads = new Map<string, Pick<ChildRow, "output" | "error">>();
    let bytes = 0;
    for (const id of jobIds) {
      const r = this.childMap.get(id);
      if (!r || (r.output === undefined && !r.error)) continue;
      bytes += JSON.stringify(r.output ?? null).length + JSON.stringify(r.error ?? null).length;
      if (bytes > maxBytes) return { over: bytes };
      payloads.set(id, structuredClone({ ...(r.output !== undefined ? { output: r.output } : {}), ...(r.error ? { error: r.error } : {}) }));
    }
    return { payloads };
  }
  children(stepName: string, attempt: number): ChildRow[] {
    return [...this.childMap.values()]
      .filter((r) => r.stepName === stepName && r.stepAttempt === attempt && !r.superseded)
      .sort((a, b) => a.childIndex - b.childIndex)
      .map((r) => structuredClone(r));
  }
  childrenById(jobIds: string[]): ChildRow[] {
    return jobIds.flatMap((id) => {
      const r = this.child(id);
      return r ? [r] : [];
    });
  }
  /** Without output and error, as the store reads it for a decision. */
  child(jobId: string): ChildRow | undefined {
    const r = this.childMap.get(jobId);
    if (!r) return undefined;
    const { output: _o, error: _e, ...stub } = structuredClone(r);
    return stub;
  }
  waitingChildren(stepName: string, attempt: number, limit: number): ChildRow[] {
    return this.children(stepName, attempt).filter((r) => r.status === "WAITING").slice(0, limit);
  }
  activeChildJobIds(stepName: string, attempt: number): string[] {
    return this.children(stepName, attempt).filter((r) => r.status === "STARTING").map((r) => r.jobId);
  }
  event(eventId: string): ReceivedEvent | undefined {
    return this.eventMap.get(eventId);
  }
}
