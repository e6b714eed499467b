// Hostile input over real HTTP: random and malformed requests to every route. Every answer is a 4xx
// in the API's error format (never a 500), and nothing is written.
// FUZZ_RUNS sets the number of cases (default keeps this file well under a minute); FUZZ_SEED replays one.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deployWorkflow, newTenant, type TestClient } from "../helpers/client";
import { step, submit, workflow } from "../helpers/jobs";
import { createTrigger, githubHeaders } from "../helpers/webhooks";
import { hostPatternProblem } from "../../src/host-patterns";
import { listAllJobs, printServerLogsOnFailure } from "./jobs";
import { EngineServer } from "./server";

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : undefined;

/** Refusals the HTTP front end gives before the Worker runs (URL or headers too large): no API body. */
const FRONT_END_REFUSALS = [414, 431];

const orderInput = {
  type: "object",
  required: ["orderId"],
  properties: { orderId: { type: "string" } },
  additionalProperties: false,
};
const orders = workflow("fuzz-orders", [step("approve", "/justworkflowit/waitForEventIds", { config: { eventIds: ["go"] } })], {
  workflowInput: orderInput,
});

// A definition using most executor types, for mutation: each mutated copy is checked and, where
// it passes the checks, run.
const rich = workflow(
  "fuzz-rich",
  [
    step("load", "/justworkflowit/noop", { input: "workflowInput", output: "workflowInput" }, { if: [{ ">": [{ var: "load.output.n" }, 0] }, "shape", "wait"] }),
    step("shape", "/canopy/transform", { config: { output: { n: { "-": [{ var: "load.output.n" }, 1] }, tag: "x" } } }, "wait"),
    step("wait", "/justworkflowit/waitForEventIds", { config: { eventIds: ["go"], timeoutSeconds: 30 } }, "nap"),
    step("nap", "/canopy/delay", { config: { seconds: 1 } }, "fan"),
    step("fan", "/justworkflowit/runChildJob", {
      config: { children: [{ workflowName: "fuzz-orders", workflowVersion: { tag: "$LIVE" }, forEach: { arrayPath: "workflowInput.items" } }], maxConcurrency: 2 },
      inputTransformer: { fieldset: [{ from: "workflowInput.n", to: "count" }] },
    }),
  ],
  { workflowInput: { type: "object", properties: { n: { type: "integer" }, items: { type: "array" } }, required: ["n", "items"] } },
);

/** Values that have broken parsers and evaluators before: prototype names, refs, extremes. */
const hostileValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom<unknown>(
    "__proto__", "constructor", "toString", "prototype", "", "#", "#/definitions/__proto__", "#/definitions/constructor",
    "$LIVE", "load", "workflowInput.__proto__", "previousStep.output", "x".repeat(10_000),
    1e308, -1, 0, 1.5, -1e308, { var: "__proto__" }, { var: ["constructor.prototype", 1] }, { if: [] }, { "+": "x" },
    { $ref: "#/definitions/any" }, JSON.parse('{"__proto__":{"polluted":true}}'),
  ),
  fc.integer({ min: 2, max: 100 }).map((depth) => JSON.parse("[".repeat(depth) + "]".repeat(depth))),
);

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every path into a JSON value, as key lists. */
function paths(value: Json, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(at);
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...at, i], out));
  else if (value !== null && typeof value === "object") for (const [k, v] of Object.entries(value)) paths(v, [...at, k], out);
  return out;
}

/** A copy of `value` where the node at `path` is replaced, removed, or given an extra key. */
function mutate(value: Json, path: (string | number)[], op: "replace" | "remove" | "add", replacement: unknown, key: string): Json {
  if (path.length === 0) {
    if (op === "add" && value !== null && typeof value === "object" && !Array.isArray(value)) return Object.fromEntries([...Object.entries(value), [key, replacement as Json]]);
    return op === "remove" ? null : (replacement as Json);
  }
  const [head, ...rest] = path;
  if (Array.isArray(value)) {
    const copy = [...value];
    if (rest.length === 0 && op === "remove") copy.splice(head as number, 1);
    else copy[head as number] = mutate(copy[head as number]!, rest, op, replacement, key);
    return copy;
  }
  const obj = value as { [k: string]: Json };
  if (rest.length === 0 && op === "remove") return Object.fromEntries(Object.entries(obj).filter(([k]) => k !== head));
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, k === head ? mutate(v, rest, op, replacement, key) : v]));
}

/** The rich definition with one to three random mutations. */
const mutatedDefinition = fc
  .array(fc.tuple(fc.nat(), fc.constantFrom("replace", "remove", "add") as fc.Arbitrary<"replace" | "remove" | "add">, hostileValue, fc.constantFrom("__proto__", "constructor", "extra", "$ref", "if")), {
    minLength: 1,
    maxLength: 3,
  })
  .map((mutations) =>
    mutations.reduce<Json>((def, [n, op, value, key]) => {
      const all = paths(def);
      return mutate(def, all[n % all.length]!, op, value, key);
    }, rich as unknown as Json),
  );

// ---- requests ----------------------------------------------------------------------------------

interface Req {
  method: string;
  path: string;
  token?: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** ValidateWorkflowVersion answers 200 {valid:false} for an invalid definition (API.md). */
  validate?: boolean;
}

const enc = new TextEncoder();
const utf8 = (s: string) => enc.encode(s);
const JSON_TYPE = { "content-type": "application/json" };

/** A short description of a request for failure messages. */
function show(r: Req): string {
  const body = r.body ? Buffer.from(r.body.subarray(0, 300)).toString("latin1") : "";
  const headers = Object.fromEntries(Object.entries(r.headers ?? {}).map(([k, v]) => [k, v.length > 80 ? `${v.slice(0, 80)}…(${v.length})` : v]));
  return `${r.method} ${r.path.slice(0, 200)} ${JSON.stringify(headers)} body(${r.body?.byteLength ?? 0})=${body}`;
}

// ---- generators --------------------------------------------------------------------------------

const notAString = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }),
  fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
);
const notAnObject = fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.string(), fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }));

/** A secret's `allowedHosts` that must be refused: not a list, an empty or too long one, or one naming a bad pattern. */
const badAllowedHosts = fc.oneof(
  fc.oneof(fc.integer(), fc.boolean(), fc.string({ maxLength: 40 }), fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 })),
  fc.constantFrom<unknown[]>(
    [], [""], ["*"], ["*.com"], ["*example.com"], ["https://api.example.com/"], ["API.example.com"], ["api.example.com:0"],
    ["api.example.com:65536"], ["0x7f.1"], ["2130706433"], ["[::1"], ["[0:0:0:0:0:0:0:1]"], ["a.example.com", "a.example.com"],
    ["*.10.0.0.1"], ["x".repeat(301)], [null], [1], [["a.example.com"]],
  ),
  fc.integer({ min: 51, max: 300 }).map((n) => Array.from({ length: n }, (_, i) => `h${i}.example.com`)),
  // Strings from the characters host parsers disagree on, at least one of them invalid.
  fc
    .array(fc.string({ unit: fc.constantFrom(..."aZ09.-*:[]_/@% \u00fc"), maxLength: 30 }), { minLength: 1, maxLength: 5 })
    .filter((hosts) => hosts.some((h) => hostPatternProblem(h) !== undefined)),
);

/** Extra fields a route does not know, sometimes `__proto__` and `constructor`. */
function unknownFields(known: string[]) {
  const key = fc.oneof(fc.string({ minLength: 1, maxLength: 20 }), fc.constantFrom("__proto__", "constructor", "prototype"));
  return fc.array(fc.tuple(key, fc.jsonValue({ maxDepth: 3 })), { maxLength: 4 }).map((entries) => entries.filter(([k]) => !known.includes(k)));
}

/**
 * A body object: `valid`, with one field broken (a required one dropped, or any of a wrong type),
 * plus unknown fields. `optional` fields are never dropped: leaving one out is valid.
 */
function broken(valid: Record<string, unknown>, wrong: Record<string, fc.Arbitrary<unknown>>, optional: readonly string[] = []) {
  const fields = Object.keys(wrong);
  return fc
    .tuple(fc.constantFrom(...fields), fc.boolean(), unknownFields(Object.keys(valid)))
    .chain(([field, drop, extra]) =>
      wrong[field]!.map((value) => {
        const entries = Object.entries(valid).filter(([k]) => k !== field);
        if (!drop || optional.includes(field)) entries.push([field, value]);
        return Object.fromEntries([...extra, ...entries]);
      }),
    );
}

/** Nested arrays or objects deeper than any limit, as text (a recursive stringify would overflow here too). */
const deepText = fc
  .tuple(fc.integer({ min: 101, max: 50_000 }), fc.boolean())
  .map(([depth, arrays]) => (arrays ? "[".repeat(depth) + "]".repeat(depth) : '{"a":'.repeat(depth) + "1" + "}".repeat(depth)));

const INVALID_UTF8 = [[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xc0, 0xaf], [0xf8, 0x88, 0x80, 0x80, 0x80]];
const MARK = "\u2603FUZZ\u2603";

/** A JSON body whose text carries `bad` bytes inside a string value in place of MARK. */
function withBytes(json: string, bad: number[]): Uint8Array {
  const [before, after] = json.split(MARK) as [string, string];
  return Buffer.concat([utf8(before), Uint8Array.from(bad), utf8(after ?? "")]);
}

/** Puts MARK inside the first string value of `valid` (or adds a field holding it). */
function markString(valid: Record<string, unknown>): string {
  const entries = Object.entries(valid);
  const i = entries.findIndex(([, v]) => typeof v === "string");
  if (i >= 0) entries[i] = [entries[i]![0], `${entries[i]![1]}${MARK}`];
  else entries.push(["note", MARK]);
  return JSON.stringify(Object.fromEntries(entries));
}

const headerValue = fc.string({ unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789-_=;,. "), maxLength: 40 });
/** Sometimes a huge header, sometimes many headers; up to the size the HTTP front end accepts. */
const hostileHeaders = fc.oneof(
  fc.constant({} as Record<string, string>),
  fc.integer({ min: 1_000, max: 60_000 }).map((n) => ({ "x-fuzz": "h".repeat(n) })),
  fc.array(headerValue, { minLength: 50, maxLength: 150 }).map((vs) => Object.fromEntries(vs.map((v, i) => [`x-fuzz-${i}`, v]))),
);

type Kind = "notJson" | "notAnObject" | "wrongTypes" | "deep" | "hugeArray" | "badUtf8" | "wrongContentType" | "empty";
const KINDS: Kind[] = ["notJson", "notAnObject", "wrongTypes", "deep", "hugeArray", "badUtf8", "wrongContentType", "empty"];

interface BodyRoute {
  name: string;
  method: string;
  path: () => string;
  admin?: boolean;
  validate?: boolean;
  /** A body this route would accept: used where the malformation lies outside the body's content. */
  valid: () => Record<string, unknown>;
  /** For each required field, values of a wrong type. */
  wrong: Record<string, fc.Arbitrary<unknown>>;
  /** Fields of `wrong` the route may go without: given wrong, never left out. */
  optional?: string[];
}

/** One malformed request of a kind to a body route. */
function malformed(route: BodyRoute, kind: Kind): fc.Arbitrary<Omit<Req, "token">> {
  const base = { method: route.method, validate: route.validate };
  const json = (text: string | Uint8Array, headers: Record<string, string> = JSON_TYPE) => ({
    ...base,
    path: route.path(),
    headers,
    body: typeof text === "string" ? utf8(text) : text,
  });
  const valid = route.valid();
  switch (kind) {
    case "notJson":
      return fc.string({ maxLength: 200 }).filter((s) => {
        try {
          JSON.parse(s);
          return false;
        } catch {
          return true;
        }
      }).map((s) => json(s));
    case "notAnObject":
      return notAnObject.map((v) => json(JSON.stringify(v)));
    case "wrongTypes":
      return broken(valid, route.wrong, route.optional).map((o) => json(JSON.stringify(o)));
    case "deep":
      // Alone, or as the value of one of the route's own fields (an event payload, a definition, an input).
      return fc.tuple(deepText, fc.constantFrom(...Object.keys(valid), null)).map(([deep, field]) =>
        json(field === null ? deep : JSON.stringify({ ...valid, [field]: MARK }).replace(JSON.stringify(MARK), deep)),
      );
    case "hugeArray":
      // A required field, or the whole body, is a huge array; sometimes past the body limit.
      return fc.tuple(fc.integer({ min: 10_000, max: 600_000 }), fc.constantFrom(...Object.keys(route.wrong), null)).map(([n, field]) => {
        const array = `[${new Array(n).fill("0").join(",")}]`;
        return json(field === null ? array : JSON.stringify({ ...valid, [field]: MARK }).replace(JSON.stringify(MARK), array));
      });
    case "badUtf8":
      // The body is otherwise one the route accepts: the bytes alone must refuse it.
      return fc.constantFrom(...INVALID_UTF8).map((bad) => json(withBytes(markString(valid), bad)));
    case "wrongContentType":
      return fc
        .constantFrom<Record<string, string>>(
          { "content-type": "text/plain" },
          { "content-type": "application/x-www-form-urlencoded" },
          { "content-type": "multipart/form-data; boundary=fuzz" },
          { "content-type": "application/xml" },
          {},
        )
        .map((headers) => json(JSON.stringify(valid), headers));
    case "empty":
      return fc.constantFrom<Omit<Req, "token">>(
        { ...base, path: route.path(), headers: JSON_TYPE, body: new Uint8Array(0) },
        { ...base, path: route.path(), headers: JSON_TYPE },
        { ...base, path: route.path(), headers: JSON_TYPE, body: utf8("   ") },
      );
  }
}

// ---- the suite ---------------------------------------------------------------------------------

describe("hostile input to every route", () => {
  const server = new EngineServer();
  let orgId: string;
  let client: TestClient;
  let token: string;
  let ids: { workflowId: string; versionId: string; jobId: string; tokenId: string; triggerId: string; triggerSecret: string };
  let before: unknown;
  let scratch: { orgId: string; client: TestClient; workflowId?: string };

  /** Everything a write could change, as the API reads it back. */
  async function snapshot() {
    const o = `/organizations/${orgId}`;
    const read = (path: string, as: TestClient = client) => as.expect(200, as.get(path));
    const [organizations, tokens, workflows, versions, tag, secrets, triggers, jobs, job, state] = await Promise.all([
      read("/organizations", server.admin),
      read(`${o}/api-auth-tokens`),
      read(`${o}/workflows`),
      read(`${o}/workflows/${ids.workflowId}/versions`),
      read(`${o}/workflows/${ids.workflowId}/tags/$LIVE`),
      read(`${o}/secrets`),
      read(`${o}/webhook-triggers`),
      listAllJobs(client, orgId),
      read(`${o}/jobs/${ids.jobId}`),
      read(`${o}/jobs/${ids.jobId}/state`),
    ]);
    return { organizations, tokens, workflows, versions, tag, secrets, triggers, jobs, job, state };
  }

  async function send(r: Req): Promise<{ status: number; headers: Headers; text: string }> {
    const headers: Record<string, string> = { ...(r.headers ?? {}) };
    if (r.token) headers.authorization = `Bearer ${r.token}`;
    const res = await fetch(server.baseUrl + r.path, { method: r.method, headers, ...(r.body ? { body: r.body } : {}) });
    return { status: res.status, headers: res.headers, text: await res.text() };
  }

  /** The request is refused with a 4xx in the API's error format. */
  async function expectRefused(r: Req): Promise<void> {
    const res = await send(r);
    const what = `${show(r)}\n  -> ${res.status} ${res.text.slice(0, 300)}`;
    if (r.validate && res.status === 200) {
      expect(JSON.parse(res.text).valid, what).toBe(false);
      return;
    }
    expect(res.status >= 400 && res.status < 500, what).toBe(true);
    if (FRONT_END_REFUSALS.includes(res.status)) return;
    let body: any;
    expect(() => (body = JSON.parse(res.text)), what).not.toThrow();
    expect(typeof body.code === "string" && typeof body.message === "string", what).toBe(true);
    expect(res.headers.get("x-amzn-errortype"), what).toBe(body.code);
  }

  const params = { numRuns: Math.max(1, Math.ceil(RUNS / 100)), ...(SEED !== undefined ? { seed: SEED } : {}), endOnFailure: true };

  /** Runs `arb` through expectRefused, with hostile headers added, as `token`. */
  async function fuzz(arb: fc.Arbitrary<Omit<Req, "token">>, as: () => string, numRuns = params.numRuns) {
    await fc.assert(
      fc.asyncProperty(arb, hostileHeaders, async (r, extra) => {
        await expectRefused({ ...r, token: as(), headers: { ...extra, ...(r.headers ?? {}) } });
      }),
      { ...params, numRuns },
    );
  }

  beforeAll(async () => {
    await server.start();
    ({ orgId, client, token } = await newTenant(server.admin));
    const { workflowId, versionId } = await deployWorkflow(client, orgId, orders);
    const jobId = await submit(client, orgId, { workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: { orderId: "o-1" } });
    const tokens = await client.expect(200, client.get(`/organizations/${orgId}/api-auth-tokens`));
    await client.expect(200, client.post(`/organizations/${orgId}/secrets`, { key: "FUZZ_SECRET", value: "s3cret" }));
    const trigger = await createTrigger(client, orgId, { name: "fuzz", workflowId, workflowVersion: { tag: "$LIVE" }, scheme: "github" });
    ids = { workflowId, versionId, jobId, tokenId: tokens.tokens[0].apiAuthTokenId, triggerId: trigger.triggerId, triggerSecret: trigger.secret };
    // Mutated definitions that pass the checks run in an organization of their own.
    scratch = await newTenant(server.admin);
    await deployWorkflow(scratch.client, scratch.orgId, orders);
    scratch.workflowId = (await deployWorkflow(scratch.client, scratch.orgId, rich)).workflowId;
    before = await snapshot();
  });
  afterAll(() => server.dispose());
  printServerLogsOnFailure(server);

  const o = () => `/organizations/${orgId}`;
  const definitionText = JSON.stringify({ ...orders, workflowName: "fuzz-orders" });
  const bodyRoutes: BodyRoute[] = [
    {
      name: "CreateOrganization",
      method: "POST",
      path: () => "/organizations",
      admin: true,
      valid: () => ({ name: "fuzz", key: "fuzz-org", displayName: "Fuzz" }),
      wrong: { name: notAString, key: fc.oneof(notAString, fc.constantFrom("UPPER", "-dash", "", "a".repeat(64), "spa ce")), displayName: notAString },
      // Without a key, one is derived from the name.
      optional: ["key"],
    },
    {
      name: "UpdateOrganization",
      method: "PATCH",
      path: () => o(),
      valid: () => ({ displayName: "Fuzz renamed" }),
      wrong: {
        displayName: fc.oneof(notAString, fc.constant(""), fc.constant("d".repeat(201))),
        marketplaceAllowlistRequired: fc.oneof(fc.constant(true), fc.integer(), fc.string(), fc.constant(null)),
      },
      optional: ["marketplaceAllowlistRequired"],
    },
    {
      name: "UpdateApiAuthToken",
      method: "PATCH",
      path: () => `${o()}/api-auth-tokens/${ids.tokenId}`,
      valid: () => ({ permissions: ["job:read"] }),
      wrong: {
        permissions: fc.oneof(notAnObject, fc.constantFrom(["job:fly"], ["JOB:READ"], [1], [null], ["job:read", ""])),
        expiresAt: fc.oneof(notAString, fc.constantFrom("tomorrow", "2026-13-01T00:00:00Z", "")),
      },
      optional: ["expiresAt"],
    },
    {
      name: "UpdateOrganizationSecret",
      method: "PUT",
      path: () => `${o()}/secrets/FUZZ_SECRET`,
      valid: () => ({ description: "fuzzed" }),
      wrong: {
        value: fc.oneof(notAString, fc.constant(""), fc.constant("v".repeat(64 * 1024 + 1))),
        description: fc.oneof(fc.integer(), fc.boolean(), fc.constant("d".repeat(1001))),
        allowedHosts: badAllowedHosts,
      },
      optional: ["value", "description", "allowedHosts"],
    },
    {
      name: "CreateApiAuthToken",
      method: "POST",
      path: () => `${o()}/api-auth-tokens`,
      valid: () => ({ name: "fuzz-token" }),
      wrong: { name: fc.oneof(notAString, fc.constant(""), fc.constant("n".repeat(201))) },
    },
    {
      name: "RegisterWorkflow",
      method: "POST",
      path: () => `${o()}/workflows`,
      valid: () => ({ name: "fuzz-new-workflow" }),
      wrong: { name: fc.oneof(notAString, fc.constant("")) },
    },
    {
      name: "RegisterWorkflowVersion",
      method: "POST",
      path: () => `${o()}/workflows/${ids.workflowId}/versions`,
      valid: () => ({ definition: definitionText }),
      wrong: {
        definition: fc.oneof(
          fc.integer(),
          fc.boolean(),
          fc.constant(null),
          fc.constant(""),
          fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
          // Text or objects that are not a valid definition.
          fc.string({ minLength: 1, maxLength: 100 }),
          fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }),
          deepText,
        ),
      },
    },
    {
      name: "ValidateWorkflowVersion",
      method: "POST",
      path: () => `${o()}/workflows/${ids.workflowId}/versions/validate`,
      validate: true,
      valid: () => ({ definition: definitionText }),
      wrong: { definition: fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.constant(""), fc.string({ maxLength: 100 }), deepText) },
    },
    {
      name: "SetWorkflowVersionTag",
      method: "PUT",
      path: () => `${o()}/workflows/${ids.workflowId}/tags/$STAGING`,
      valid: () => ({ versionId: ids.versionId }),
      wrong: { versionId: fc.oneof(notAString, fc.constant(""), fc.uuid(), fc.string({ minLength: 1, maxLength: 100 })) },
    },
    {
      name: "SubmitJob",
      method: "POST",
      path: () => `${o()}/jobs`,
      valid: () => ({ workflowId: ids.workflowId, workflowVersion: { tag: "$LIVE" }, inputJson: { orderId: "o-2" } }),
      wrong: {
        workflowId: fc.oneof(notAString, fc.uuid()),
        workflowVersion: fc.oneof(
          notAnObject,
          fc.constantFrom({}, { tag: "LIVE" }, { tag: "$live" }, { versionNumber: 0 }, { versionNumber: 1.5 }, { tag: "$LIVE", versionNumber: 1 }, { versionId: "" }),
        ),
        // Inputs the workflow's schema refuses, as values or as JSON text.
        inputJson: fc.oneof(
          fc.integer(),
          fc.boolean(),
          fc.constant(null),
          fc.jsonValue({ maxDepth: 3 }).filter((v) => !isOrder(v) && !(typeof v === "string" && isJsonText(v))),
          fc.jsonValue({ maxDepth: 3 }).filter((v) => !isOrder(v)).map((v) => JSON.stringify(v)),
          fc.string({ maxLength: 50 }).filter((s) => !isJsonText(s)),
          deepText,
        ),
      },
    },
    {
      name: "SendJobEvent",
      method: "POST",
      path: () => `${o()}/jobs/${ids.jobId}/events`,
      valid: () => ({ eventId: "go", payload: { approved: true } }),
      wrong: { eventId: fc.oneof(notAString, fc.constant(""), fc.constant("e".repeat(201))) },
    },
    {
      name: "CreateSecret",
      method: "POST",
      path: () => `${o()}/secrets`,
      valid: () => ({ key: "FUZZ_NEW", value: "v", allowedHosts: ["api.example.com", "*.example.com:443"] }),
      wrong: {
        key: fc.oneof(notAString, fc.constantFrom("", "1abc", "has space", "x".repeat(129), "a/b")),
        value: fc.oneof(notAString, fc.constant(""), fc.constant("v".repeat(64 * 1024 + 1))),
        allowedHosts: badAllowedHosts,
      },
      optional: ["allowedHosts"],
    },
    {
      name: "UpdateSecret",
      method: "PATCH",
      path: () => `${o()}/secrets/FUZZ_SECRET`,
      // Dropping allowedHosts leaves nothing to change, which is refused too.
      valid: () => ({ allowedHosts: ["api.example.com"] }),
      wrong: { allowedHosts: badAllowedHosts },
    },
    {
      name: "CreateWebhookTrigger",
      method: "POST",
      path: () => `${o()}/webhook-triggers`,
      valid: () => ({ name: "fuzz-trigger", workflowId: ids.workflowId, workflowVersion: { tag: "$LIVE" }, scheme: "github" }),
      wrong: {
        name: fc.oneof(notAString, fc.constant("")),
        workflowId: fc.oneof(notAString, fc.uuid()),
        workflowVersion: fc.oneof(notAnObject, fc.constantFrom({}, { tag: "nope" }, { tag: "$NOPE" })),
        scheme: fc.oneof(notAString, fc.constantFrom("", "svix", "GITHUB")),
      },
    },
  ];

  for (const route of bodyRoutes) {
    it(`refuses malformed bodies to ${route.name}`, async () => {
      for (const kind of KINDS) await fuzz(malformed(route, kind), () => (route.admin ? server.adminToken : token));
    });
  }

  it("refuses a webhook delivery without a valid signature, or whose signed body is malformed", async () => {
    const path = () => `/hooks/${ids.triggerId}`;
    const hostileBody = fc.oneof(
      fc.string({ maxLength: 200 }).map(utf8),
      deepText.map(utf8),
      fc.jsonValue({ maxDepth: 3 }).filter((v) => !isOrder(v)).map((v) => utf8(JSON.stringify(v))),
      fc.constantFrom(...INVALID_UTF8).map((bad) => withBytes(JSON.stringify({ orderId: MARK }), bad)),
      fc.integer({ min: 10_000, max: 300_000 }).map((n) => utf8(`[${new Array(n).fill("0").join(",")}]`)),
    );
    // Unsigned, or signed with the wrong secret: 401, whatever the body (429 once this address has sent
    // more whose signatures fail than its bucket holds; unsigned ones are refused before the bucket).
    await fuzz(
      fc.tuple(hostileBody, fc.boolean()).map(([body, sign]) => ({
        method: "POST",
        path: path(),
        body,
        headers: sign ? githubHeaders("not-the-secret", body) : JSON_TYPE,
      })),
      () => "",
      params.numRuns * 4,
    );
    // Correctly signed, but not an input the workflow accepts: 400 (or 429 past the trigger's rate).
    await fuzz(
      hostileBody.map((body) => ({ method: "POST", path: path(), body, headers: githubHeaders(ids.triggerSecret, body) })),
      () => "",
      params.numRuns * 4,
    );
    // Unknown triggers: 404 once the signature headers are well-formed (unsigned, 401 before any lookup).
    await fuzz(
      fc.tuple(garbageId, fc.boolean()).map(([id, sign]) => ({
        method: "POST",
        path: `/hooks/${id}`,
        body: utf8("{}"),
        headers: sign ? githubHeaders("not-the-secret", utf8("{}")) : JSON_TYPE,
      })),
      () => "",
    );
  });

  /** An id that names nothing: random text, dot segments, bad percent-escapes, a fresh UUID. */
  const garbageId = fc.oneof(
    fc.uuid(),
    fc.string({ minLength: 1, maxLength: 120 }).map(encodeURIComponent),
    // ("..": the client resolves dot segments before sending, so they never reach the server.)
    fc.constantFrom("%00", "%ZZ", "%2F", "%5C", "null", "undefined", "0", "-1", "%24STAGING", "a".repeat(101)),
  );
  const anyBody = fc.oneof(fc.constant(undefined), fc.jsonValue({ maxDepth: 3 }).map((v) => utf8(JSON.stringify(v))), deepText.map(utf8));

  it("refuses requests on ids that name nothing, whatever the body, on every route", async () => {
    const routes: Array<[string, (id: string) => string]> = [
      ["GET", (id) => `/organizations/${id}`],
      ["GET", (id) => `/organizations/${id}/api-auth-tokens`],
      ["POST", (id) => `/organizations/${id}/api-auth-tokens`],
      ["DELETE", (id) => `${o()}/api-auth-tokens/${id}`],
      ["GET", (id) => `/organizations/${id}/workflows`],
      ["POST", (id) => `/organizations/${id}/workflows`],
      ["GET", (id) => `${o()}/workflows/${id}`],
      ["GET", (id) => `${o()}/workflows/${id}/versions`],
      ["POST", (id) => `${o()}/workflows/${id}/versions`],
      ["POST", (id) => `${o()}/workflows/${id}/versions/validate`],
      ["GET", (id) => `${o()}/workflows/${ids.workflowId}/versions/${id}`],
      ["GET", (id) => `${o()}/workflows/${ids.workflowId}/tags/${id}`],
      ["PUT", (id) => `${o()}/workflows/${ids.workflowId}/tags/${id}`],
      ["PUT", (id) => `${o()}/workflows/${id}/tags/$LIVE`],
      ["GET", (id) => `/organizations/${id}/jobs`],
      ["POST", (id) => `/organizations/${id}/jobs`],
      ["GET", (id) => `${o()}/jobs/${id}`],
      ["POST", (id) => `${o()}/jobs/${id}/cancel`],
      ["POST", (id) => `${o()}/jobs/${id}/resume`],
      ["POST", (id) => `${o()}/jobs/${id}/events`],
      ["GET", (id) => `${o()}/jobs/${id}/state`],
      ["GET", (id) => `${o()}/jobs/${id}/state/metadata`],
      ["GET", (id) => `/organizations/${id}/secrets`],
      ["POST", (id) => `/organizations/${id}/secrets`],
      ["GET", (id) => `${o()}/secrets/${id}`],
      ["DELETE", (id) => `${o()}/secrets/${id}`],
      ["PATCH", (id) => `${o()}/secrets/${id}`],
      ["GET", (id) => `/organizations/${id}/webhook-triggers`],
      ["POST", (id) => `/organizations/${id}/webhook-triggers`],
      ["DELETE", (id) => `${o()}/webhook-triggers/${id}`],
      ["GET", (id) => `/organizations/${id}/workflow-metrics/timeseries?metric=jobs_failed&aggregation=count&bucket=hour&since=2026-01-01T00:00:00Z&until=2026-01-02T00:00:00Z`],
      ["GET", (id) => `${o()}/workflow-metrics/timeseries?metric=jobs_failed&aggregation=count&bucket=day&since=2026-01-01T00:00:00Z&until=2026-01-02T00:00:00Z&workflowId=${id}`],
      ["GET", (id) => `/organizations/${id}/notifications`],
      ["PUT", (id) => `/organizations/${id}/notifications/read-all`],
      ["PUT", (id) => `${o()}/notifications/${id}/read`],
      ["PUT", (id) => `/organizations/${id}/notification-settings`],
      ["GET", (id) => `/organizations/${id}/notification-settings`],
      ["DELETE", (id) => `/organizations/${id}/notification-settings`],
      ["POST", (id) => `/organizations/${id}/jobs/batch`],
      ["POST", (id) => `/organizations/${id}/jobs/rerun`],
      ["POST", (id) => `${o()}/jobs/${id}/rerun`],
      ["POST", (id) => `${o()}/jobs/${id}/pause`],
      ["POST", (id) => `${o()}/jobs/${id}/unpause`],
      ["GET", (id) => `${o()}/jobs/${id}/state/data/workflowInput`],
      ["GET", (id) => `${o()}/jobs/${id}/state/history/1/output`],
      ["GET", (id) => `/organizations/${id}/audit-log`],
      ["DELETE", (id) => `${o()}/jobs/${id}`],
      ["GET", (id) => `/organizations/${id}/retention`],
      ["PUT", (id) => `/organizations/${id}/retention`],
      ["GET", (id) => `/organizations/${id}/egress-policy`],
      ["PUT", (id) => `/organizations/${id}/egress-policy`],
      ["GET", (id) => `/organizations/${id}/schedules`],
      ["POST", (id) => `/organizations/${id}/schedules`],
      ["GET", (id) => `${o()}/schedules/${id}`],
      ["PUT", (id) => `${o()}/schedules/${id}`],
      ["DELETE", (id) => `${o()}/schedules/${id}`],
      ["POST", (id) => `${o()}/schedules/${id}/trigger`],
      ["POST", (id) => `${o()}/schedules/${id}/backfill`],
      ["GET", (id) => `/organizations/${id}/resource-pools`],
      ["POST", (id) => `/organizations/${id}/resource-pools`],
      ["GET", (id) => `${o()}/resource-pools/${id}`],
      ["PUT", (id) => `${o()}/resource-pools/${id}`],
      ["DELETE", (id) => `${o()}/resource-pools/${id}`],
      ["POST", () => "/admin/reseal-secrets"],
      ["GET", () => "/admin/secrets-key"],
      ["GET", (id) => `/nowhere/${id}`],
      // Methods a path does not have, public paths included.
      ["PATCH", (id) => `${o()}/jobs/${id}`],
      ["PUT", () => `${o()}/jobs`],
      ["DELETE", () => `${o()}/workflows/${ids.workflowId}`],
      ["PUT", () => o()],
      ["OPTIONS", () => `${o()}/secrets`],
      ["POST", () => "/healthz"],
      ["DELETE", () => "/openapi.json"],
      ["PUT", () => "/docs"],
      ["GET", () => `/hooks/${ids.triggerId}`],
    ];
    const arb = fc.tuple(fc.constantFrom(...routes), garbageId, anyBody, fc.constantFrom(JSON_TYPE, { "content-type": "text/plain" }, {} as Record<string, string>));
    await fuzz(
      arb
        .filter(([, id]) => !["FUZZ_SECRET", "$LIVE", ".", ".."].includes(safeDecode(id)))
        .map(([[method, path], id, body, headers]) => ({ method, path: path(id), headers, ...(body && method !== "GET" ? { body } : {}) })),
      () => token,
      RUNS,
    );
  });

  it("refuses ListJobs queries with an invalid parameter", async () => {
    const invalid: Record<string, fc.Arbitrary<string>> = {
      status: fc.string({ maxLength: 20 }).filter((s) => !["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"].includes(s)),
      workflowVersionNumber: fc.oneof(fc.constantFrom("0", "-1", "1.5", "abc", "1e400", "", "NaN"), fc.string({ maxLength: 10 })).filter((s) => !isCount(s, Infinity)),
      createdAfter: fc.oneof(fc.constantFrom("yesterday", "2026-13-01T00:00:00Z", "0"), fc.string({ maxLength: 30 })),
      createdBefore: fc.constantFrom("tomorrow", "2026-02-30", "1e9"),
      jobHierarchy: fc.string({ maxLength: 20 }).filter((s) => !["ALL", "TOP_LEVEL_ONLY", "CHILD_JOBS_ONLY"].includes(s)),
      pageToken: fc.string({ maxLength: 60 }).map((s) => `!${s}`),
      pageSize: fc.oneof(fc.constantFrom("0", "101", "-5", "2.5", "many", ""), fc.integer({ min: 101 }).map(String), fc.string({ maxLength: 6 })).filter((s) => !isCount(s, 100)),
      workflowName: fc.constant("n".repeat(201)),
    };
    const arb = fc
      .tuple(fc.constantFrom(...Object.keys(invalid)), fc.dictionary(fc.constantFrom(...Object.keys(invalid), "extra"), fc.string({ maxLength: 20 }), { maxKeys: 3 }))
      .chain(([bad, others]) => invalid[bad]!.map((value) => ({ ...others, [bad]: value })));
    await fuzz(arb.map((q) => ({ method: "GET", path: `${o()}/jobs?${new URLSearchParams(q)}` })), () => token, RUNS / 2);
  });

  it("refuses every request without valid credentials, however it is sent", async () => {
    const credentials = fc.oneof(
      fc.constant(undefined),
      fc.constant(""),
      fc.string({ unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789_-."), maxLength: 600 }),
      fc.integer({ min: 513, max: 60_000 }).map((n) => "t".repeat(n)),
    );
    const arb = fc.tuple(credentials, fc.constantFrom("GET", "POST", "PUT", "DELETE"), fc.constantFrom(`${o()}`, `${o()}/jobs`, `${o()}/workflows`, "/organizations"), anyBody);
    await fuzz(
      arb.map(([cred, method, path, body]) => ({ method, path, headers: { ...JSON_TYPE, ...(cred !== undefined ? { authorization: cred } : {}) }, ...(body && method !== "GET" ? { body } : {}) })),
      () => "",
      RUNS / 2,
    );
  });

  /**
   * Checks a definition (200 or 4xx, never 5xx); one that passes is registered in the scratch
   * organization and run with two inputs, its job read and sent an event. Returns whether it ran.
   */
  async function checkAndRun(definition: unknown, input: unknown): Promise<boolean> {
    const text = JSON.stringify(definition);
    const what = (res: { status: number; body: unknown }) => `${text.slice(0, 1500)}\n  -> ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`;
    const checked = await client.post(`${o()}/workflows/${ids.workflowId}/versions/validate`, { definition: text });
    expect(checked.status === 200 || (checked.status >= 400 && checked.status < 500), what(checked)).toBe(true);
    if (checked.status !== 200 || !checked.body.valid) return false;
    const { client: c, orgId: org, workflowId } = scratch;
    const version = await c.post(`/organizations/${org}/workflows/${workflowId}/versions`, { definition: text });
    expect(version.status, what(version)).toBe(200);
    for (const inputJson of [{ n: 2, items: [{ orderId: "a" }, { orderId: 1 }] }, input]) {
      const submitted = await c.post(`/organizations/${org}/jobs`, { workflowId, workflowVersion: { versionId: version.body.versionId }, inputJson: JSON.stringify(inputJson) });
      expect(submitted.status < 500, what(submitted)).toBe(true);
      if (submitted.status !== 200) continue;
      const job = `/organizations/${org}/jobs/${submitted.body.jobId}`;
      for (const res of [await c.post(`${job}/events`, { eventId: "go", payload: { ok: true } }), await c.get(job), await c.get(`${job}/state`)]) {
        expect(res.status, what(res)).toBe(200);
      }
    }
    return true;
  }

  it("checks mutated definitions without a 500, and runs those that pass without one", async () => {
    let ran = 0;
    await fc.assert(
      fc.asyncProperty(mutatedDefinition, fc.jsonValue({ maxDepth: 2 }), async (definition, input) => {
        if (await checkAndRun(definition, input)) ran++;
      }),
      { ...params, numRuns: Math.max(1, Math.ceil(RUNS / 3)) },
    );
    // Most mutations break the definition; some must still pass, or this test runs nothing.
    expect(ran).toBeGreaterThan(0);
  });

  it("treats every name in a definition that Object.prototype also has as an ordinary name", async () => {
    // Each string of the definition in turn (step names, event ids, refs, paths, tags…) becomes one.
    const strings = paths(rich as unknown as Json).filter((p) => typeof p.reduce<any>((v, k) => v[k], rich) === "string");
    let ran = 0;
    for (const path of strings) {
      for (const name of ["__proto__", "constructor", "toString"]) {
        if (await checkAndRun(mutate(rich as unknown as Json, path, "replace", name, ""), { n: 0, items: [] })) ran++;
      }
    }
    expect(ran).toBeGreaterThan(0);
    // The engine still serves everyone.
    expect((await client.get(`${o()}/jobs/${ids.jobId}`)).status).toBe(200);
  });

  it("wrote nothing", async () => {
    expect(await snapshot()).toEqual(before);
  });
});

function isOrder(v: unknown): boolean {
  return typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length === 1 && typeof (v as any).orderId === "string";
}

function isJsonText(s: string): boolean {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
}

/** True for the text of an integer from 1 to `max`, as a query parameter coerces it. */
function isCount(s: string, max: number): boolean {
  const n = Number(s);
  return s.trim() !== "" && Number.isInteger(n) && n >= 1 && n <= max;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
