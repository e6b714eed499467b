/**
 * The intake object in workerd: while its isolate takes a burst, its starts are held until the burst
 * has passed (INTAKE_BURST_LULL_MS after its latest group) and never longer than
 * INTAKE_MAX_START_HOLD_MS; with no burst a group starts at once; a full intake refuses a group
 * whole, and SubmitJob through it is answered 429 with nothing stored or listed. The burst is set
 * by the test (noteBurst), so nothing here depends on how fast the machine is.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { tenantWith } from "../../helpers/client";
import { step, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import { ApiError } from "../../../src/errors";
import type { Intake, IntakeStart } from "../../../src/intake/intake";
import { noteBurst } from "../../../src/intake/burst";
import { intakeShardOf, intakeStub, newIdInShard } from "../../../src/intake/shards";
import { throughIntake } from "../../../src/intake/submit";
import type { JobObject } from "../../../src/job/job-object";
import { submitJob } from "../../../src/job/submit";
import { INTAKE_BURST_LULL_MS, INTAKE_MAX_HELD_STARTS, INTAKE_MAX_START_HOLD_MS, INTAKE_SHARDS } from "../../../src/limits";

const TIMEOUT = 120_000;
const quick = workflow("intake-quick", [step("only", "/justworkflowit/noop")]);

/** A tenant with `quick` deployed, and `n` starts of it for shard `shard` (as the Worker makes them). */
async function startsFor(shard: number, n: number) {
  const { client, orgId, ids } = await tenantWith(admin, quick);
  const workflowId = ids[quick.workflowName]!;
  const { versionId, definition } = await runVersion(client, orgId, workflowId);
  const starts: IntakeStart[] = Array.from({ length: n }, (_, i) => {
    const jobId = newIdInShard(shard);
    return {
      identity: { jobId, organizationId: orgId, workflowId, workflowName: "intake-quick", versionId, versionNumber: 1, submittedByUser: "tests", runNumber: 1, rootJobId: jobId, depth: 0, createdAt: Date.now() },
      input: { i },
    };
  });
  return { client, orgId, starts, definitions: { [versionId]: definition } };
}

async function runVersion(client: Awaited<ReturnType<typeof tenantWith>>["client"], orgId: string, workflowId: string) {
  const { versions } = await client.expect(200, client.get(`/organizations/${orgId}/workflows/${workflowId}/versions`));
  const v = versions[0];
  return { versionId: v.versionId as string, definition: typeof v.definition === "string" ? v.definition : JSON.stringify(v.definition) };
}

const pending = (shard: number) => intakeStub(env, shard).pending();
const alarmOf = (shard: number) => runInDurableObject(intakeStub(env, shard), (_o: Intake, state) => state.storage.getAlarm());
const started = (jobId: string) => runInDurableObject(env.JOBS.get(env.JOBS.idFromName(jobId)), (o: JobObject) => o.state !== null);

describe("the intake", () => {
  // The burst signal is this isolate's (src/intake/burst.ts): the test, the Worker and the intake
  // objects share it here, as every object shares one thread under wrangler dev.
  afterEach(() => noteBurst(0));

  it(
    "holds the starts it accepts while its isolate takes a burst, until INTAKE_BURST_LULL_MS after the burst's latest group, then starts them",
    async () => {
      const shard = 1;
      const { client, orgId, starts, definitions } = await startsFor(shard, 3);
      const burstAt = Date.now();
      noteBurst(burstAt);
      await intakeStub(env, shard).acceptGroup(definitions, starts.slice(0, 2));
      expect(await alarmOf(shard)).toBe(burstAt + INTAKE_BURST_LULL_MS);
      // The burst goes on; a third start joins the hold, and the alarm run early (as a second firing may
      // be) starts nothing and re-arms for the lull's end.
      noteBurst(Date.now());
      await intakeStub(env, shard).acceptGroup(definitions, starts.slice(2));
      expect(await runDurableObjectAlarm(intakeStub(env, shard))).toBe(true);
      expect(await pending(shard)).toBe(3);
      expect(await alarmOf(shard)).toBeGreaterThan(Date.now() - 1);
      for (const s of starts) expect(await started(s.identity.jobId)).toBe(false);

      // The burst has passed: the alarm starts them all.
      noteBurst(0);
      await runDurableObjectAlarm(intakeStub(env, shard));
      expect(await pending(shard)).toBe(0);
      for (const s of starts) {
        const { job } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${s.identity.jobId}?waitForTerminalSeconds=20`));
        expect(job.status).toBe("SUCCEEDED");
        expect(await started(s.identity.jobId)).toBe(true);
      }

      // With no burst, a group arms the alarm for now.
      const later = await startsFor(shard, 1);
      const before = Date.now();
      await intakeStub(env, shard).acceptGroup(later.definitions, later.starts);
      const armed = await alarmOf(shard);
      expect(armed === null || armed <= Date.now()).toBe(true);
      expect(armed === null || armed >= before).toBe(true);
    },
    TIMEOUT,
  );

  it(
    `holds starts at most INTAKE_MAX_START_HOLD_MS (${INTAKE_MAX_START_HOLD_MS} ms) after the first, however long the burst lasts`,
    async () => {
      const shard = 2;
      const a = await startsFor(shard, 2);
      // A burst that is still going whenever the alarm looks (its latest group always "now").
      noteBurst(Number.MAX_SAFE_INTEGER - INTAKE_BURST_LULL_MS);
      const before = Date.now();
      await intakeStub(env, shard).acceptGroup(a.definitions, a.starts.slice(0, 1));
      const after = Date.now();
      const armed = (await alarmOf(shard))!;
      expect(armed).toBeGreaterThanOrEqual(before + INTAKE_MAX_START_HOLD_MS);
      expect(armed).toBeLessThanOrEqual(after + INTAKE_MAX_START_HOLD_MS);
      // A later group of the same burst does not push the hold further.
      await intakeStub(env, shard).acceptGroup(a.definitions, a.starts.slice(1));
      expect(await alarmOf(shard)).toBe(armed);
      expect(await runDurableObjectAlarm(intakeStub(env, shard))).toBe(true);
      expect(await pending(shard)).toBe(2);
      expect(await alarmOf(shard)).toBe(armed);
    },
    TIMEOUT,
  );

  it(
    `holds at most INTAKE_MAX_HELD_STARTS (${INTAKE_MAX_HELD_STARTS}) starts: a submission past it is answered 429 and nothing is stored or listed`,
    async () => {
      // The shard the isolate's next submission through the intake goes to.
      const shard = intakeShardOf(throughIntake.newJobId());
      expect(shard).toBeLessThan(INTAKE_SHARDS);
      const { client, orgId, starts, definitions } = await startsFor(shard, INTAKE_MAX_HELD_STARTS);
      const stub = intakeStub(env, shard);
      const already = await stub.pending();
      // Filled to the bound exactly (its alarm removed in the same turn, so nothing starts meanwhile).
      const fill = starts.slice(already);
      const answer = await runInDurableObject(stub, async (o: Intake, state) => {
        const a = await o.acceptGroup(definitions, fill);
        await state.storage.deleteAlarm();
        return a;
      });
      expect(answer).toEqual({ accepted: fill.length });
      expect(await stub.pending()).toBe(INTAKE_MAX_HELD_STARTS);

      const { versionId } = await runVersion(client, orgId, starts[0]!.identity.workflowId);
      expect(versionId).toBe(starts[0]!.identity.versionId);
      const req = { organizationId: orgId, workflow: { workflowId: starts[0]!.identity.workflowId }, version: { tag: "$LIVE" }, input: { over: true }, submittedByUser: "tests" };
      const refused = await submitJob(env, req, throughIntake).then(
        () => null,
        (e: unknown) => e,
      );
      expect(refused).toBeInstanceOf(ApiError);
      expect((refused as ApiError).status).toBe(429);
      expect((refused as ApiError).message).toContain(`at most ${INTAKE_MAX_HELD_STARTS} per intake`);
      expect(await stub.pending()).toBe(INTAKE_MAX_HELD_STARTS);
      // Listed: only the jobs the filled intake holds (none here: they were put in by hand, not by SubmitJob).
      const { jobs } = await client.expect(200, client.get(`/organizations/${orgId}/jobs`));
      expect(jobs).toEqual([]);

      // Drained, the intake takes submissions again.
      await runInDurableObject(stub, (_o: Intake, state) => state.storage.sql.exec(`DELETE FROM start`));
      const { jobId } = await submitJob(env, { ...req, input: { over: false } }, throughIntake);
      const { job } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}?waitForTerminalSeconds=20`));
      expect(job.status).toBe("SUCCEEDED");
    },
    TIMEOUT,
  );
});
