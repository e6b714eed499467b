// Requests the fuzzer found answered 500 or silently accepted: each is a 400 in the API's error
// format, and nothing is written.
import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { deployWorkflow, newTenant } from "../../helpers/client";
import { step, submit, workflow } from "../../helpers/jobs";
import { createTrigger, githubHeaders, postHook } from "../../helpers/webhooks";
import { admin } from "../../helpers/workerd";

const BASE = "https://canopy.test";
const waiting = workflow("waiting", [step("wait", "/justworkflowit/waitForEventIds", { config: { eventIds: ["go"] } })]);

/** Sends raw bytes with exactly these headers. */
async function raw(method: string, path: string, token: string, body: BodyInit | undefined, headers: Record<string, string>) {
  const res = await SELF.fetch(BASE + path, { method, headers: { authorization: `Bearer ${token}`, ...headers }, ...(body !== undefined ? { body } : {}) });
  return { status: res.status, errorType: res.headers.get("x-amzn-errortype"), body: (await res.json()) as { code: string; message: string } };
}

const deep = (depth: number) => "[".repeat(depth) + "]".repeat(depth);
const bytes = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p) : Buffer.from(p))));

describe("hostile request bodies", () => {
  it("refuses a body that is not declared JSON with 400, not 500", async () => {
    const { orgId, token, client } = await newTenant(admin);
    const contentTypes: Record<string, string>[] = [{ "content-type": "text/plain" }, { "content-type": "application/x-www-form-urlencoded" }, {}];
    for (const headers of contentTypes) {
      const res = await raw("POST", `/organizations/${orgId}/workflows`, token, bytes('{"name":"wf"}'), headers);
      expect(res).toMatchObject({ status: 400, errorType: "ValidationError", body: { code: "ValidationError" } });
      expect(res.body.message).toMatch(/content-type: application\/json/);
    }
    expect((await client.expect(200, client.get(`/organizations/${orgId}/workflows`))).workflows).toEqual([]);
  });

  it("refuses invalid UTF-8 instead of storing U+FFFD", async () => {
    const { orgId, token, client } = await newTenant(admin);
    for (const bad of [[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80]]) {
      const res = await raw("POST", `/organizations/${orgId}/workflows`, token, bytes('{"name":"wf', bad, '"}'), { "content-type": "application/json" });
      expect(res).toMatchObject({ status: 400, errorType: "ValidationError", body: { message: "The request body is not valid UTF-8." } });
    }
    expect((await client.expect(200, client.get(`/organizations/${orgId}/workflows`))).workflows).toEqual([]);
  });

  it("refuses JSON nested past the limit, in a body or in the JSON strings it carries", async () => {
    const { orgId, token, client } = await newTenant(admin);
    const { workflowId } = await deployWorkflow(client, orgId, waiting);
    const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" } });
    const json = { "content-type": "application/json" };
    const o = `/organizations/${orgId}`;

    // An event payload 20,000 deep once crashed the RPC to the job (500); 500 deep was recorded.
    for (const depth of [101, 20_000]) {
      const res = await raw("POST", `${o}/jobs/${jobId}/events`, token, `{"eventId":"go","payload":${deep(depth)}}`, json);
      expect(res).toMatchObject({ status: 400, body: { code: "ValidationError", message: "The request body nests deeper than 100 levels." } });
    }
    // 100 levels, the limit, are accepted.
    await client.expect(200, client.post(`${o}/jobs/${jobId}/events`, `{"eventId":"other","payload":${deep(99)}}`));

    const submitted = await raw("POST", `${o}/jobs`, token, JSON.stringify({ workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: deep(5_000) }), json);
    expect(submitted).toMatchObject({ status: 400, body: { code: "ValidationError", message: "inputJson nests deeper than 100 levels." } });

    // A definition string 5,000 deep once overflowed the static checks' stack.
    const definition = JSON.stringify({ ...waiting, definitions: { workflowInput: {}, any: JSON.parse('{"items":'.repeat(150) + "{}" + "}".repeat(150)) } });
    const version = await raw("POST", `${o}/workflows/${workflowId}/versions`, token, JSON.stringify({ definition }), json);
    expect(version).toMatchObject({ status: 400, body: { code: "ValidationError" } });
    expect((version.body as any).errors).toEqual(["the definition nests deeper than 100 levels"]);

    const state = await client.expect(200, client.get(`${o}/jobs/${jobId}/state`));
    expect(state.state.executionHistory.map((h: any) => h.eventId)).toEqual(["other"]);
    expect((await client.expect(200, client.get(`${o}/jobs`))).totalCount).toBe(1);
    expect((await client.expect(200, client.get(`${o}/workflows/${workflowId}/versions`))).versions).toHaveLength(1);
  });

  it("refuses a signed webhook delivery nested past the limit with 400", async () => {
    const { orgId, client } = await newTenant(admin);
    const { workflowId } = await deployWorkflow(client, orgId, waiting);
    const trigger = await createTrigger(client, orgId, { name: "deep", workflowId, workflowVersion: { tag: "$LIVE" }, scheme: "github" });
    const body = deep(50_000);
    const res = await postHook((url, init) => SELF.fetch(url, init), trigger.url, body, githubHeaders(trigger.secret, body));
    expect(res).toMatchObject({ status: 400, body: { code: "ValidationError", message: "The delivery body nests deeper than 100 levels." } });
    expect((await client.expect(200, client.get(`/organizations/${orgId}/jobs`))).totalCount).toBe(0);
  });
});
