/** Drives the pure engine in tests: a definition, a state, and events in, decisions out. */
import { decide } from "../../../src/engine/decide";
import { newJobState } from "../../../src/engine/state";
import type { Command, EngineEvent, HistoryDraft, JobState } from "../../../src/engine/types";
import type { WorkflowDefinition } from "../../../src/definition/schema";
import { MemoryView } from "./memory-view";

export { step } from "../../helpers/jobs";

export const T0 = Date.parse("2026-11-21T08:00:00.000Z");

export function definition(steps: unknown[], definitions: Record<string, unknown> = {}): WorkflowDefinition {
  return { workflowName: "test", steps, definitions: { workflowInput: { type: "object" }, any: {}, ...definitions } } as WorkflowDefinition;
}

export class EngineRun {
  state: JobState;
  readonly view: MemoryView;
  commands: Command[] = [];
  history: HistoryDraft[] = [];

  constructor(
    readonly def: WorkflowDefinition,
    input: unknown = {},
    opts: { depth?: number; maxInlineSteps?: number; rolloverThreshold?: number; parent?: boolean } = {},
  ) {
    this.state = newJobState(
      {
        jobId: "00000000-0000-4000-8000-000000000001",
        organizationId: "org",
        workflowId: "wf",
        workflowName: "test",
        versionId: "v1",
        versionNumber: 1,
        submittedByUser: "tests",
        runNumber: 1,
        rootJobId: "00000000-0000-4000-8000-000000000001",
        depth: opts.depth ?? 0,
        createdAt: T0,
        ...(opts.parent ? { parentJobId: "00000000-0000-4000-8000-0000000000ff", parentRunNumber: 1, parentStepName: "fan" } : {}),
      },
      T0,
    );
    this.view = new MemoryView({ workflowInput: input });
    this.opts = { maxInlineSteps: opts.maxInlineSteps ?? 500, rolloverThreshold: opts.rolloverThreshold ?? 10_000 };
  }
  private opts: { maxInlineSteps: number; rolloverThreshold: number };

  /** Applies an event; returns only the commands it produced. */
  send(event: EngineEvent): Command[] {
    const d = decide({ definition: this.def, ...this.opts }, this.state, this.view, event);
    this.view.apply(d.changes);
    this.state = d.state;
    this.commands.push(...d.commands);
    this.history.push(...d.history);
    return d.commands;
  }

  /** The job's output once it SUCCEEDED, as GetJob shows it. */
  get output(): unknown {
    return this.state.outputKey ? this.view.value(this.state.outputKey) : undefined;
  }

  /** The execution data, as GetWorkflowState shows it. */
  get data(): Record<string, unknown> {
    return Object.fromEntries(this.view.dataKeys().map((k) => [k, this.view.value(k)]));
  }

  start(at = T0): Command[] {
    return this.send({ type: "start", at });
  }

  /** Command types other than log lines. */
  static kinds(commands: Command[]): string[] {
    return commands.filter((c) => c.type !== "log").map((c) => c.type);
  }
}
