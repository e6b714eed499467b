/**
 * What one decision collects: the run's state as it changes, the commands and history it emits,
 * and the overlay its reads and writes go through. `decide.ts` drives it; the step families it
 * delegates to (children.ts, admission.ts) take it as their one argument.
 */
import type { StepDefinition, WorkflowDefinition } from "../definition/schema";
import { Overlay } from "./overlay";
import type { Command, EngineContext, HistoryDraft, JobState, JobView } from "./types";

/** Steps by name, built once per (immutable) definition: a step lookup is on every step's path. */
const stepIndex = new WeakMap<WorkflowDefinition, Map<string, StepDefinition>>();
function stepsByName(definition: WorkflowDefinition): Map<string, StepDefinition> {
  let index = stepIndex.get(definition);
  if (!index) {
    index = new Map(definition.steps.map((s) => [s.name, s]));
    stepIndex.set(definition, index);
  }
  return index;
}

/** Collects what one decision emits. */
export class Decider {
  readonly commands: Command[] = [];
  readonly history: HistoryDraft[] = [];
  readonly view: Overlay;

  constructor(
    readonly ctx: EngineContext,
    readonly state: JobState,
    base: JobView,
  ) {
    this.view = new Overlay(base);
  }

  step(name: string): StepDefinition | undefined {
    return stepsByName(this.ctx.definition).get(name);
  }

  log(event: string, fields: Record<string, unknown> = {}): void {
    this.commands.push({ type: "log", event, fields });
  }

  addHistory(item: Omit<HistoryDraft, "id">): void {
    const s = this.state;
    s.historyCount += 1;
    this.history.push({ id: `${s.identity.runNumber}.${s.historyCount}`, ...item });
  }

  /**
   * A status change (or a pause's): the job index must learn it. A child tells its parent, which indexes its
   * children in batches (a fan-out of 1,000 is a few calls to the index, not 1,000); a top-level job
   * writes its own row.
   */
  statusChanged(at: number): void {
    this.state.updatedAt = at;
    this.state.indexSeq += 1;
    this.commands.push({ type: this.state.identity.parentJobId ? "notifyParent" : "indexStatus" });
  }
}
