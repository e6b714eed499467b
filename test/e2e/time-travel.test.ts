// Time travel against a real `npm start`: a step fails because of a bug, the bug is fixed in a new
// version, and the failed jobs carry on from where they broke without calling the steps that
// already succeeded (a real HTTP endpoint counts the calls); and a paused job stays paused across a
// kill -9, its timer falling due while the engine is down, and finishes after unpause.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deployWorkflow, newTenant } from "../helpers/client";
import { step, submit, waitForJob, workflow } from "../helpers/jobs";
import { printServerLogsOnFailure } from "./jobs";
import { EngineServer, sleep } from "./server";

const http = "/canopy/http";

/** A far end that counts the calls to each path: /ship-v1 refuses, every other path answers {path}. */
class CountingEndpoint {
  readonly calls = new Map<string, number>();
  private server?: Server;
  port = 0;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const path = (req.url ?? "/").split("?")[0]!;
      req.resume();
      req.on("end", () => {
        this.calls.set(path, (this.calls.get(path) ?? 0) + 1);
        const refused = path.endsWith("/ship-v1");
        res.writeHead(refused ? 422 : 200, { "content-type": "application/json" });
        res.end(JSON.stringify(refused ? { error: "bug #7" } : { path, ok: true }));
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  count(path: string): number {
    return this.calls.get(path) ?? 0;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

describe("time travel against npm start", () => {
  const server = new EngineServer();
  const far = new CountingEndpoint();
  beforeAll(async () => {
    await far.start();
    await server.start();
  });
  afterAll(async () => {
    await server.dispose();
    await far.stop();
  });
  printServerLogsOnFailure(server);

  it("carries failed jobs on from the failed step on a fixed version, one by RerunJob and the rest by RerunJobs, calling no earlier step again", async () => {
    const { orgId, client } = await newTenant(server.admin);
    const call = (name: string, path: string, next: string | null = null) => step(name, http, { config: { url: far.url(`/${orgId}${path}`) } }, next);
    const order = (ship: unknown) => workflow("order", [call("reserve", "/reserve", "charge"), call("charge", "/charge", "ship"), ship]);
    const { workflowId } = await deployWorkflow(client, orgId, order(call("ship", "/ship-v1")));
    const sources: string[] = [];
    for (const sku of ["A", "B", "C"]) sources.push(await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: { sku } }));
    for (const id of sources) expect((await waitForJob(client, orgId, id, undefined, 60_000)).job).toMatchObject({ status: "FAILED", error: { stepName: "ship" } });
    expect([far.count(`/${orgId}/reserve`), far.count(`/${orgId}/charge`), far.count(`/${orgId}/ship-v1`)]).toEqual([3, 3, 3]);

    // The fix: a new version whose ship calls the fixed endpoint.
    const v2 = await deployWorkflow(client, orgId, order(call("ship", "/ship-v2")));
    const { jobId: single } = await client.expect(201, client.post(`/organizations/${orgId}/jobs/${sources[0]}/rerun`, { workflowVersion: { versionId: v2.versionId } }));
    const { job } = await waitForJob(client, orgId, single, undefined, 60_000);
    expect(job).toMatchObject({ status: "SUCCEEDED", rerunOf: { jobId: sources[0], fromStep: "ship" }, output: { path: `/${orgId}/ship-v2`, ok: true } });

    const body = { filter: { workflowId, status: "FAILED" }, workflowVersion: { versionId: v2.versionId } };
    const { results } = await client.expect(200, client.post(`/organizations/${orgId}/jobs/rerun`, body));
    // Newest first; the first source's rerun answers as it is.
    expect(results).toEqual([
      { sourceJobId: sources[2], jobId: expect.any(String) },
      { sourceJobId: sources[1], jobId: expect.any(String) },
      { sourceJobId: sources[0], jobId: single },
    ]);
    for (const r of results) expect((await waitForJob(client, orgId, r.jobId, undefined, 60_000)).job.status).toBe("SUCCEEDED");
    expect((await client.expect(200, client.post(`/organizations/${orgId}/jobs/rerun`, body))).results).toEqual(results);
    // Each job charged once, ever; each shipped once by the fixed version.
    expect([far.count(`/${orgId}/reserve`), far.count(`/${orgId}/charge`), far.count(`/${orgId}/ship-v2`)]).toEqual([3, 3, 3]);
  });

  it("keeps a paused job paused across a kill -9 while its timer falls due, and finishes it after unpause", async () => {
    const { orgId, client } = await newTenant(server.admin);
    const nap = workflow("nap", [
      step("before", http, { config: { url: far.url(`/${orgId}/before`) } }, "sleep"),
      step("sleep", "/canopy/delay", { config: { seconds: 2 } }, "after"),
      step("after", http, { config: { url: far.url(`/${orgId}/after`) } }),
    ]);
    const { workflowId } = await deployWorkflow(client, orgId, nap);
    const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" } });
    await waitForJob(client, orgId, jobId, (j) => j.currentStepName === "sleep", 60_000);
    expect(await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/pause`))).toEqual({ jobId, paused: true });
    const dueAt = Date.now() + 2_000;

    await server.kill();
    await server.start();
    expect(Date.now()).toBeGreaterThan(dueAt);
    // The timer fell due while the engine was down, and the restart fires the alarm it had set: the
    // job must not act on it. No event marks "did nothing", so this looks again after a pause.
    await sleep(1_500);
    const { job: held } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}`));
    expect(held).toMatchObject({ status: "RUNNING", currentStepName: "sleep", paused: true });
    expect(far.count(`/${orgId}/after`)).toBe(0);

    const unpausedAt = Date.now();
    expect(await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/unpause`))).toEqual({ jobId, paused: false });
    const { job } = await waitForJob(client, orgId, jobId, undefined, 60_000);
    expect(job.status).toBe("SUCCEEDED");
    expect(job.paused).toBeUndefined();
    expect([far.count(`/${orgId}/before`), far.count(`/${orgId}/after`)]).toEqual([1, 1]);
    const { state } = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state`));
    const slept = state.executionHistory.find((h: any) => h.stepName === "sleep");
    expect(Date.parse(slept.endTimestamp)).toBeGreaterThanOrEqual(unpausedAt);
  });
});
