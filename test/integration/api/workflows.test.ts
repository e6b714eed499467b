import { describe, expect, it } from "vitest";
import { newTenant } from "../../helpers/client";
import { admin } from "../../helpers/workerd";
import orderItem from "../../fixtures/order-item.json";
import orderBatch from "../../fixtures/order-batch.json";

const noop = (workflowName: string) => ({
  workflowName,
  steps: [
    {
      name: "only",
      integrationDetails: {
        type: "/justworkflowit/noop",
        inputDefinition: { $ref: "#/definitions/workflowInput" },
        outputDefinition: { $ref: "#/definitions/workflowInput" },
      },
      transitionToStep: null,
    },
  ],
  definitions: { workflowInput: { type: "object" } },
});

async function tenantWithWorkflow(name = "wf") {
  const t = await newTenant(admin);
  const { workflowId } = await t.client.expect(200, t.client.post(`/organizations/${t.orgId}/workflows`, { name }));
  return { ...t, workflowId, base: `/organizations/${t.orgId}/workflows/${workflowId}` };
}

describe("workflows", () => {
  it("registers, gets and lists", async () => {
    const { client, orgId, workflowId } = await tenantWithWorkflow("etl");
    const wf = await client.expect(200, client.get(`/organizations/${orgId}/workflows/${workflowId}`));
    expect(wf).toEqual({ workflowId, name: "etl", createdAt: expect.any(String) });
    expect(await client.expect(200, client.get(`/organizations/${orgId}/workflows`))).toEqual({ workflows: [wf] });
  });

  it("refuses a duplicate name with 409 but allows it in another organization", async () => {
    const { client, orgId } = await tenantWithWorkflow("etl");
    const res = await client.post(`/organizations/${orgId}/workflows`, { name: "etl" });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("ConflictError");
    const other = await newTenant(admin);
    await other.client.expect(200, other.client.post(`/organizations/${other.orgId}/workflows`, { name: "etl" }));
  });

  it("answers 404 for an unknown workflow id and for another tenant's workflow", async () => {
    const a = await tenantWithWorkflow();
    const b = await newTenant(admin);
    expect((await a.client.get(`/organizations/${a.orgId}/workflows/${crypto.randomUUID()}`)).status).toBe(404);
    expect((await a.client.get(`/organizations/${a.orgId}/workflows/not-a-uuid`)).status).toBe(404);
    // b's token on a's path: 403; admin on b's path with a's workflow id: 404.
    expect((await b.client.get(`${a.base}`)).status).toBe(403);
    expect((await admin.get(`/organizations/${b.orgId}/workflows/${a.workflowId}`)).status).toBe(404);
  });
});

describe("versions", () => {
  it("numbers versions from 1 per workflow and stores the definition string as sent", async () => {
    const { client, orgId, base } = await tenantWithWorkflow();
    const text = JSON.stringify(noop("wf"), null, 2);
    const v1 = await client.expect(200, client.post(`${base}/versions`, { definition: text }));
    const v2 = await client.expect(200, client.post(`${base}/versions`, { definition: noop("wf") }));
    expect(v1.versionNumber).toBe(1);
    expect(v2.versionNumber).toBe(2);
    const { workflowId: otherId } = await client.expect(200, client.post(`/organizations/${orgId}/workflows`, { name: "other" }));
    const o1 = await client.expect(200, client.post(`/organizations/${orgId}/workflows/${otherId}/versions`, { definition: text }));
    expect(o1.versionNumber).toBe(1);

    const got = await client.expect(200, client.get(`${base}/versions/${v1.versionId}`));
    expect(got).toEqual({ workflowId: v1.workflowId, versionId: v1.versionId, versionNumber: 1, definition: text, createdAt: expect.any(String), tags: [] });
    const { versions } = await client.expect(200, client.get(`${base}/versions`));
    expect(versions.map((v: any) => v.versionNumber)).toEqual([1, 2]);
    expect(versions[1].definition).toBe(JSON.stringify(noop("wf")));
  });

  it("takes concurrent registrations without a duplicate number", async () => {
    const { client, base } = await tenantWithWorkflow();
    const results = await Promise.all(
      Array.from({ length: 8 }, () => client.expect(200, client.post(`${base}/versions`, { definition: noop("wf") }))),
    );
    expect(results.map((r) => r.versionNumber).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("refuses an invalid definition with 400 and every problem, storing nothing", async () => {
    const { client, base } = await tenantWithWorkflow();
    const bad = {
      workflowName: "wf",
      steps: [
        { name: "a", integrationDetails: { type: "/nope", inputDefinition: { $ref: "#/definitions/missing" }, outputDefinition: { $ref: "#/definitions/workflowInput" } }, transitionToStep: "ghost" },
      ],
      definitions: { workflowInput: { type: "object" } },
    };
    const res = await client.post(`${base}/versions`, { definition: JSON.stringify(bad) });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("ValidationError");
    const all = res.body.errors.join("\n");
    expect(all).toContain("/nope");
    expect(all).toContain("missing");
    expect(all).toContain("ghost");
    expect((await client.get(`${base}/versions`)).body.versions).toEqual([]);
  });

  it("refuses a definition that is not JSON", async () => {
    const { client, base } = await tenantWithWorkflow();
    const res = await client.post(`${base}/versions`, { definition: "{oops" });
    expect(res.status).toBe(400);
    expect(res.body.errors.length).toBeGreaterThan(0);
  });

  it("validates without storing, 200 either way", async () => {
    const { client, base } = await tenantWithWorkflow();
    const ok = await client.expect(200, client.post(`${base}/versions/validate`, { definition: noop("wf") }));
    expect(ok).toEqual({ valid: true, errors: [], definition: JSON.stringify(noop("wf")) });
    const bad = await client.expect(200, client.post(`${base}/versions/validate`, { definition: { workflowName: "wf", steps: [], definitions: {} } }));
    expect(bad.valid).toBe(false);
    expect(bad.errors.length).toBeGreaterThan(0);
    expect((await client.get(`${base}/versions`)).body.versions).toEqual([]);
  });

  it("checks that runChildJob children exist in the organization", async () => {
    const { client, orgId, base } = await tenantWithWorkflow("order-batch");
    const missing = await client.expect(200, client.post(`${base}/versions/validate`, { definition: orderBatch }));
    expect(missing.valid).toBe(false);
    expect(missing.errors.join("\n")).toContain("order-item");
    const { workflowId: itemId } = await client.expect(200, client.post(`/organizations/${orgId}/workflows`, { name: "order-item" }));
    await client.expect(200, client.post(`/organizations/${orgId}/workflows/${itemId}/versions`, { definition: orderItem }));
    const ok = await client.expect(200, client.post(`${base}/versions/validate`, { definition: orderBatch }));
    expect(ok.errors).toEqual([]);
  });

  it("answers 404 for an unknown version", async () => {
    const { client, base } = await tenantWithWorkflow();
    expect((await client.get(`${base}/versions/${crypto.randomUUID()}`)).status).toBe(404);
  });
});

describe("tags", () => {
  it("sets, reads, and atomically moves a tag", async () => {
    const { client, base } = await tenantWithWorkflow();
    const v1 = await client.expect(200, client.post(`${base}/versions`, { definition: noop("wf") }));
    const v2 = await client.expect(200, client.post(`${base}/versions`, { definition: noop("wf") }));
    expect(await client.expect(200, client.put(`${base}/tags/$LIVE`, { versionId: v1.versionId }))).toEqual({ success: true });
    expect(await client.expect(200, client.get(`${base}/tags/$LIVE`))).toEqual({ versionId: v1.versionId, versionNumber: 1 });
    await client.expect(200, client.put(`${base}/tags/%24LIVE`, { versionId: v2.versionId }));
    expect(await client.expect(200, client.get(`${base}/tags/%24LIVE`))).toEqual({ versionId: v2.versionId, versionNumber: 2 });
    const { versions } = await client.expect(200, client.get(`${base}/versions`));
    expect(versions.map((v: any) => v.tags)).toEqual([[], ["$LIVE"]]);
  });

  it.each(["LIVE", "$live", "$LIVE1", "$"])("refuses the malformed tag %s with 400", async (tag) => {
    const { client, base } = await tenantWithWorkflow();
    const res = await client.put(`${base}/tags/${encodeURIComponent(tag)}`, { versionId: crypto.randomUUID() });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("ValidationError");
  });

  it("answers 404 for an unset tag and for a version of another workflow", async () => {
    const { client, orgId, base } = await tenantWithWorkflow();
    expect((await client.get(`${base}/tags/$STAGING`)).status).toBe(404);
    const { workflowId: otherId } = await client.expect(200, client.post(`/organizations/${orgId}/workflows`, { name: "other" }));
    const foreign = await client.expect(200, client.post(`/organizations/${orgId}/workflows/${otherId}/versions`, { definition: noop("other") }));
    const res = await client.put(`${base}/tags/$LIVE`, { versionId: foreign.versionId });
    expect(res.status).toBe(404);
    expect((await client.get(`${base}/tags/$LIVE`)).status).toBe(404);
  });
});
