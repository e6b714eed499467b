/**
 * Security posture against a real `npm start`: SECRETS_KEY rotation across restarts (the sealed
 * values outlive their key through SECRETS_KEY_PREVIOUS and ResealSecrets), the console's and the API
 * reference's security headers, and /docs served wholly by the engine. (The console under its CSP in
 * a browser is test/e2e/console.test.ts; the audit log is test/integration/audit/.)
 */
import { createServer, type IncomingHttpHeaders } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deployWorkflow, newTenant, type TestClient } from "../helpers/client";
import { step, submit, waitForJob, workflow } from "../helpers/jobs";
import headers from "../../src/api/security-headers.json";
import { printServerLogsOnFailure } from "./jobs";
import { EngineServer } from "./server";

const server = new EngineServer();
printServerLogsOnFailure(server);

/** A far end on loopback that records the authorization header each call brought. */
const seen: IncomingHttpHeaders[] = [];
const farEnd = createServer((req, res) => {
  seen.push(req.headers);
  res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ok: true }));
});
let farEndUrl = "";

const KEY_B = Buffer.alloc(32, 0x5b).toString("base64");

let client: TestClient;
let orgId: string;

beforeAll(async () => {
  await new Promise<void>((r) => farEnd.listen(0, "127.0.0.1", r));
  farEndUrl = `http://127.0.0.1:${(farEnd.address() as { port: number }).port}`;
  await server.start();
  ({ client, orgId } = await newTenant(server.admin));
}, 180_000);

afterAll(async () => {
  await server.dispose();
  await new Promise<void>((r) => farEnd.close(() => r()));
});

/** Runs a job whose step sends the secret KEY as its authorization header; returns what the far end got. */
async function useSecretInAJob(key: string): Promise<string | undefined> {
  const def = workflow(`use-${key.toLowerCase().replace(/_/g, "-")}`, [step("call", "/canopy/http", { config: { url: `${farEndUrl}/call`, headers: { authorization: { secret: key } } } })]);
  const { workflowId } = await deployWorkflow(client, orgId, def);
  const before = seen.length;
  const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" } });
  const { job } = await waitForJob(client, orgId, jobId, undefined, 60_000);
  expect(job.status, JSON.stringify(job)).toBe("SUCCEEDED");
  return seen.slice(before).at(-1)?.authorization as string | undefined;
}

async function resolve(key: string): Promise<string> {
  return (await server.admin.expect(200, server.admin.post(`/organizations/${orgId}/secrets/resolve`, { key }))).value;
}

describe("SECRETS_KEY rotation across restarts", () => {
  it("keeps every secret readable and usable: key A, then B with A as previous, a reseal to 0, then B alone", async () => {
    await client.expect(200, client.post(`/organizations/${orgId}/secrets`, { key: "ROTATED_ONE", value: "value-one-under-A" }));
    await client.expect(200, client.post(`/organizations/${orgId}/secrets`, { key: "ROTATED_TWO", value: "value-two-under-A" }));
    const before = await server.admin.expect(200, server.admin.get("/admin/secrets-key"));

    // Restart with B sealing and A only opening: what A sealed still opens.
    await server.stop();
    await server.start(undefined, { SECRETS_KEY: KEY_B, SECRETS_KEY_PREVIOUS: server.secretsKey });
    const during = await server.admin.expect(200, server.admin.get("/admin/secrets-key"));
    expect(during.previousKeyIds).toEqual([before.keyId]);
    expect(during.keyId).not.toBe(before.keyId);
    expect(await resolve("ROTATED_ONE")).toBe("value-one-under-A");

    // Reseal until nothing is left under A.
    let answer = await server.admin.expect(200, server.admin.post("/admin/reseal-secrets", { keyId: during.keyId }));
    for (let i = 0; i < 20 && answer.remainingUnderOldKeys > 0; i++) answer = await server.admin.expect(200, server.admin.post("/admin/reseal-secrets"));
    expect(answer).toMatchObject({ remainingUnderOldKeys: 0, unreadable: 0 });
    expect(answer.resealed).toBeGreaterThanOrEqual(1);

    // Restart with B alone: every secret still opens, in the API and in a job.
    await server.stop();
    await server.start(undefined, { SECRETS_KEY: KEY_B });
    expect(await server.admin.expect(200, server.admin.get("/admin/secrets-key"))).toEqual({ keyId: during.keyId, previousKeyIds: [] });
    expect(await resolve("ROTATED_ONE")).toBe("value-one-under-A");
    expect(await resolve("ROTATED_TWO")).toBe("value-two-under-A");
    expect(await useSecretInAJob("ROTATED_TWO")).toBe("value-two-under-A");
  });
  // A secret under a key the deployment lacks (409 SecretUnreadable; SECRET_UNREADABLE in a job) is
  // test/integration/api/secrets-key-rotation.test.ts: it needs no restart.
});

describe("security headers", () => {
  const expectSecurityHeaders = (res: Response, what: string) => {
    for (const [name, value] of Object.entries(headers)) expect(res.headers.get(name), `${what}: ${name}`).toBe(value);
  };

  it("serves the console's files and deep links with a strict CSP, frame-ancestors 'none', DENY, nosniff and no-referrer", async () => {
    expect(headers["Content-Security-Policy"]).toMatch(/script-src 'self';/);
    expect(headers["Content-Security-Policy"]).toMatch(/style-src 'self';/);
    expect(headers["Content-Security-Policy"]).toMatch(/frame-ancestors 'none'/);
    const index = await fetch(`${server.baseUrl}/console/`);
    expect(index.status).toBe(200);
    expectSecurityHeaders(index, "/console/");
    const html = await index.text();
    const script = /<script[^>]+src="([^"]+)"/.exec(html)?.[1];
    expect(script, html).toMatch(/^\/console\/assets\//);
    const asset = await fetch(server.baseUrl + script);
    expect(asset.status).toBe(200);
    expectSecurityHeaders(asset, script!);
    const deepLink = await fetch(`${server.baseUrl}/console/organizations/${orgId}/jobs`);
    expect(deepLink.status).toBe(200);
    expectSecurityHeaders(deepLink, "a deep link");
  });

  it("answers every API call, errors included, with nosniff", async () => {
    for (const res of [await fetch(`${server.baseUrl}/healthz`), await fetch(`${server.baseUrl}/organizations`), await fetch(`${server.baseUrl}/nowhere`)]) {
      expect(res.headers.get("x-content-type-options"), res.url).toBe("nosniff");
    }
  });
});

describe("/docs", () => {
  it("loads the API reference and every file it names from the engine, under the same headers, and names no other origin", async () => {
    const page = await fetch(`${server.baseUrl}/docs`);
    expect(page.status).toBe(200);
    expectSecurityHeadersOf(page);
    const html = await page.text();
    // No URL of another origin anywhere in the page.
    expect(html.match(/(?:https?:)?\/\/[^\s"'<>]+/g) ?? []).toEqual([]);
    const named = [...html.matchAll(/(?:src|href|data-spec-url)="([^"]+)"/g)].map((m) => m[1]!);
    expect(named.sort()).toEqual(["/docs/init.js", "/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css", "/openapi.json"]);
    for (const path of named) {
      const res = await fetch(server.baseUrl + path);
      expect(res.status, path).toBe(200);
      const body = await res.text();
      expect(body.length, path).toBeGreaterThan(100);
      if (path === "/openapi.json") expect(JSON.parse(body).openapi).toBe("3.1.0");
      else expectSecurityHeadersOf(res);
    }
  });
});

function expectSecurityHeadersOf(res: Response) {
  for (const [name, value] of Object.entries(headers)) expect(res.headers.get(name), `${res.url}: ${name}`).toBe(value);
}
