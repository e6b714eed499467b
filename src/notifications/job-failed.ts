/** The notification a top-level job's failure raises. */
import type { JobState } from "../engine/types";
import type { NotificationInput } from "./types";

/** Keyed by the job's end (its index sequence), so a resumed job that fails again raises again. */
export function jobFailedNotification(s: JobState): NotificationInput {
  const id = s.identity;
  const where = s.error?.stepName ? ` at step "${s.error.stepName}"` : "";
  return {
    organizationId: id.organizationId,
    type: "JOB_FAILED",
    title: `Job of ${id.workflowName} failed`,
    message: `Job ${id.jobId} of workflow ${id.workflowName} (version ${id.versionNumber}) failed${where}: ${s.error?.code ?? "ERROR"}: ${s.error?.message ?? "no message"}`,
    resourceId: id.jobId,
    dedupeKey: `job-failed:${id.jobId}:${s.indexSeq}`,
  };
}
