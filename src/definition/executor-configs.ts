/**
 * The static `config` each executor type accepts, checked when a version is registered so a job
 * never meets a malformed config at run time. JustWorkflowIt's own executor types keep unknown
 * fields (their hosted service may add some); Canopy's types are strict, to catch typos.
 */
import { z } from "zod";
import { MAX_CALL_TIMEOUT_MS, MAX_DURATION_SECONDS } from "../limits";
import { DurationSeconds, PollIntervalSchema } from "./schema";

/** Executor types whose steps call out over the network, one call per attempt or poll. */
export const CALL_EXECUTOR_TYPES: readonly string[] = ["/justworkflowit/aws/lambda", "/justworkflowit/gcp/cloudfunction", "/canopy/http"];

/** Every executor type Canopy runs. */
export const EXECUTOR_TYPES = [
  "/justworkflowit/noop",
  "/justworkflowit/waitForEventIds",
  "/justworkflowit/runChildJob",
  "/justworkflowit/aws/lambda",
  "/justworkflowit/gcp/cloudfunction",
  "/canopy/http",
  "/canopy/transform",
  "/canopy/delay",
  "/canopy/continueAsNew",
] as const;

export type ExecutorType = (typeof EXECUTOR_TYPES)[number];

/** True for a type Canopy has an executor for. */
export function isExecutorType(type: string): type is ExecutorType {
  return (EXECUTOR_TYPES as readonly string[]).includes(type);
}

/** Version tags, as SetWorkflowVersionTag accepts them (API.md). */
const Tag = z.string().regex(/^\$[A-Z_]+$/, { error: 'a tag looks like "$LIVE"' });
const NonEmpty = z.string().min(1);
/** What to do instead of a call longer than an alarm invocation allows: poll. */
export const POLLING_ADVICE =
  'For longer work, have the call start it and answer {"status": "successful_but_incomplete"}: the step then polls (pollIntervalSeconds), and its timeoutSeconds bounds the whole polling.';
/** One call's time limit: at most MAX_CALL_TIMEOUT_MS, since a call must end within its alarm invocation. */
const CallTimeoutMs = z
  .number()
  .int()
  .positive()
  .max(MAX_CALL_TIMEOUT_MS, {
    error: `is at most ${MAX_CALL_TIMEOUT_MS} (${MAX_CALL_TIMEOUT_MS / 60_000} minutes): one call must end within the alarm invocation that sends it. ${POLLING_ADVICE}`,
  });
const HttpUrl = z.url({ protocol: /^https?$/ });

export const NoopConfigSchema = z.strictObject({}).optional();

export const WaitForEventIdsConfigSchema = z.looseObject({
  eventIds: z.array(NonEmpty).min(1),
  timeoutSeconds: DurationSeconds.positive().optional(),
});

/** Which version of a child workflow to run: exactly one of tag, versionId, versionNumber. */
export const WorkflowVersionRefSchema = z.union(
  [z.strictObject({ tag: Tag }), z.strictObject({ versionId: NonEmpty }), z.strictObject({ versionNumber: z.number().int().min(1) })],
  { error: 'workflowVersion must be exactly one of {"tag"}, {"versionId"} or {"versionNumber"}' },
);

export const RunChildJobChildSchema = z
  .looseObject({
    id: NonEmpty.optional(),
    workflowName: NonEmpty.optional(),
    workflowId: NonEmpty.optional(),
    workflowVersion: WorkflowVersionRefSchema,
    forEach: z.strictObject({ arrayPath: NonEmpty }).optional(),
  })
  .refine((c) => (c.workflowName === undefined) !== (c.workflowId === undefined), {
    error: "a child names exactly one of workflowName or workflowId",
  });

export const RunChildJobConfigSchema = z
  .looseObject({
    children: z.array(RunChildJobChildSchema).min(1),
    maxConcurrency: z.number().int().min(1).optional(),
    toleratedFailureCount: z.number().int().min(0).optional(),
    toleratedFailurePercentage: z.number().min(0).max(100).optional(),
  })
  .superRefine((config, ctx) => {
    // Child job ids derive from the child id: two children with one id would be one job.
    const seen = new Set<string>();
    config.children.forEach((child, i) => {
      if (child.id === undefined) return;
      if (seen.has(child.id)) ctx.addIssue({ code: "custom", path: ["children", i, "id"], message: `duplicate child id "${child.id}"` });
      seen.add(child.id);
    });
  });

export const AwsLambdaConfigSchema = z.looseObject({
  region: NonEmpty,
  accountId: z.string().regex(/^\d{12}$/, { error: "an AWS account id is 12 digits" }),
  functionName: NonEmpty,
  qualifier: NonEmpty.optional(),
  timeoutMs: CallTimeoutMs.optional(),
  endpoint: HttpUrl.optional(),
  pollIntervalSeconds: PollIntervalSchema.optional(),
});

export const GcpCloudFunctionConfigSchema = z.looseObject({
  region: NonEmpty,
  projectId: NonEmpty,
  functionName: NonEmpty,
  timeoutMs: CallTimeoutMs.optional(),
  endpoint: HttpUrl.optional(),
  tokenEndpoint: HttpUrl.optional(),
  pollIntervalSeconds: PollIntervalSchema.optional(),
});

export const HttpConfigSchema = z.strictObject({
  url: HttpUrl,
  method: z.enum(["GET", "POST", "PUT", "PATCH", "DELETE"]).optional(),
  // A header value is literal, or names a secret so credentials never sit in the definition.
  headers: z.record(z.string(), z.union([z.string(), z.strictObject({ secret: NonEmpty })])).optional(),
  timeoutMs: CallTimeoutMs.optional(),
  pollIntervalSeconds: PollIntervalSchema.optional(),
});

export const TransformConfigSchema = z.strictObject({
  output: z.record(z.string(), z.unknown()),
});

export const DelayConfigSchema = z.union(
  [z.strictObject({ seconds: DurationSeconds.min(0) }), z.strictObject({ until: z.iso.datetime({ offset: true }) })],
  { error: `delay config is {"seconds": n}, n from 0 to ${MAX_DURATION_SECONDS} (365 days), or {"until": "<RFC 3339 time>"}` },
);

export const ContinueAsNewConfigSchema = z
  .strictObject({
    nextStep: NonEmpty.optional(),
    version: z.union([z.literal("same"), z.strictObject({ tag: Tag })]).optional(),
  })
  .optional();

/** The config schema of each executor type. */
export const EXECUTOR_CONFIG_SCHEMAS: Record<ExecutorType, z.ZodType> = {
  "/justworkflowit/noop": NoopConfigSchema,
  "/justworkflowit/waitForEventIds": WaitForEventIdsConfigSchema,
  "/justworkflowit/runChildJob": RunChildJobConfigSchema,
  "/justworkflowit/aws/lambda": AwsLambdaConfigSchema,
  "/justworkflowit/gcp/cloudfunction": GcpCloudFunctionConfigSchema,
  "/canopy/http": HttpConfigSchema,
  "/canopy/transform": TransformConfigSchema,
  "/canopy/delay": DelayConfigSchema,
  "/canopy/continueAsNew": ContinueAsNewConfigSchema,
};

export type NoopConfig = z.infer<typeof NoopConfigSchema>;
export type WaitForEventIdsConfig = z.infer<typeof WaitForEventIdsConfigSchema>;
export type WorkflowVersionRef = z.infer<typeof WorkflowVersionRefSchema>;
export type RunChildJobChild = z.infer<typeof RunChildJobChildSchema>;
export type RunChildJobConfig = z.infer<typeof RunChildJobConfigSchema>;
export type AwsLambdaConfig = z.infer<typeof AwsLambdaConfigSchema>;
export type GcpCloudFunctionConfig = z.infer<typeof GcpCloudFunctionConfigSchema>;
export type HttpConfig = z.infer<typeof HttpConfigSchema>;
export type TransformConfig = z.infer<typeof TransformConfigSchema>;
export type DelayConfig = z.infer<typeof DelayConfigSchema>;
export type ContinueAsNewConfig = z.infer<typeof ContinueAsNewConfigSchema>;
