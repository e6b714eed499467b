/** What the schedule routes accept and answer: their zod schemas, which also write /openapi.json. */
import { z } from "@hono/zod-openapi";
import { DEFAULT_CATCHUP_WINDOW_SECONDS, MAX_CATCHUP_WINDOW_SECONDS, MAX_JITTER_SECONDS } from "../../limits";
import { OVERLAP_POLICIES } from "../../schedule/spec";
import { OrgParams, VersionSelectorSchema } from "../schemas";

export const ScheduleSpecBody = z
  .object({
    workflowId: z.string().min(1).max(100).optional(),
    workflowName: z.string().min(1).max(200).optional(),
    workflowVersion: VersionSelectorSchema.openapi({ description: "A tag is resolved again at each firing." }),
    inputJson: z.union([z.string(), z.record(z.string(), z.unknown())]).optional().openapi({
      description: "A JSON object (or its JSON text): every firing's job input, unchanged. The job shows its nominal fire time as `scheduledAt` in its JobSummary.",
    }),
    cron: z.string().min(1).max(200).openapi({
      description: "5 fields, or 6 with seconds first; @yearly, @monthly, @weekly, @daily, @hourly. Parsed by croner. At most one firing per second.",
      example: "*/15 * * * *",
    }),
    timezone: z.string().min(1).max(100).default("UTC").openapi({ description: "An IANA timezone; the cron is read in it, DST included." }),
    startAt: z.iso.datetime({ offset: true }).optional().openapi({ description: "No firing before this time (inclusive)." }),
    endAt: z.iso.datetime({ offset: true }).optional().openapi({ description: "No firing after this time (inclusive)." }),
    jitterSeconds: z.number().int().min(0).max(MAX_JITTER_SECONDS).default(0).openapi({ description: "Each firing is delayed by a random (but fixed per firing) 0 to jitterSeconds." }),
    overlapPolicy: z.enum(OVERLAP_POLICIES).default("SKIP").openapi({
      description:
        "When the previous firing's job is still running. SKIP: do not start. BUFFER_ONE: start once it ends (one firing waits; more are skipped). ALLOW_ALL: start anyway. CANCEL_OTHER: cancel it and start once it and its child jobs have ended. TERMINATE_OTHER: cancel it and start at once.",
    }),
    catchupWindowSeconds: z.number().int().min(0).max(MAX_CATCHUP_WINDOW_SECONDS).default(DEFAULT_CATCHUP_WINDOW_SECONDS).openapi({
      description: "A firing missed while the engine was down still runs when at most this late; later ones are counted as missed.",
    }),
    pauseOnFailure: z.boolean().default(false).openapi({ description: "Pause when a firing finds the previous firing's job FAILED." }),
  })
  .refine((b) => (b.workflowId === undefined) !== (b.workflowName === undefined), {
    message: "Give exactly one of workflowId and workflowName.",
    path: ["workflowId"],
  })
  .openapi("ScheduleSpecRequest");

export const SpecSchema = z
  .object({
    workflowId: z.string(),
    workflowName: z.string(),
    workflowVersion: VersionSelectorSchema,
    inputJson: z.record(z.string(), z.unknown()),
    cron: z.string(),
    timezone: z.string(),
    startAt: z.string().optional(),
    endAt: z.string().optional(),
    jitterSeconds: z.number().int(),
    overlapPolicy: z.enum(OVERLAP_POLICIES),
    catchupWindowSeconds: z.number().int(),
    pauseOnFailure: z.boolean(),
  })
  .openapi("ScheduleSpec");

export const ActionResult = z.enum(["PENDING", "BUFFERED", "STARTED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", "SKIPPED", "NOT_STARTED"]);

export const ScheduleSchema = z
  .object({
    scheduleId: z.string(),
    spec: SpecSchema,
    paused: z.boolean(),
    note: z.string().optional(),
    nextFireTimes: z.array(z.string()).openapi({ description: "The next 5 nominal fire times (before jitter)." }),
    recentActions: z
      .array(
        z.object({
          trigger: z.enum(["SCHEDULED", "TRIGGERED", "BACKFILL"]),
          scheduledAt: z.string().openapi({ description: "The nominal fire time (RFC 3339): the job's scheduledAt." }),
          actionTime: z.string(),
          jobId: z.string().optional(),
          result: ActionResult.openapi({ description: "The job's status, or what became of a firing that started none." }),
          detail: z.string().optional(),
        }),
      )
      .openapi({ description: "The last 10 actions, newest first: `{scheduledAt, jobId, result}` and what led to them." }),
    missedCount: z.number().int().openapi({ description: "Firings later than the catch-up window (engine down), never run." }),
    skippedCount: z.number().int().openapi({ description: "Firings the overlap policy (or pauseOnFailure) did not run." }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("Schedule");

/** What CreateSchedule, Pause/Unpause, TriggerScheduleNow and BackfillSchedule answer (API.md's fixed shapes). */
export const ScheduleIdSchema = z.object({ scheduleId: z.string() }).openapi("ScheduleIdResponse");

export const ScheduleSummarySchema = z
  .object({ scheduleId: z.string(), spec: SpecSchema, paused: z.boolean(), note: z.string().optional(), createdAt: z.string(), updatedAt: z.string() })
  .openapi("ScheduleSummary");

export const ScheduleParams = OrgParams.extend({
  scheduleId: z.string().min(1).max(100).openapi({ param: { name: "scheduleId", in: "path" } }),
});

export const NoteBody = z.object({ note: z.string().max(1000).optional() }).openapi("ScheduleNoteRequest");
export const optionalBody = <T extends z.ZodType>(schema: T) => ({ body: { required: false, content: { "application/json": { schema } } } });

export type SpecBody = z.infer<typeof ScheduleSpecBody>;
