/**
 * SECRETS_KEY rotation inside workerd: values name their key, a previous key only opens, ResealSecrets
 * moves every stored secret (organization secrets, webhook signing secrets, notification secrets)
 * to the current key in bounded batches, and a value under a key the deployment lacks fails with a
 * clear error (API: 409 SecretUnreadable; in a job: SECRET_UNREADABLE), never a bare 500.
 * The same rotation across real restarts of `npm start` is test/e2e/security.test.ts.
 */
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { keyIdOf, open, seal, sealedKeyId, UNKNOWN_KEY_ID } from "../../../src/crypto/seal";
import { SecretUnreadableError } from "../../../src/errors";
import { MAX_SECRET_VALUE_CHARS, RESEAL_BATCH, RESEAL_MAX_BYTES } from "../../../src/limits";
import { putNotificationSettings } from "../../../src/notifications/store";
import { resealSecrets } from "../../../src/registry/reseal-secrets";
import { putOrganizationSecret, readSecretForUse } from "../../../src/registry/secrets";
import { findTriggerForDelivery } from "../../../src/webhooks/triggers";
import { deployWorkflow, newTenant } from "../../helpers/client";
import { step, submit, waitForJob, workflow } from "../../helpers/jobs";
import { githubHeaders, postHook } from "../../helpers/webhooks";
import { admin } from "../../helpers/workerd";

const KEY_A = env.SECRETS_KEY;
const KEY_B = Buffer.alloc(32, 0xb).toString("base64");
const KEY_C = Buffer.alloc(32, 0xc).toString("base64");
const rotated = { ...env, SECRETS_KEY: KEY_B, SECRETS_KEY_PREVIOUS: KEY_A };
const onlyB = { ...env, SECRETS_KEY: KEY_B, SECRETS_KEY_PREVIOUS: undefined };
const onlyC = { ...env, SECRETS_KEY: KEY_C, SECRETS_KEY_PREVIOUS: undefined };

/** A value in the format sealed before key ids existed: `v1.<iv>.<ciphertext>` under `key`. */
async function sealV1(key: string, plaintext: string, associatedData: string): Promise<string> {
  const aes = await crypto.subtle.importKey("raw", Buffer.from(key, "base64"), "AES-GCM", false, ["encrypt"]);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const enc = new TextEncoder();
  const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: enc.encode(associatedData) }, aes, enc.encode(plaintext));
  return `v1.${Buffer.from(iv).toString("base64")}.${Buffer.from(ct).toString("base64")}`;
}

/** Calls ResealSecrets until nothing remains; returns every answer. */
async function resealAll(keys: Pick<Env, "DB" | "SECRETS_KEY" | "SECRETS_KEY_PREVIOUS">) {
  const answers = [];
  for (let i = 0; i < 100; i++) {
    const a = await resealSecrets(keys);
    answers.push(a);
    if (a.remainingUnderOldKeys === 0) return answers;
  }
  throw new Error("ResealSecrets never reached 0");
}

describe("sealed values name their key", () => {
  it("derives a key id from the key alone, the same as scripts/deploy.mjs computes it (test vector)", async () => {
    // HMAC-SHA256(key, "canopy secrets key id"), first 8 bytes in hex; the deploy script's unit test holds the same vector.
    expect(await keyIdOf("dGVzdC1zZWNyZXRzLWtleS0zMi1ieXRlcy1sb25nISE=")).toBe("9b05d58869626f85");
    expect(await keyIdOf(KEY_B)).not.toBe(await keyIdOf(KEY_A));
  });

  it("seals under SECRETS_KEY, opens under SECRETS_KEY_PREVIOUS, and names a missing key", async () => {
    const underA = await seal(env, "hunter2", "ad");
    expect(sealedKeyId(underA)).toBe(await keyIdOf(KEY_A));
    expect(await open(rotated, underA, "ad")).toBe("hunter2");
    const underB = await seal(rotated, "hunter3", "ad");
    expect(sealedKeyId(underB)).toBe(await keyIdOf(KEY_B));
    await expect(open(onlyC, underA, "ad")).rejects.toThrow(`sealed under key ${await keyIdOf(KEY_A)}, which this deployment does not have`);
    // A value from before key ids opens under whichever key sealed it.
    const legacy = await sealV1(KEY_A, "old", "ad");
    expect(sealedKeyId(legacy)).toBeNull();
    expect(await open(env, legacy, "ad")).toBe("old");
    expect(await open(rotated, legacy, "ad")).toBe("old");
    await expect(open(onlyB, legacy, "ad")).rejects.toThrow("none of this deployment's keys");
    // Several previous keys, comma-separated, with spaces.
    expect(await open({ SECRETS_KEY: KEY_C, SECRETS_KEY_PREVIOUS: ` ${KEY_B} , ${KEY_A} ` }, underA, "ad")).toBe("hunter2");
    await expect(seal({ SECRETS_KEY: KEY_C, SECRETS_KEY_PREVIOUS: "c2hvcnQ=" }, "x", "ad")).rejects.toThrow("SECRETS_KEY_PREVIOUS must be the base64 of 32 bytes");
  });
});

describe("ResealSecrets", () => {
  it("moves every kind of stored secret to the new key, v1 values included; after it the old key is not needed", async () => {
    const { orgId, client } = await newTenant(admin);
    const { workflowId } = await deployWorkflow(client, orgId, workflow("noop", [step("only", "/justworkflowit/noop")]));
    await client.expect(200, client.post(`/organizations/${orgId}/secrets`, { key: "NEW_STYLE", value: "value-a" }));
    // A secret written before this change, in the v1 format.
    await putOrganizationSecret(env, orgId, { key: "LEGACY", value: "placeholder" }, Date.now());
    const legacy = await sealV1(KEY_A, "legacy-value", JSON.stringify(["organization-secret", orgId, "LEGACY"]));
    await env.DB.prepare(`UPDATE organization_secrets SET sealed_value = ? WHERE organization_id = ? AND key = 'LEGACY'`).bind(legacy, orgId).run();
    const trigger = await client.expect(
      200,
      client.post(`/organizations/${orgId}/webhook-triggers`, { name: "t", workflowId, workflowVersion: { tag: "$LIVE" }, scheme: "github" }),
    );
    await putNotificationSettings(env, orgId, "https://example.com/hook", "whsec_bm90aWZpY2F0aW9uLXNlY3JldA==", Date.now());

    // Rotated: every value still opens, and each counts as under an old key until resealed.
    const before = await resealSecrets({ ...rotated, SECRETS_KEY: KEY_A, SECRETS_KEY_PREVIOUS: undefined });
    expect(before.keyId).toBe(await keyIdOf(KEY_A));
    expect((await readSecretForUse(rotated, orgId, "LEGACY"))?.value).toBe("legacy-value");
    const answers = await resealAll(rotated);
    expect(answers.reduce((n, a) => n + a.resealed, 0)).toBeGreaterThanOrEqual(4);
    expect(answers.at(-1)).toMatchObject({ remainingUnderOldKeys: 0, unreadable: 0, keyId: await keyIdOf(KEY_B) });
    const idB = await keyIdOf(KEY_B);
    for (const [table, column] of [["organization_secrets", "sealed_value"], ["webhook_triggers", "sealed_secret"], ["notification_settings", "sealed_secret"]] as const) {
      const { results } = await env.DB.prepare(`SELECT ${column} AS v, sealed_key_id FROM ${table} WHERE organization_id = ?`).bind(orgId).all<{ v: string; sealed_key_id: string }>();
      expect(results.length, table).toBeGreaterThan(0);
      for (const r of results) expect([sealedKeyId(r.v), r.sealed_key_id], table).toEqual([idB, idB]);
    }

    // The previous key dropped: everything still opens.
    expect((await readSecretForUse(onlyB, orgId, "NEW_STYLE"))?.value).toBe("value-a");
    expect((await readSecretForUse(onlyB, orgId, "LEGACY"))?.value).toBe("legacy-value");
    expect((await findTriggerForDelivery(onlyB, trigger.triggerId))?.secret).toBe(trigger.secret);
    // And a second pass has nothing to do.
    expect(await resealSecrets(onlyB)).toMatchObject({ resealed: 0, remainingUnderOldKeys: 0 });
  });

  it(`reseals at most RESEAL_BATCH (${RESEAL_BATCH}) values per call`, async () => {
    const { orgId } = await newTenant(admin);
    const n = RESEAL_BATCH + 7;
    await env.DB.batch(
      await Promise.all(
        Array.from({ length: n }, async (_, i) => {
          const key = `K${i}`;
          const sealed = await seal(env, `v${i}`, JSON.stringify(["organization-secret", orgId, key]));
          return env.DB.prepare(`INSERT INTO organization_secrets (organization_id, key, sealed_value, created_at, updated_at, secret_id) VALUES (?, ?, ?, '', '', ?)`).bind(
            orgId,
            key,
            sealed,
            crypto.randomUUID(),
          );
        }),
      ),
    );
    // Other tests' organizations are under A too: the count covers the whole database.
    const first = await resealSecrets(rotated);
    expect(first.resealed).toBe(RESEAL_BATCH);
    expect(first.remainingUnderOldKeys).toBeGreaterThanOrEqual(7);
    const rest = await resealAll(rotated);
    expect(rest.at(-1)!.remainingUnderOldKeys).toBe(0);
    for (let i = 0; i < n; i += 37) expect((await readSecretForUse(onlyB, orgId, `K${i}`))?.value).toBe(`v${i}`);
  });

  it(`reseals at most RESEAL_MAX_BYTES (${RESEAL_MAX_BYTES} bytes) of values per call`, async () => {
    const { orgId } = await newTenant(admin);
    // Under a key of their own (D), so that only these values are under the old key of the rotation to E.
    const keyD = { ...env, SECRETS_KEY: Buffer.alloc(32, 0xd).toString("base64"), SECRETS_KEY_PREVIOUS: undefined };
    const toE = { ...env, SECRETS_KEY: Buffer.alloc(32, 0xe).toString("base64"), SECRETS_KEY_PREVIOUS: keyD.SECRETS_KEY };
    // 64 KiB values seal to about 87 KiB each: old and new together, a call takes about six.
    for (let i = 0; i < 9; i++) await putOrganizationSecret(keyD, orgId, { key: `BIG${i}`, value: String(i).repeat(MAX_SECRET_VALUE_CHARS) }, Date.now());
    const first = await resealSecrets(toE);
    expect(first.resealed).toBeGreaterThanOrEqual(1);
    expect(first.resealed).toBeLessThan(9);
    expect(first.remainingUnderOldKeys).toBe(9 - first.resealed);
    await resealAll(toE);
    expect((await readSecretForUse({ ...toE, SECRETS_KEY_PREVIOUS: undefined }, orgId, "BIG8"))?.value).toBe("8".repeat(MAX_SECRET_VALUE_CHARS));
  });

  it("leaves a value under a key the deployment lacks (counted unreadable), and is not stuck on it", async () => {
    const { orgId } = await newTenant(admin);
    const ad = (key: string) => JSON.stringify(["organization-secret", orgId, key]);
    await putOrganizationSecret(env, orgId, { key: "LOST_V2", value: "x" }, Date.now());
    await putOrganizationSecret(env, orgId, { key: "LOST_V1", value: "x" }, Date.now());
    await putOrganizationSecret(env, orgId, { key: "FINE", value: "x" }, Date.now());
    const set = (key: string, v: string) => env.DB.prepare(`UPDATE organization_secrets SET sealed_value = ? WHERE organization_id = ? AND key = ?`).bind(v, orgId, key).run();
    await set("LOST_V2", await seal(onlyC, "gone", ad("LOST_V2")));
    await set("LOST_V1", await sealV1(KEY_C, "gone too", ad("LOST_V1")));
    await set("FINE", await sealV1(KEY_A, "kept", ad("FINE")));

    const answers = await resealAll(rotated);
    expect(answers.at(-1)!.unreadable).toBeGreaterThanOrEqual(2);
    expect((await readSecretForUse(onlyB, orgId, "FINE"))?.value).toBe("kept");
    const row = await env.DB.prepare(`SELECT sealed_value FROM organization_secrets WHERE organization_id = ? AND key = 'LOST_V1'`).bind(orgId).first<{ sealed_value: string }>();
    expect(sealedKeyId(row!.sealed_value)).toBe(UNKNOWN_KEY_ID);
    // Had key C come back, the marked value would open again: its iv and ciphertext were kept.
    expect((await readSecretForUse({ ...env, SECRETS_KEY: KEY_B, SECRETS_KEY_PREVIOUS: KEY_C }, orgId, "LOST_V1"))?.value).toBe("gone too");
    for (const key of ["LOST_V1", "LOST_V2"]) {
      const read = readSecretForUse(onlyB, orgId, key);
      await expect(read).rejects.toBeInstanceOf(SecretUnreadableError);
      await expect(read).rejects.toThrow(`Organization secret "${key}" cannot be read`);
    }
  });
});

describe("the admin routes", () => {
  it("answer the admin token only, and check the key the caller expects", async () => {
    const { client, orgId } = await newTenant(admin);
    const ids = await admin.expect(200, admin.get("/admin/secrets-key"));
    expect(ids).toEqual({ keyId: await keyIdOf(KEY_A), previousKeyIds: [] });
    const answer = await admin.expect(200, admin.post("/admin/reseal-secrets"));
    expect(answer).toMatchObject({ resealed: expect.any(Number), remainingUnderOldKeys: 0, unreadable: expect.any(Number), keyId: ids.keyId });
    expect(await admin.expect(200, admin.post("/admin/reseal-secrets", { keyId: ids.keyId }))).toMatchObject({ remainingUnderOldKeys: 0 });
    const wrong = await admin.post("/admin/reseal-secrets", { keyId: await keyIdOf(KEY_B) });
    expect(wrong.status).toBe(409);
    expect(wrong.body.message).toContain("Nothing was resealed");
    expect((await admin.post("/admin/reseal-secrets", { keyId: "nope" })).status).toBe(400);
    for (const res of [await client.post("/admin/reseal-secrets"), await client.get("/admin/secrets-key")]) {
      expect(res.status).toBe(403);
      expect(res.body.code).toBe("AuthorizationError");
    }
    expect((await client.as(undefined).post("/admin/reseal-secrets")).status).toBe(401);
    void orgId;
  });

  it("answers 409 SecretUnreadable, not a 500, when a resolved secret is under a key the deployment lacks", async () => {
    const { orgId } = await newTenant(admin);
    await putOrganizationSecret(env, orgId, { key: "LOST", value: "x" }, Date.now());
    const lost = await seal(onlyC, "gone", JSON.stringify(["organization-secret", orgId, "LOST"]));
    await env.DB.prepare(`UPDATE organization_secrets SET sealed_value = ? WHERE organization_id = ? AND key = 'LOST'`).bind(lost, orgId).run();
    const res = await admin.post(`/organizations/${orgId}/secrets/resolve`, { key: "LOST" });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("SecretUnreadable");
    expect(res.headers.get("x-amzn-errortype")).toBe("SecretUnreadable");
    expect(res.body.message).toContain(`sealed under key ${await keyIdOf(KEY_C)}`);
    expect(res.body.message).toContain("SECRETS_KEY_PREVIOUS");
  });

  it("refuses a webhook delivery whose trigger's secret is under a lost key with 409 SecretUnreadable, starting no job", async () => {
    const { orgId, client } = await newTenant(admin);
    const { workflowId } = await deployWorkflow(client, orgId, workflow("hooked", [step("only", "/justworkflowit/noop")]));
    const trigger = await client.expect(200, client.post(`/organizations/${orgId}/webhook-triggers`, { name: "t", workflowId, workflowVersion: { tag: "$LIVE" }, scheme: "github" }));
    const lost = await seal(onlyC, trigger.secret, `webhook-trigger:${orgId}:${trigger.triggerId}`);
    await env.DB.prepare(`UPDATE webhook_triggers SET sealed_secret = ? WHERE trigger_id = ?`).bind(lost, trigger.triggerId).run();
    const body = JSON.stringify({ hello: "world" });
    const res = await postHook((url, init) => SELF.fetch(url, init), `https://canopy.test/hooks/${trigger.triggerId}`, body, githubHeaders(trigger.secret, body));
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("SecretUnreadable");
    expect(res.body.message).toContain(`The signing secret of webhook trigger ${trigger.triggerId} cannot be read`);
    expect((await client.expect(200, client.get(`/organizations/${orgId}/jobs`))).totalCount).toBe(0);
  });

  it("fails a job's step with SECRET_UNREADABLE, without retrying, when its secret is under a lost key", async () => {
    const { orgId, client } = await newTenant(admin);
    await putOrganizationSecret(env, orgId, { key: "API_TOKEN", value: "x" }, Date.now());
    const lost = await seal(onlyC, "gone", JSON.stringify(["organization-secret", orgId, "API_TOKEN"]));
    await env.DB.prepare(`UPDATE organization_secrets SET sealed_value = ? WHERE organization_id = ? AND key = 'API_TOKEN'`).bind(lost, orgId).run();
    const def = workflow("uses-secret", [
      step("call", "/canopy/http", { config: { url: "https://example.com/never", headers: { authorization: { secret: "API_TOKEN" } } }, retries: 3 }),
    ]);
    const { workflowId } = await deployWorkflow(client, orgId, def);
    const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" } });
    const { job } = await waitForJob(client, orgId, jobId);
    expect(job.status).toBe("FAILED");
    expect(job.error).toMatchObject({ code: "SECRET_UNREADABLE", stepName: "call" });
    expect(job.error.message).toContain('Organization secret "API_TOKEN" cannot be read');
    const state = await client.expect(200, client.get(`/organizations/${orgId}/jobs/${jobId}/state`));
    expect(state.state.executionHistory.filter((h: { stepName: string }) => h.stepName === "call")).toHaveLength(1);
  });
});
