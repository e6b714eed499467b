/** A step's input and the schema checks of its input and output. */
import { acceptsEveryValue, validateValue } from "../definition/json-schema";
import type { StepDefinition, WorkflowDefinition } from "../definition/schema";
import { applyTransformer } from "../definition/transformer";
import type { Overlay } from "./overlay";
import { TooLargeToRead } from "./payload";
import type { JobError, JobState } from "./types";

/**
 * The step's input (DEFINITIONS.md "Execution data"): its inputTransformer's result; otherwise the
 * output of the step that ran before it; for the first step, workflowInput. An input that is
 * another entry unchanged says so (`from`), so the store can share it rather than copy it.
 */
export function computeStepInput(
  view: Overlay,
  state: JobState,
  step: StepDefinition,
  at: number,
): { ok: true; value: unknown } | { ok: true; from: string } | { ok: false; error: JobError } {
  const ctx = { previousStepName: state.previousStepName };
  const transformer = step.integrationDetails.inputTransformer;
  if (transformer) {
    try {
      return { ok: true, value: applyTransformer(transformer, view.executionData(), ctx, at) };
    } catch (e) {
      if (e instanceof TooLargeToRead) return { ok: false, error: e.error };
      return { ok: false, error: { code: "TransformerError", message: (e as Error).message } };
    }
  }
  const from = state.previousStepName ? `${state.previousStepName}Output` : "workflowInput";
  return view.data(from) ? { ok: true, from } : { ok: true, value: undefined };
}

/**
 * Schema errors of a step's input or output against its definition; empty when valid. The value is
 * read only when the schema can refuse something: a schema that accepts every value (`{}`) passes a
 * fan-out's results by reference, however large, without assembling them.
 */
export function validateStepValue(definition: WorkflowDefinition, ref: { $ref: string } | undefined, value: () => unknown): string[] {
  if (!ref || acceptsEveryValue(definition.definitions, ref.$ref)) return [];
  return validateValue(definition.definitions, ref.$ref, value());
}
