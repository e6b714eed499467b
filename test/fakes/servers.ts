/**
 * Vitest `globalSetup` for the integration project: one real HTTP server on a loopback port that
 * stands in for the far ends executors call (any HTTP API, AWS Lambda, Google's token endpoint and
 * a Cloud Function). It runs in Node, outside workerd, so the Worker reaches it over real sockets.
 *
 * Tests script it and read what it saw over HTTP (see test/integration/integrations/fake.ts):
 * - `PUT /__scenario/<id>` `{replies: [Reply, ...]}`: replies in order, the last one repeats.
 * - `GET /__log/<id>`: every request the scenario received, in arrival order.
 * A request belongs to scenario `<id>` when its path is `/s/<id>/...` (HTTP), a Lambda Invoke of
 * function `<id>`, `/token/<id>` (token endpoint) or `/fn/<id>` (Cloud Function).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createPublicKey, createSign, createVerify, generateKeyPairSync, randomUUID, type KeyObject } from "node:crypto";
import type { TestProject } from "vitest/node";

export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  json?: unknown;
  body?: string;
  /** Answers with the request's own JSON body. */
  echo?: boolean;
  /** Never answers (until the client gives up). */
  hang?: boolean;
}

export interface SeenRequest {
  /** Node's clock when the request arrived. */
  at: number;
  method: string;
  /** Raw path and query, exactly as sent. */
  url: string;
  headers: Record<string, string>;
  body: string;
  /** For the token endpoint: the problems found in the JWT (empty when it verified). */
  jwtProblems?: string[];
  /** For the token endpoint: the JWT's claims. */
  claims?: Record<string, unknown>;
}

export interface GcpTestKey {
  clientEmail: string;
  privateKeyId: string;
  privateKeyPem: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    fakePort: number;
    gcpKey: GcpTestKey;
  }
}

const b64url = (data: string | Buffer) => Buffer.from(data).toString("base64url");
const ID_TOKEN_LIFETIME_S = 3600;

class FakeFarEnd {
  readonly scripts = new Map<string, Reply[]>();
  readonly logs = new Map<string, SeenRequest[]>();
  /** ID tokens issued by the fake token endpoint, with the audience each was issued for. */
  readonly idTokens = new Map<string, string>();
  readonly hanging = new Set<ServerResponse>();
  port = 0;

  constructor(
    private readonly gcp: GcpTestKey,
    private readonly publicKey: KeyObject,
    private readonly privateKey: KeyObject,
  ) {}

  async handle(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    const url = req.url ?? "/";
    const path = url.split("?")[0]!;
    const control = /^\/__(scenario|log)\/([^/]+)$/.exec(path);
    if (control) {
      const id = decodeURIComponent(control[2]!);
      if (control[1] === "scenario" && req.method === "PUT") {
        this.scripts.set(id, (JSON.parse(body) as { replies: Reply[] }).replies);
        this.logs.set(id, this.logs.get(id) ?? []);
        return send(res, { status: 200, json: { ok: true } });
      }
      return send(res, { status: 200, json: { requests: this.logs.get(id) ?? [] } });
    }
    const seen: SeenRequest = { at: Date.now(), method: req.method ?? "GET", url, headers: flatHeaders(req), body };
    const id = scenarioOf(path);
    if (!id) return send(res, { status: 404, body: "no scenario in path" });
    const log = this.logs.get(id) ?? [];
    this.logs.set(id, log);
    log.push(seen);

    if (path.startsWith("/token/")) return this.token(seen, res);
    if (path.startsWith("/fn/")) {
      const bearer = /^Bearer (.+)$/.exec(seen.headers.authorization ?? "")?.[1];
      const audience = bearer ? this.idTokens.get(bearer) : undefined;
      if (audience !== `http://127.0.0.1:${this.port}${path}`) return send(res, { status: 401, body: "missing or wrong ID token" });
    }
    const script = this.scripts.get(id) ?? [{ echo: true }];
    const reply = script.length > 1 ? script.shift()! : (script[0] ?? { echo: true });
    if (reply.hang) {
      this.hanging.add(res);
      res.on("close", () => this.hanging.delete(res));
      return;
    }
    send(res, reply.echo ? { ...reply, json: body ? JSON.parse(body) : null } : reply);
  }

  /** Google's JWT-bearer grant: verifies the assertion like Google would, then issues an ID token. */
  private token(seen: SeenRequest, res: ServerResponse): void {
    const form = new URLSearchParams(seen.body);
    const problems: string[] = [];
    if (form.get("grant_type") !== "urn:ietf:params:oauth:grant-type:jwt-bearer") problems.push("grant_type");
    const [h = "", p = "", s = ""] = (form.get("assertion") ?? "").split(".");
    const header = safeJson(Buffer.from(h, "base64url").toString());
    const claims = safeJson(Buffer.from(p, "base64url").toString());
    const verifier = createVerify("RSA-SHA256").update(`${h}.${p}`);
    if (!verifier.verify(this.publicKey, Buffer.from(s, "base64url"))) problems.push("signature");
    if (header.alg !== "RS256") problems.push("alg");
    if (header.kid !== this.gcp.privateKeyId) problems.push("kid");
    const endpoint = `http://127.0.0.1:${this.port}${seen.url.split("?")[0]}`;
    if (claims.iss !== this.gcp.clientEmail) problems.push("iss");
    if (claims.aud !== endpoint) problems.push("aud");
    if (typeof claims.target_audience !== "string") problems.push("target_audience");
    const now = Math.floor(Date.now() / 1000);
    if (typeof claims.iat !== "number" || typeof claims.exp !== "number" || claims.exp <= now || claims.iat > now + 60) problems.push("iat/exp");
    seen.jwtProblems = problems;
    seen.claims = claims;
    if (problems.length) return send(res, { status: 400, json: { error: "invalid_grant", error_description: `bad ${problems.join(", ")}` } });
    const idToken = [
      b64url(JSON.stringify({ alg: "RS256", typ: "JWT" })),
      b64url(JSON.stringify({ aud: claims.target_audience, iss: "https://accounts.google.com", iat: now, exp: now + ID_TOKEN_LIFETIME_S, jti: randomUUID() })),
    ].join(".");
    const signed = `${idToken}.${createSign("RSA-SHA256").update(idToken).sign(this.privateKey).toString("base64url")}`;
    this.idTokens.set(signed, claims.target_audience as string);
    send(res, { status: 200, json: { id_token: signed } });
  }
}

function scenarioOf(path: string): string | undefined {
  const plain = /^\/(?:s|token|fn)\/([^/]+)/.exec(path);
  if (plain) return decodeURIComponent(plain[1]!);
  const lambda = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(path);
  if (!lambda) return undefined;
  const name = decodeURIComponent(lambda[1]!);
  return name.includes(":function:") ? name.split(":function:")[1]!.split(":")[0] : name;
}

function flatHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(", ") : v;
  return out;
}

function safeJson(text: string): Record<string, unknown> {
  try {
    const v = JSON.parse(text);
    return v && typeof v === "object" ? v : {};
  } catch {
    return {};
  }
}

function send(res: ServerResponse, reply: Reply): void {
  const headers: Record<string, string> = { ...reply.headers };
  let body = reply.body ?? "";
  if (reply.json !== undefined) {
    body = JSON.stringify(reply.json);
    headers["content-type"] ??= "application/json";
  }
  res.writeHead(reply.status ?? 200, headers).end(body);
}

/** Starts the fake far end and provides its port and the service-account key to the tests. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const gcp: GcpTestKey = {
    clientEmail: "canopy-test@canopy-test.iam.gserviceaccount.com",
    privateKeyId: randomUUID().replaceAll("-", ""),
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  };
  const fake = new FakeFarEnd(gcp, createPublicKey(publicKey.export({ type: "spki", format: "pem" })), privateKey);
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      fake.handle(req, res, Buffer.concat(chunks).toString("utf8")).catch((e) => send(res, { status: 500, body: String(e) }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  fake.port = (server.address() as AddressInfo).port;
  project.provide("fakePort", fake.port);
  project.provide("gcpKey", gcp);
  return async () => {
    for (const res of fake.hanging) res.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
}
