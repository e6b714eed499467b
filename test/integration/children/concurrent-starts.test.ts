/**
 * A fan-out creates its children concurrently, not one after another. On Cloudflare's network each
 * child's start is an RPC to an object on another machine; here every start is made to take 5 ms
 * more (a simulated round trip) by the parent's own bindings, or not at all, and the test records
 * how many starts were in flight at once and how long the creation loop took. The assertions are
 * on concurrency (never on time); the times are printed for docs/children.md ("How children are created").
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { tenantWith } from "../../helpers/client";
import { step, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import type { JobObject } from "../../../src/job/job-object";
import { submitJob } from "../../../src/job/submit";
import { CHILD_START_BATCH } from "../../../src/limits";

const CHILDREN = 300;

const child = workflow("rtt-child", [step("only", "/justworkflowit/noop")]);
const parent = workflow("rtt-parent", [
  step("fan", "/justworkflowit/runChildJob", {
    config: { children: [{ workflowName: "rtt-child", workflowVersion: { tag: "$LIVE" }, forEach: { arrayPath: "workflowInput.items" } }] },
  }),
]);

/** A JOBS namespace whose stubs' `start` takes `rttMs` longer, recording what was in flight. */
function slowStarts(jobs: DurableObjectNamespace<JobObject>, rttMs: number) {
  const seen = { inFlight: 0, maxInFlight: 0, calls: 0, first: 0, last: 0 };
  const namespace = new Proxy(jobs, {
    get(target, prop) {
      if (prop !== "get") {
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      }
      return (id: DurableObjectId) => {
        const real = target.get(id);
        return new Proxy(real, {
          get(s, p) {
            if (p !== "start") return Reflect.get(s, p);
            return async (...args: unknown[]) => {
              seen.calls++;
              seen.first ||= Date.now();
              seen.maxInFlight = Math.max(seen.maxInFlight, ++seen.inFlight);
              try {
                if (rttMs > 0) await new Promise((r) => setTimeout(r, rttMs));
                return await (real.start as (...a: unknown[]) => Promise<unknown>)(...args);
              } finally {
                seen.inFlight--;
                seen.last = Date.now();
              }
            };
          },
        });
      };
    },
  });
  return { namespace, seen };
}

describe("a fan-out's children", () => {
  it.each([5, 0])(
    `are created ${CHILD_START_BATCH} at a time, not one after another (each start made %i ms slower)`,
    async (rttMs) => {
      const { client, orgId, ids } = await tenantWith(admin, child, parent);
      const jobId = crypto.randomUUID();
      const { namespace, seen } = slowStarts(env.JOBS as DurableObjectNamespace<JobObject>, rttMs);
      // The parent's object, before its job exists, gets bindings whose child starts are slow.
      await runInDurableObject(env.JOBS.get(env.JOBS.idFromName(jobId)), (o: JobObject) => {
        (o as unknown as { env: Env }).env = { ...env, JOBS: namespace } as Env;
      });
      const items = Array.from({ length: CHILDREN }, (_, i) => ({ i }));
      const req = { organizationId: orgId, workflow: { workflowId: ids["rtt-parent"]! }, version: { tag: "$LIVE" }, input: { items }, submittedByUser: "tests", jobId };
      await submitJob(env, req);
      const { job } = await waitForJob(client, orgId, jobId, undefined, 120_000);
      expect(job.status).toBe("SUCCEEDED");
      expect(job.output.succeeded).toBe(CHILDREN);

      expect(seen.calls).toBe(CHILDREN);
      // Concurrent: a pass sends its batch of starts together (200 were in flight at once in every run
      // here; the bound asserted is half of that, which no serial loop comes near).
      expect(seen.maxInFlight).toBeGreaterThanOrEqual(Math.min(CHILD_START_BATCH, CHILDREN) / 2);
      const loopMs = seen.last - seen.first;
      console.log(
        JSON.stringify({ concurrentStarts: { children: CHILDREN, simulatedRttMs: rttMs, maxInFlight: seen.maxInFlight, creationLoopMs: loopMs, serialWouldAddMs: CHILDREN * rttMs } }),
      );
    },
    180_000,
  );
});
