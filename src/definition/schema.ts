/**
 * The JustWorkflowIt definition format `{workflowName, steps, definitions}` as a zod schema: types of
 * the known fields are strict, unknown extra fields on steps and integrationDetails are kept, as
 * JustWorkflowIt definitions may carry them. Cross-field rules live in check.ts.
 */
import { z } from "zod";
import { MAX_DURATION_SECONDS, MAX_STEP_RETRIES } from "../limits";
import { InputTransformerSchema } from "./transformer-syntax";

/** `{"$ref": "#/definitions/<name>"}`. */
export const RefSchema = z.strictObject({ $ref: z.string().min(1) });

/** A length of time in seconds a definition names: at most MAX_DURATION_SECONDS (365 days). */
export const DurationSeconds = z.number().max(MAX_DURATION_SECONDS, { error: `is at most ${MAX_DURATION_SECONDS} seconds (365 days)` });

/** Canopy's backoff between attempts; defaults give 1 s, 2 s, 4 s … capped at 5 minutes. */
export const RetryPolicySchema = z.strictObject({
  initialIntervalSeconds: DurationSeconds.positive().default(1),
  backoffCoefficient: z.number().min(1).default(2),
  maxIntervalSeconds: DurationSeconds.positive().default(300),
});

/** Seconds between two polls of a step: at least 1 (a far end is not hammered), at most a day (longer waits are a delay step). */
export const PollIntervalSchema = z.number().min(1).max(86_400);

/** A JSON Logic rule; its operations are checked by check.ts. */
const JsonLogicRule = z.unknown();

/** A step name, null (the job ends), or `{"if": [...]}` evaluated over the execution data. */
export const TransitionSchema = z
  .union([z.string().min(1), z.null(), z.strictObject({ if: z.array(JsonLogicRule).min(3) })], {
    error: 'must be a step name, null or {"if": [condition, step, ..., else]}',
  })
  // JustWorkflowIt allows leaving it out: the job then ends after the step.
  .default(null);

export const IntegrationDetailsSchema = z.looseObject({
  type: z.string().min(1),
  config: z.record(z.string(), z.unknown()).optional(),
  inputDefinition: RefSchema,
  outputDefinition: RefSchema,
  inputTransformer: InputTransformerSchema.optional(),
  /** Secret slot → organization secret key (see the module secret-bindings). */
  secretBindings: z.record(z.string(), z.string()).optional(),
});

export const StepDefinitionSchema = z.looseObject({
  name: z.string().min(1),
  // Each try is a history item, and a run rolls over only between steps (limits.ts).
  retries: z.number().int().min(0).max(MAX_STEP_RETRIES).optional(),
  retryPolicy: RetryPolicySchema.optional(),
  timeoutSeconds: DurationSeconds.positive().optional(),
  /** Canopy's: seconds between polls when the executor answers `successful_but_incomplete` (else the config's, else 5). */
  pollIntervalSeconds: PollIntervalSchema.optional(),
  integrationDetails: IntegrationDetailsSchema,
  transitionToStep: TransitionSchema,
});

/** The whole definition document. */
export const WorkflowDefinitionSchema = z.looseObject({
  workflowName: z.string().min(1),
  steps: z.array(StepDefinitionSchema).min(1, { error: "the definition has no steps" }),
  definitions: z.record(z.string(), z.unknown()),
});

export type WorkflowDefinition = z.infer<typeof WorkflowDefinitionSchema>;
export type StepDefinition = z.infer<typeof StepDefinitionSchema>;
export type IntegrationDetails = z.infer<typeof IntegrationDetailsSchema>;
export type RetryPolicy = z.infer<typeof RetryPolicySchema>;
export type Transition = z.infer<typeof TransitionSchema>;
