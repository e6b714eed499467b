/**
 * Webhook senders for tests, written from the schemes' reference algorithms with node:crypto and
 * independent of src/: Standard Webhooks signs `{id}.{timestamp}.{body}` with the base64-decoded
 * `whsec_` secret; GitHub signs the body with the secret's bytes and sends hex.
 */
import { createHmac, randomUUID } from "node:crypto";
import type { ApiResponse, Fetcher, TestClient } from "./client";

type Body = string | Uint8Array;

/** One `v1,<base64>` Standard Webhooks signature. */
export function standardSignature(secret: string, id: string, timestamp: number, body: Body): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const mac = createHmac("sha256", key).update(`${id}.${timestamp}.`).update(body).digest("base64");
  return `v1,${mac}`;
}

/** Standard Webhooks headers for `body`, signed now unless told otherwise. */
export function standardHeaders(
  secret: string,
  body: Body,
  opts: { id?: string; timestamp?: number; signature?: string } = {},
): Record<string, string> {
  const id = opts.id ?? `msg_${randomUUID()}`;
  const timestamp = opts.timestamp ?? Math.floor(Date.now() / 1000);
  return {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": opts.signature ?? standardSignature(secret, id, timestamp, body),
  };
}

/** GitHub's `sha256=<hex>` signature. */
export function githubSignature(secret: string, body: Body): string {
  return "sha256=" + createHmac("sha256", secret).update(body).digest("hex");
}

export function githubHeaders(secret: string, body: Body, deliveryId: string = randomUUID()): Record<string, string> {
  return {
    "content-type": "application/json",
    "x-github-event": "push",
    "x-github-delivery": deliveryId,
    "x-hub-signature-256": githubSignature(secret, body),
  };
}

/** Posts raw bytes to a delivery URL (no bearer token) and parses the JSON answer. */
export async function postHook(fetcher: Fetcher, url: string, body: BodyInit, headers: Record<string, string>): Promise<ApiResponse> {
  const res = await fetcher(url, { method: "POST", headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON: keep the text */
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** Creates a webhook trigger and returns the create answer ({triggerId, url, secret, ...}). */
export async function createTrigger(client: TestClient, orgId: string, body: Record<string, unknown>): Promise<any> {
  return client.expect(200, client.post(`/organizations/${orgId}/webhook-triggers`, body));
}

/** The organization's job count as ListJobs reports it. */
export async function jobCount(client: TestClient, orgId: string): Promise<number> {
  return (await client.expect(200, client.get(`/organizations/${orgId}/jobs`))).totalCount;
}
