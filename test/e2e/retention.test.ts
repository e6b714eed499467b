// Retention and the tree deletion against a real `npm start` with its own STATE_DIR: with a 60 s
// retention, a fan-out and its children, a three-run continueAsNew loop, a FAILED job and a
// CANCELLED job are 404 within a minute or two, and a scan of every SQLite file in the state
// directory finds none of their ids. While those wait for their retention, a 300-child tree is
// deleted (DeleteJob starts the same sweep retention does) and the engine is killed -9 part-way:
// after the restart the sweep finishes, and nothing that should stay is lost.
//
// What the scan found, and why its two parts say different things (docs/store-design.md#what-deleting-leaves-on-disk):
// - live rows (what any query could still return): none of a deleted job's ids, in any store;
// - raw bytes: none in any job object's file (deleteAll leaves an empty 4 KiB database and an
//   empty log). An index object or D1 deletes rows with DELETE, and SQLite without secure_delete
//   leaves their bytes in free pages until reused; workerd refuses PRAGMA secure_delete, VACUUM and
//   incremental_vacuum (SQLITE_AUTH or "cannot VACUUM from within a transaction"), so the test asserts
//   that such leftovers are only there, and unreadable by any query, and prints them.
// The audit log keeps its entries (a job's cancel, its deletion) after the jobs they name are gone,
// by design: the scan says which ids it holds, and that they are those entries only.
// Three stores are the local runtime's, not Canopy's, and are told apart by name (sqlite-scan.ts):
// workerd's alarm index (an alarm row names its object: deleted with the alarm, its bytes may stay
// in the log), an object's database holding only miniflare's `__miniflare_do_name` (any object asked
// for by name may get one: a GetJob of a deleted job can make it), and
// wrangler's trace and log store (state/v3/observability, on by default in `wrangler dev`: each
// request's URL and every log line, job ids among them), left out of the assertions.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deployWorkflow, newTenant, type TestClient } from "../helpers/client";
import { step, submit, waitForJob, workflow } from "../helpers/jobs";
import { listAllJobs, printServerLogsOnFailure } from "./jobs";
import { EngineServer, waitFor } from "./server";
import { liveHits, rawHits, type Hit } from "./sqlite-scan";
import { RETIRE_BATCH } from "../../src/limits";

const BIG = 300;
const leaf = workflow("leaf", [step("only", "/justworkflowit/noop")]);
const fan = workflow("fan", [
  step("spawn", "/justworkflowit/runChildJob", { config: { children: [{ workflowName: "leaf", workflowVersion: { tag: "$LIVE" }, forEach: { arrayPath: "workflowInput.items" } }] } }),
]);
const looper = workflow("looper", [
  step("work", "/canopy/transform", { config: { output: { i: { "+": [{ var: "workflowInput.i" }, 1] } } } }, { if: [{ "<": [{ var: "work.output.i" }, 3] }, "again", null] }),
  step("again", "/canopy/continueAsNew", { config: { nextStep: "work" } }),
]);
// Port 9 on loopback refuses connections: the job fails at once.
const failing = workflow("failing", [step("call", "/canopy/http", { retries: 0, config: { url: "http://127.0.0.1:9/x" } })]);
const hold = workflow("hold", [step("wait", "/justworkflowit/waitForEventIds", { config: { eventIds: ["never"] } })]);
const items = (n: number) => ({ items: Array.from({ length: n }, (_, i) => ({ i })) });

const status = async (client: TestClient, orgId: string, jobId: string) => (await client.get(`/organizations/${orgId}/jobs/${jobId}`)).status;
const summary = (hits: Hit[]) => hits.map((h) => `${h.store} ${h.file}${h.table ? ` (${h.table})` : ""}: ${h.id}`);

/** Waits until no job object's database holds any of these ids; says which still do if not. */
async function untilGone(dir: string, ids: string[]): Promise<void> {
  await waitFor(async () => rawHits(dir, ids, "JobObject").length === 0, 120_000, 1000).catch((e: unknown) => {
    throw new Error(`${String(e)}; still held: ${JSON.stringify(summary(rawHits(dir, ids, "JobObject")).slice(0, 10))}`);
  });
}

describe("retention against a real engine", () => {
  const server = new EngineServer();
  beforeAll(() => server.start());
  afterAll(() => server.dispose());
  printServerLogsOnFailure(server);

  it(
    "deletes every tree within minutes of its retention, survives kill -9 mid-sweep, and leaves no id in any store",
    async () => {
      const { orgId, client } = await newTenant(server.admin);
      const other = await newTenant(server.admin);
      for (const def of [leaf, fan, looper, failing, hold]) await deployWorkflow(client, orgId, def);
      await deployWorkflow(other.client, other.orgId, leaf);
      await client.expect(200, client.put(`/organizations/${orgId}/retention`, { succeededSeconds: 60, failedSeconds: 60, cancelledSeconds: 60 }));
      const v = { workflowVersion: { tag: "$LIVE" } };

      // Everything is submitted first, and waited for once.
      const tree = await submit(client, orgId, { workflowName: "fan", ...v, inputJson: items(5) });
      const loop = await submit(client, orgId, { workflowName: "looper", ...v, inputJson: { i: 0 } });
      const failed = await submit(client, orgId, { workflowName: "failing", ...v });
      const cancelled = await submit(client, orgId, { workflowName: "hold", ...v });
      const big = await submit(client, orgId, { workflowName: "fan", ...v, inputJson: items(BIG) });
      const survivor = await submit(client, orgId, { workflowName: "hold", ...v, idempotencyKey: "stays" });
      const elsewhere = await submit(other.client, other.orgId, { workflowName: "leaf", ...v });
      await waitForJob(client, orgId, cancelled, (j) => j.status === "RUNNING", 60_000);
      await client.expect(200, client.post(`/organizations/${orgId}/jobs/${cancelled}/cancel`));
      for (const id of [tree, loop, failed, cancelled, big]) await waitForJob(client, orgId, id, undefined, 180_000);
      await waitForJob(other.client, other.orgId, elsewhere);
      expect((await waitForJob(client, orgId, loop)).job.runNumber).toBe(3);
      expect((await waitForJob(client, orgId, failed)).job.status).toBe("FAILED");
      const children = await waitFor(async () => {
        const kids = await listAllJobs(client, orgId, { parentJobId: tree });
        return kids.length === 5 && kids.every((k) => k.status === "SUCCEEDED") ? kids.map((k) => k.jobId as string) : null;
      });
      const bigChildren = await waitFor(async () => {
        const kids = await listAllJobs(client, orgId, { parentJobId: big });
        return kids.length === BIG ? kids.map((k) => k.jobId as string) : null;
      }, 120_000);
      const retained = [tree, ...children, loop, failed, cancelled];
      const stays = [survivor, elsewhere];

      // kill -9 while the big tree's sweep runs (it visits 50 objects per alarm and logs each pass):
      // as soon as the log says some are deleted and some are not (scanning files is too slow to
      // catch a sweep that frees 300 objects in a few hundred milliseconds).
      expect(await client.expect(200, client.delete(`/organizations/${orgId}/jobs/${big}`))).toEqual({ jobId: big });
      const progress = new RegExp(`"event":"job.deleteProgress"[^\\n]*"jobId":"${big}","done":[1-9]\\d*,"todo":[1-9]`);
      await waitFor(async () => progress.test(server.logs), 60_000, 2);
      await server.kill();
      const logsBeforeKill = server.logs;
      // A child's own database names one child of the tree; its parent's (the root's, which goes
      // last and drives the sweep) names them all.
      const remaining = () => {
        const perFile = new Map<string, number>();
        for (const h of rawHits(server.stateDir, bigChildren, "JobObject")) perFile.set(h.file, (perFile.get(h.file) ?? 0) + 1);
        return [...perFile.values()].filter((n) => n === 1).length;
      };
      const leftAtKill = remaining();
      console.log(`kill -9 left ${leftAtKill} of the ${BIG} children's objects to delete`);
      // The kill found the sweep part-way: some children deleted, some not.
      expect(leftAtKill).toBeGreaterThan(0);
      expect(leftAtKill).toBeLessThan(BIG);
      await server.start();
      expect(await status(client, orgId, big)).toBe(404);
      for (const id of stays) expect([await status(client, orgId, id), await status(other.client, other.orgId, id)]).toContain(200);
      expect((await client.expect(200, client.get(`/organizations/${orgId}/jobs/${survivor}`))).job.status).toBe("RUNNING");
      expect(await status(client, orgId, big)).toBe(404);
      expect(await status(client, orgId, bigChildren[0]!)).toBe(404);
      expect((await client.expect(200, client.get(`/organizations/${orgId}/jobs?jobHierarchy=TOP_LEVEL_ONLY&pageSize=100`))).jobs.map((j: any) => j.jobId)).not.toContain(big);
      await untilGone(server.stateDir, [big, ...bigChildren]);
      // Each alarm of the sweep visited at most RETIRE_BATCH objects: its progress lines say so.
      const done = (logsBeforeKill + server.logs)
        .split("\n")
        .filter((l) => l.includes('"job.deleteProgress"') && l.includes(big))
        .map((l) => (JSON.parse(l.slice(l.indexOf("{"))) as { done: number }).done);
      expect(done.length).toBeGreaterThanOrEqual(BIG / RETIRE_BATCH);
      done.slice(1).forEach((d, i) => expect(d - done[i]!).toBeLessThanOrEqual(RETIRE_BATCH));

      // Retention: each tree goes a minute after it ended, with every run and child.
      await waitFor(async () => {
        for (const id of retained) if ((await status(client, orgId, id)) !== 404) return false;
        return true;
      }, 180_000, 2000);
      for (const id of stays) expect(await status(id === elsewhere ? other.client : client, id === elsewhere ? other.orgId : orgId, id)).toBe(200);
      // The sweeps may still be freeing objects just after the 404s: wait for the last.
      const deleted = [...retained, big, ...bigChildren];
      await untilGone(server.stateDir, deleted);
      // Asked for after its deletion: 404 (the runtime may record the object's name: see the header).
      expect(await status(client, orgId, children[0]!)).toBe(404);
      await server.stop();

      // The scanner finds what is there: the jobs that stay are in their objects and their index.
      const found = liveHits(server.stateDir, stays);
      expect(new Set(found.filter((h) => h.store === "JobObject").map((h) => h.id))).toEqual(new Set(stays));
      expect(new Set(found.filter((h) => h.store === "JobIndex").map((h) => h.id))).toEqual(new Set(stays));

      // No live row names a deleted job, in any store (the alarm index included: each alarm went),
      // but for the name miniflare records of an object asked for after its deletion.
      const live = liveHits(server.stateDir, deleted).filter((h) => h.store !== "localObservability");
      expect(summary(live.filter((h) => h.store !== "objectName" && h.store !== "AuditLog"))).toEqual([]);
      // The audit log's entries outlive the jobs they name, by design: the cancel of one and the
      // deletion of another, and nothing else of theirs.
      const audited = live.filter((h) => h.store === "AuditLog");
      expect(audited.every((h) => h.table === "entry")).toBe(true);
      expect(new Set(audited.map((h) => h.id))).toEqual(new Set([cancelled, big]));
      expect(live.filter((h) => h.store === "objectName").every((h) => h.table === "__miniflare_do_name")).toBe(true);
      // No byte of a deleted job is left in a job object's database.
      const raw = rawHits(server.stateDir, deleted).filter((h) => h.store !== "localObservability");
      expect(summary(raw.filter((h) => h.store === "JobObject" || h.store === "other"))).toEqual([]);
      // What SQLite kept of deleted rows in free pages and logs (an index object, D1, the runtime's
      // alarm index): unreadable by any query (asserted above), printed for the record.
      const residue = raw.filter((h) => h.store === "JobIndex" || h.store === "D1" || h.store === "alarmIndex" || h.store === "objectName");
      const byStore = Object.fromEntries(["JobIndex", "D1", "alarmIndex", "objectName"].map((st) => [st, new Set(residue.filter((h) => h.store === st).map((h) => h.id)).size]));
      console.log(`free-page residue, ids of ${deleted.length} deleted jobs found in the bytes: ${JSON.stringify(byStore)}`);
    },
    600_000,
  );
});
