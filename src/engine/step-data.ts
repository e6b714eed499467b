/** A step's input and the schema checks of its input and output. */
import { validateValue } from "../definition/json-schema";
import type { StepDefinition, WorkflowDefinition } from "../definition/schema";
import { applyTransformer } from "../definition/transformer";
import type { JobError, JobState } from "./types";

/**
 * The step's input (DEFINITIONS.md "Execution data"): its inputTransformer's result; otherwise the
 * output of the step that ran before it; for the first step, workflowInput.
 */
export function computeStepInput(
  _definition: WorkflowDefinition,
  state: JobState,
  step: StepDefinition,
): { ok: true; value: unknown } | { ok: false; error: JobError } {
  const ctx = { previousStepName: state.previousStepName };
  const transformer = step.integrationDetails.inputTransformer;
  if (transformer) {
    try {
      return { ok: true, value: applyTransformer(transformer, state.executionData, ctx) };
    } catch (e) {
      return { ok: false, error: { code: "TransformerError", message: (e as Error).message } };
    }
  }
  if (state.previousStepName) return { ok: true, value: state.executionData[`${state.previousStepName}Output`] };
  return { ok: true, value: state.executionData.workflowInput };
}

/** Schema errors of `value` against a step's input or output definition; empty when valid. */
export function validateStepValue(definition: WorkflowDefinition, ref: { $ref: string } | undefined, value: unknown): string[] {
  if (!ref) return [];
  return validateValue(definition.definitions, ref.$ref, value);
}
