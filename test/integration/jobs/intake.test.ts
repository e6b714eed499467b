/**
 * The intake object in workerd: a burst's starts are held until it has passed (INTAKE_BURST_LULL_MS
 * after its latest group) and never longer than INTAKE_MAX_START_HOLD_MS; a quiet group starts at
 * once; a full intake refuses a group whole, and SubmitJob through it is answered 429 with nothing
 * stored or listed.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { tenantWith } from "../../helpers/client";
import { step, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import { ApiError } from "../../../src/errors";
import type { Intake, IntakeStart } from "../../../src/intake/intake";
import { intakeShardOf, intakeStub, newIdInShard } from "../../../src/intake/shards";
import { throughIntake } from "../../../src/intake/submit";
import type { JobObject } from "../../../src/job/job-object";
import { submitJob } from "../../../src/job/submit";
import { INTAKE_BURST_LULL_MS, INTAKE_MAX_HELD_STARTS, INTAKE_MAX_START_HOLD_MS, INTAKE_SHARDS } from "../../../src/limits";

const TIMEOUT = 120_000;
const quick = workflow("intake-quick", [step("only", "/justworkflowit/noop")]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
  it(
    "holds a burst's starts until INTAKE_BURST_LULL_MS after its latest group, then starts them; a quiet group in the lull waits too",
    async () => {
      const shard = 1;
      const { client, orgId, starts, definitions } = await startsFor(shard, 3);
      const before = Date.now();
      await intakeStub(env, shard).acceptGroup(definitions, starts.slice(0, 2), true);
      expect(await alarmOf(shard)).toBeGreaterThanOrEqual(before + INTAKE_BURST_LULL_MS);
      // A group of no burst, inside the burst's lull: held as well (the burst's answers are still on their way).
      await intakeStub(env, shard).acceptGroup(definitions, starts.slice(2), false);
      expect(await alarmOf(shard)).toBeGreaterThanOrEqual(before + INTAKE_BURST_LULL_MS);
      // The alarm run early (as a second firing may be) starts nothing and re-arms for the lull's end.
      expect(await runDurableObjectAlarm(intakeStub(env, shard))).toBe(true);
      expect(await pending(shard)).toBe(3);
      expect(await alarmOf(shard)).toBeGreaterThan(Date.now());
      for (const s of starts) expect(await started(s.identity.jobId)).toBe(false);

      await sleep(INTAKE_BURST_LULL_MS + 50);
      await runDurableObjectAlarm(intakeStub(env, shard));
      expect(await pending(shard)).toBe(0);
      for (const s of starts) {
        const { job } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${s.identity.jobId}?waitForTerminalSeconds=20`));
        expect(job.status).toBe("SUCCEEDED");
        expect(await started(s.identity.jobId)).toBe(true);
      }

      // Once the lull has passed, a quiet group arms the alarm for now.
      const later = await startsFor(shard, 1);
      const at = Date.now();
      await intakeStub(env, shard).acceptGroup(later.definitions, later.starts, false);
      expect(await alarmOf(shard)).toBeLessThanOrEqual(at + 50);
    },
    TIMEOUT,
  );

  it(
    `starts held starts INTAKE_MAX_START_HOLD_MS (${INTAKE_MAX_START_HOLD_MS} ms) after the first, however long the burst lasts`,
    async () => {
      const [first, other] = [2, 3];
      const a = await startsFor(first, 1);
      const b = await startsFor(other, 40);
      const heldAt = Date.now();
      await intakeStub(env, first).acceptGroup(a.definitions, a.starts, true);
      // The burst goes on (another intake of the isolate keeps taking its groups) past the hold.
      let sent = 0;
      while (Date.now() < heldAt + INTAKE_MAX_START_HOLD_MS - 300) {
        await intakeStub(env, other).acceptGroup(b.definitions, [b.starts[sent++ % b.starts.length]!], true);
        const alarm = await alarmOf(first);
        expect(alarm).not.toBeNull();
        expect(alarm!).toBeLessThanOrEqual(heldAt + INTAKE_MAX_START_HOLD_MS + 50);
        expect(await pending(first)).toBe(1);
        await sleep(INTAKE_BURST_LULL_MS / 4);
      }
      // Past the hold, the burst still on: the first intake's alarm starts its job.
      while (Date.now() < heldAt + INTAKE_MAX_START_HOLD_MS + 100) {
        await intakeStub(env, other).acceptGroup(b.definitions, [b.starts[sent++ % b.starts.length]!], true);
        await sleep(50);
      }
      await runDurableObjectAlarm(intakeStub(env, first));
      expect(await pending(first)).toBe(0);
      const { job } = await a.client.expect(200, a.client.get(`/organizations/${a.orgId}/jobs/${a.starts[0]!.identity.jobId}`));
      expect(job.status).not.toBe("PENDING");
      expect(await pending(other)).toBeGreaterThan(0);
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
        const a = await o.acceptGroup(definitions, fill, false);
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
