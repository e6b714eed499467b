import { describe, expect, it } from "vitest";
import { deployWorkflow, newTenant } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";

const noop = (name: string) => workflow(name, [step("only", "/justworkflowit/noop")]);

describe("ListJobs workflowName", () => {
  it("is a case-insensitive contains match, with % and _ taken literally", async () => {
    const { orgId, client } = await newTenant(admin);
    const names = ["Order-Item", "order_batch", "Reorder-ITEMS", "invoice", "50%-off"];
    const jobs: Record<string, string> = {};
    for (const name of names) {
      const { workflowId } = await deployWorkflow(client, orgId, noop(name));
      jobs[name] = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" } });
      await waitForJob(client, orgId, jobs[name]!);
    }
    const matching = async (q: string) => {
      const res = await client.expect(200, client.get(`/organizations/${orgId}/jobs?workflowName=${encodeURIComponent(q)}`));
      expect(res.totalCount).toBe(res.jobs.length);
      return res.jobs.map((j: any) => j.workflowName).sort();
    };
    expect(await matching("ORDER")).toEqual(["Order-Item", "Reorder-ITEMS", "order_batch"]);
    expect(await matching("item")).toEqual(["Order-Item", "Reorder-ITEMS"]);
    expect(await matching("order-item")).toEqual(["Order-Item", "Reorder-ITEMS"]);
    expect(await matching("_")).toEqual(["order_batch"]);
    expect(await matching("%")).toEqual(["50%-off"]);
    expect(await matching("r_b")).toEqual(["order_batch"]);
    expect(await matching("nothing")).toEqual([]);
  });
});

describe("ListJobs jobIdPrefix", () => {
  it("finds jobs by the start of their id, in any case, and refuses what cannot start an id", async () => {
    const { orgId, client } = await newTenant(admin);
    const { workflowId } = await deployWorkflow(client, orgId, noop("prefixed"));
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" } }));
    const found = async (prefix: string) =>
      (await client.expect(200, client.get(`/organizations/${orgId}/jobs?jobIdPrefix=${encodeURIComponent(prefix)}`))).jobs.map((j: any) => j.jobId);
    for (const id of ids) {
      // Ids are random: a 13-character prefix (8 hex digits, a dash, 4 more) names one job here.
      expect(await found(id.slice(0, 13).toUpperCase())).toEqual([id]);
      expect(await found(id)).toEqual([id]);
    }
    const first = ids[0]![0]!;
    expect((await found(first)).sort()).toEqual(ids.filter((id) => id.startsWith(first)).sort());
    const page = await client.expect(200, client.get(`/organizations/${orgId}/jobs?jobIdPrefix=${ids[1]!.slice(0, 8)}&pageSize=1`));
    expect(page.totalCount).toBe(ids.filter((id) => id.startsWith(ids[1]!.slice(0, 8))).length);
    for (const bad of ["", "xyz", "a".repeat(37), "1%", "a_"]) {
      const res = await client.get(`/organizations/${orgId}/jobs?jobIdPrefix=${encodeURIComponent(bad)}`);
      expect(res.status, bad).toBe(400);
    }
  });
});

describe("ExecutionHistoryItem", () => {
  it("always has input: null for an external event, the step's input otherwise", async () => {
    const { orgId, client } = await newTenant(admin);
    const def = workflow("evented", [step("wait", "/justworkflowit/waitForEventIds", { config: { eventIds: ["go"] } })]);
    const { workflowId } = await deployWorkflow(client, orgId, def);
    const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: JSON.stringify({ a: 1 }) });
    await waitForJob(client, orgId, jobId, (j) => j.status === "RUNNING");
    await client.expect(200, client.post(`/organizations/${orgId}/jobs/${jobId}/events`, { eventId: "go", payload: { ok: true } }));
    await waitForJob(client, orgId, jobId);
    const res = await client.get(`/organizations/${orgId}/jobs/${jobId}/state`);
    const history: any[] = res.body.state.executionHistory;
    expect(history.length).toBeGreaterThanOrEqual(2);
    for (const item of history) expect(Object.keys(item)).toContain("input");
    const external = history.find((h) => h.historySource === "external");
    expect(external).toMatchObject({ input: null, eventId: "go", output: { status: "success", payload: { ok: true } } });
    expect(history.find((h) => h.historySource === "engine").input).toEqual({ a: 1 });
    // The OpenAPI document says so too.
    const doc = (await admin.get("/openapi.json")).body;
    expect(doc.components.schemas.ExecutionHistoryItem.required).toContain("input");
  });
});
