import type { JobRpc } from "./messages";

/** Where a job run lives: run 1 under the job id itself, later runs under `<jobId>#<run>`. */

export function runObjectName(jobId: string, runNumber: number): string {
  return runNumber === 1 ? jobId : `${jobId}#${runNumber}`;
}

/** The stub of one run of a job. */
export function jobRunStub(env: Env, jobId: string, runNumber = 1): DurableObjectStub<JobRpc> {
  return env.JOBS.get(env.JOBS.idFromName(runObjectName(jobId, runNumber)));
}
