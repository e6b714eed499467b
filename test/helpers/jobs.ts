/** Test helpers for jobs: definitions in a few lines, and polling until a job settles. */
import type { TestClient } from "./client";

export function step(name: string, type: string, extra: Record<string, any> = {}, transitionToStep: unknown = null) {
  const { config, inputTransformer, input = "any", output = "any", ...rest } = extra;
  return {
    name,
    ...rest,
    integrationDetails: {
      type,
      ...(config !== undefined ? { config } : {}),
      ...(inputTransformer !== undefined ? { inputTransformer } : {}),
      inputDefinition: { $ref: `#/definitions/${input}` },
      outputDefinition: { $ref: `#/definitions/${output}` },
    },
    transitionToStep,
  };
}

export function workflow(workflowName: string, steps: unknown[], definitions: Record<string, unknown> = {}) {
  return { workflowName, steps, definitions: { workflowInput: { type: "object" }, any: {}, ...definitions } };
}

export const TERMINAL = ["SUCCEEDED", "FAILED", "CANCELLED"];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls GetJob until `until(job)` holds. */
export async function waitForJob(
  client: TestClient,
  orgId: string,
  jobId: string,
  until: (job: any) => boolean = (j) => TERMINAL.includes(j.status),
  timeoutMs = 20_000,
): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  let last: any;
  while (Date.now() < deadline) {
    const res = await client.get(`/organizations/${orgId}/jobs/${jobId}`);
    if (res.status === 200) {
      last = res.body;
      if (until(res.body.job)) return res.body;
    }
    await sleep(50);
  }
  throw new Error(`job ${jobId} did not reach the expected state; last seen: ${JSON.stringify(last)}`);
}

/**
 * Submits a job and returns its id, once the job's Durable Object exists: SubmitJob answers when the
 * intake holds the job, and a GetJob has it started on demand, so a test may reach into the object.
 */
export async function submit(client: TestClient, orgId: string, body: Record<string, unknown>): Promise<string> {
  const res = await client.expect(200, client.post(`/organizations/${orgId}/jobs`, body));
  await client.expect(200, client.get(`/organizations/${orgId}/jobs/${res.jobId}`));
  return res.jobId;
}
