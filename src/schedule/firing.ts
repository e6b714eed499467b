/**
 * What a schedule does to jobs: start a firing's job through SubmitJob's path under an id derived
 * from (schedule, nominal fire time), read a job's status, cancel it. Each is safe to repeat.
 */
import type { JobStatus } from "../engine/types";
import { ApiError, type RpcResult } from "../errors";
import { deterministicId } from "../ids";
import type { JobSummary } from "../job/views";
import { jobRunStub } from "../job/naming";
import { submitJob } from "../job/submit";
import { unfinishedInTree } from "../job-index/shards";
import { organizationIndex } from "../registry/organizations";
import type { ScheduleSpec } from "./spec";

/** The job id of a firing: the same for every attempt, so a replayed alarm reaches the same job. */
export function firingJobId(scheduleId: string, fireAt: number): Promise<string> {
  return deterministicId("schedule", scheduleId, fireAt);
}

export type StartOutcome = { ok: true; created: boolean } | { ok: false; message: string };

/**
 * Starts the firing's job (the version, a tag included, is resolved now). A refusal the API would
 * answer with 4xx (workflow deleted, input no longer valid) is an outcome; anything else throws, and
 * the alarm retries.
 */
export async function startFiring(env: Env, organizationId: string, scheduleId: string, spec: ScheduleSpec, fireAt: number, jobId: string): Promise<StartOutcome> {
  try {
    const { created } = await submitJob(env, {
      organizationId,
      workflow: { workflowId: spec.workflowId },
      version: spec.workflowVersion,
      // The input is the schedule's inputJson unchanged; the fire time travels in the job's identity.
      input: spec.input,
      submittedByUser: `schedule:${scheduleId}`,
      jobId,
      scheduleId,
      scheduledAt: fireAt,
    });
    return { ok: true, created };
  } catch (e) {
    if (e instanceof ApiError && e.status < 500) return { ok: false, message: `${e.code}: ${e.message}` };
    throw e;
  }
}

/** The job's status from its own object (not the index, which may lag); undefined if there is no such job. */
export async function jobStatus(env: Env, organizationId: string, jobId: string): Promise<JobStatus | undefined> {
  // Without its output: only the status is needed.
  const res = (await jobRunStub(env, jobId).describe(organizationId, false)) as RpcResult<JobSummary>;
  return res.ok ? res.value.status : undefined;
}

export function isRunning(status: JobStatus | undefined): boolean {
  return status === "PENDING" || status === "RUNNING";
}

/** Cancels a job; one that has already ended (409) or does not exist (404) is fine. */
export async function cancelJob(env: Env, organizationId: string, jobId: string): Promise<void> {
  await jobRunStub(env, jobId).cancel(organizationId);
}

/**
 * True once the job has ended and so has every job of its tree, as the index shows it: a cancelled
 * job's children are cancelled after it, from its alarm (CANCEL_OTHER waits for that cleanup).
 */
export async function treeEnded(env: Env, organizationId: string, jobId: string): Promise<boolean> {
  if (isRunning(await jobStatus(env, organizationId, jobId))) return false;
  return (await unfinishedInTree(env, await organizationIndex(env.DB, organizationId), jobId)) === 0;
}
