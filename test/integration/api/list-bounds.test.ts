/**
 * Answers and tables sized by what a tenant stores are bounded: ListWorkflowVersions pages by
 * count and by definition size (each definition is up to 1 MiB), so no workflow's history can make
 * an answer that exhausts the isolate or D1's result limit.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { newTenant } from "../../helpers/client";
import { admin } from "../../helpers/workerd";
import { LIST_VERSIONS_MAX_CHARS, MAX_LISTED_VERSIONS } from "../../../src/limits";

/** Stores versions 1..n of a workflow directly (as registration would), each definition `chars` long. */
async function storeVersions(workflowId: string, n: number, chars: number) {
  const definition = JSON.stringify({ workflowName: "big", steps: [], definitions: {}, pad: "" });
  const padded = definition.replace('"pad":""', `"pad":"${"x".repeat(chars - definition.length)}"`);
  expect(padded.length).toBe(chars);
  await env.DB.prepare(
    `INSERT INTO workflow_versions (version_id, workflow_id, version_number, definition, created_at)
     WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
     SELECT lower(hex(randomblob(4))) || '-0000-4000-8000-' || printf('%012d', i), ?1, i, ?3, '2026-01-01T00:00:00.000Z' FROM n`,
  )
    .bind(workflowId, n, padded)
    .run();
}

describe("ListWorkflowVersions", () => {
  it(`pages at ${MAX_LISTED_VERSIONS} versions: every version is listed once, oldest first`, async () => {
    const { client, orgId } = await newTenant(admin);
    const { workflowId } = await client.expect(200, client.post(`/organizations/${orgId}/workflows`, { name: "many" }));
    await storeVersions(workflowId, MAX_LISTED_VERSIONS + 1, 100);
    const base = `/organizations/${orgId}/workflows/${workflowId}/versions`;
    const first = await client.expect(200, client.get(base));
    expect(first.versions).toHaveLength(MAX_LISTED_VERSIONS);
    expect(first.nextPageToken).toBeDefined();
    const second = await client.expect(200, client.get(`${base}?pageToken=${first.nextPageToken}`));
    expect(second.versions.map((v: { versionNumber: number }) => v.versionNumber)).toEqual([MAX_LISTED_VERSIONS + 1]);
    expect(second.nextPageToken).toBeUndefined();
    const small = await client.expect(200, client.get(`${base}?pageSize=3`));
    expect(small.versions.map((v: { versionNumber: number }) => v.versionNumber)).toEqual([1, 2, 3]);
    expect((await client.get(`${base}?pageSize=${MAX_LISTED_VERSIONS + 1}`)).status).toBe(400);
    expect((await client.get(`${base}?pageToken=abc`)).status).toBe(400);
  });

  it(`answers at most ${LIST_VERSIONS_MAX_CHARS} characters of definitions past a page's first version`, async () => {
    const { client, orgId } = await newTenant(admin);
    const { workflowId } = await client.expect(200, client.post(`/organizations/${orgId}/workflows`, { name: "large" }));
    // Eight of these fit the bound exactly; the ninth does not.
    const chars = LIST_VERSIONS_MAX_CHARS / 8;
    await storeVersions(workflowId, 10, chars);
    const base = `/organizations/${orgId}/workflows/${workflowId}/versions`;
    const first = await client.expect(200, client.get(base));
    expect(first.versions.map((v: { versionNumber: number }) => v.versionNumber)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(first.versions.reduce((n: number, v: { definition: string }) => n + v.definition.length, 0)).toBe(LIST_VERSIONS_MAX_CHARS);
    const second = await client.expect(200, client.get(`${base}?pageToken=${first.nextPageToken}`));
    expect(second.versions.map((v: { versionNumber: number }) => v.versionNumber)).toEqual([9, 10]);
    expect(second.nextPageToken).toBeUndefined();
  });
});
