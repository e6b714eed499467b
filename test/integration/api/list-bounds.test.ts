/**
 * Answers and tables sized by what a tenant stores are bounded: ListWorkflowVersions pages by
 * count and by definition size (each definition is up to 1 MiB), so no workflow's history can make
 * an answer that exhausts the isolate or D1's result limit; the lists that API.md answers whole
 * (workflows, API tokens, webhook triggers, secrets) are bounded by what an organization may hold.
 * Each bound is tested at the bound: the rows up to it are stored directly, the last through the API.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { deployWorkflow, newTenant } from "../../helpers/client";
import { step, workflow } from "../../helpers/jobs";
import { admin } from "../../helpers/workerd";
import {
  LIST_VERSIONS_MAX_CHARS,
  MAX_API_TOKENS_PER_ORGANIZATION,
  MAX_LISTED_VERSIONS,
  MAX_SECRETS_PER_ORGANIZATION,
  MAX_TRIGGER_TRANSFORMER_BYTES,
  MAX_WEBHOOK_TRIGGERS_PER_ORGANIZATION,
  MAX_WORKFLOWS_PER_ORGANIZATION,
} from "../../../src/limits";

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

/** Stores `n` rows of `table` for an organization directly; `select` names the columns' values, `i` numbering the rows. */
async function fill(table: string, columns: string, select: string, orgId: string, n: number) {
  if (n <= 0) return;
  await env.DB.prepare(
    `INSERT INTO ${table} (${columns}) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2) SELECT ${select} FROM n`,
  )
    .bind(orgId, n)
    .run();
}
const count = (table: string, orgId: string, live = "1") => env.DB.prepare(`SELECT count(*) AS n FROM ${table} WHERE organization_id = ? AND ${live}`).bind(orgId).first<number>("n");
const NOW = "'2026-01-01T00:00:00.000Z'";

describe("what an organization may hold", () => {
  it(`${MAX_WORKFLOWS_PER_ORGANIZATION} workflows: one more is a 409`, async () => {
    const { client, orgId } = await newTenant(admin);
    await fill("workflows", "workflow_id, organization_id, name, created_at", `lower(hex(randomblob(16))), ?1, 'filler-' || i, ${NOW}`, orgId, MAX_WORKFLOWS_PER_ORGANIZATION - 1);
    await client.expect(200, client.post(`/organizations/${orgId}/workflows`, { name: "last" }));
    const over = await client.post(`/organizations/${orgId}/workflows`, { name: "one-more" });
    expect(over.status).toBe(409);
    expect(over.body.message).toContain(`${MAX_WORKFLOWS_PER_ORGANIZATION}`);
    // A duplicate name is still named as such.
    expect((await client.post(`/organizations/${orgId}/workflows`, { name: "last" })).body.message).toContain("already exists");
    expect(await count("workflows", orgId)).toBe(MAX_WORKFLOWS_PER_ORGANIZATION);
  });

  it(`${MAX_API_TOKENS_PER_ORGANIZATION} unrevoked API tokens: one more is a 409, and a revoke makes room`, async () => {
    const { client, orgId } = await newTenant(admin);
    const live = "revoked_at IS NULL";
    const held = (await count("api_tokens", orgId, live))!;
    await fill("api_tokens", "api_auth_token_id, organization_id, name, token_hash, created_at", `lower(hex(randomblob(16))), ?1, 'filler', lower(hex(randomblob(32))), ${NOW}`, orgId, MAX_API_TOKENS_PER_ORGANIZATION - held - 1);
    const last = await client.expect(200, client.post(`/organizations/${orgId}/api-auth-tokens`, { name: "last" }));
    const over = await client.post(`/organizations/${orgId}/api-auth-tokens`, { name: "one-more" });
    expect(over.status).toBe(409);
    expect(await count("api_tokens", orgId, live)).toBe(MAX_API_TOKENS_PER_ORGANIZATION);
    await client.expect(200, client.delete(`/organizations/${orgId}/api-auth-tokens/${last.apiAuthTokenId}`));
    await client.expect(200, client.post(`/organizations/${orgId}/api-auth-tokens`, { name: "one-more" }));
  });

  it(`${MAX_WEBHOOK_TRIGGERS_PER_ORGANIZATION} webhook triggers, each transformer at most ${MAX_TRIGGER_TRANSFORMER_BYTES} bytes`, async () => {
    const { client, orgId } = await newTenant(admin);
    const { workflowId } = await deployWorkflow(client, orgId, workflow("hooked", [step("only", "/justworkflowit/noop")]));
    await fill(
      "webhook_triggers",
      "trigger_id, organization_id, name, workflow_id, workflow_version, scheme, sealed_secret, created_at",
      `lower(hex(randomblob(16))), ?1, 'filler', '${workflowId}', '{"tag":"$LIVE"}', 'github', 'x', ${NOW}`,
      orgId,
      MAX_WEBHOOK_TRIGGERS_PER_ORGANIZATION - 1,
    );
    const base = { workflowId, workflowVersion: { tag: "$LIVE" }, scheme: "github" };
    // A transformer of exactly the bound is taken; one byte more is a 413.
    const transformer = (bytes: number) => {
      const shape = { fieldset: [{ from: "body.a", to: "" }] };
      return { fieldset: [{ from: "body.a", to: "x".repeat(bytes - JSON.stringify(shape).length) }] };
    };
    const tooLarge = await client.post(`/organizations/${orgId}/webhook-triggers`, { ...base, name: "big", inputTransformer: transformer(MAX_TRIGGER_TRANSFORMER_BYTES + 1) });
    expect(tooLarge.status).toBe(413);
    await client.expect(200, client.post(`/organizations/${orgId}/webhook-triggers`, { ...base, name: "last", inputTransformer: transformer(MAX_TRIGGER_TRANSFORMER_BYTES) }));
    const over = await client.post(`/organizations/${orgId}/webhook-triggers`, { ...base, name: "one-more" });
    expect(over.status).toBe(409);
    expect(await count("webhook_triggers", orgId, "deleted_at IS NULL")).toBe(MAX_WEBHOOK_TRIGGERS_PER_ORGANIZATION);
  });

  it(`${MAX_SECRETS_PER_ORGANIZATION} secrets: one more key is a 409, a new value of an existing one is not`, async () => {
    const { client, orgId } = await newTenant(admin);
    await fill("organization_secrets", "organization_id, key, sealed_value, created_at, updated_at, secret_id", `?1, 'K' || i, 'x', ${NOW}, ${NOW}, lower(hex(randomblob(16)))`, orgId, MAX_SECRETS_PER_ORGANIZATION - 1);
    await client.expect(200, client.post(`/organizations/${orgId}/secrets`, { key: "LAST", value: "v1" }));
    const over = await client.post(`/organizations/${orgId}/secrets`, { key: "ONE_MORE", value: "v" });
    expect(over.status).toBe(409);
    await client.expect(200, client.post(`/organizations/${orgId}/secrets`, { key: "LAST", value: "v2" }));
    expect(await count("organization_secrets", orgId)).toBe(MAX_SECRETS_PER_ORGANIZATION);
  });
});
