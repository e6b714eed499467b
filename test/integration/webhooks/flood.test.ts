// Requests that cannot be deliveries are refused before the trigger is read: no D1 query, no
// decrypt, no HMAC. Measured by handing the Worker a D1 binding that counts what is asked of it.
import { createExecutionContext, env, evictDurableObject, runDurableObjectAlarm, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../../src/index";
import { WEBHOOK_UNVERIFIED_BURST, WEBHOOK_UNVERIFIED_RATE_PER_SECOND } from "../../../src/limits";
import { admissionBucket, clientKey, probeBucket } from "../../../src/webhooks/admission";
import { checkSignatureHeaders } from "../../../src/webhooks/signatures";
import { githubHeaders, jobCount, standardHeaders } from "../../helpers/webhooks";
import { triggerSetup } from "./fixture";

const raw = JSON.stringify({ orderId: "o-flood" });

/** The Worker's env with a D1 binding that counts every method called on it (prepare, batch, exec…). */
function countingEnv() {
  const counter = { calls: 0 };
  const DB = new Proxy(env.DB, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        counter.calls++;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { env: { ...env, DB } as Env, counter };
}

/** The rate limiter named `name`. */
const limiter = (name: string) => env.WEBHOOK_RATE_LIMITER.get(env.WEBHOOK_RATE_LIMITER.idFromName(name));
/** What a rate limiter holds in storage. */
const stored = (name: string) => runInDurableObject(limiter(name), (_o, state) => [...state.storage.kv.list()]);

/** A fresh client address per use, so tests do not share a client bucket. */
const random = (n: number) => Math.floor(Math.random() * n);
let addresses = 0;
const address = () => `10.${random(256)}.${random(256)}.${++addresses}`;
const ipv6 = () => `2001:db8:${random(0xffff).toString(16)}:${(++addresses).toString(16)}::1`;

/** Sends one request straight into the Worker's fetch handler with `counted` env, as from `ip`. */
async function send(counted: Env, url: string, headers: Record<string, string>, ip: string, body = raw) {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(url, { method: "POST", headers: { ...headers, "cf-connecting-ip": ip }, body }), counted, ctx);
  await waitOnExecutionContext(ctx);
  return { status: res.status, body: (await res.json()) as any, headers: res.headers };
}

const now = () => Math.floor(Date.now() / 1000);
const wellFormedV1 = `v1,${"A".repeat(43)}=`;
const hex64 = "ab".repeat(32);
const std = (over: Record<string, string | undefined>) =>
  Object.fromEntries(
    Object.entries({ "webhook-id": "msg_1", "webhook-timestamp": String(now()), "webhook-signature": wellFormedV1, ...over }).filter(
      (e): e is [string, string] => e[1] !== undefined,
    ),
  );
/** GitHub headers; a `null` delivery id is left out. */
const gh = (signature: string, delivery: string | null = crypto.randomUUID()) => ({
  "x-hub-signature-256": signature,
  ...(delivery !== null ? { "x-github-delivery": delivery } : {}),
});

/** Requests no trigger of any scheme could accept, and why. */
const unsigned: Array<[string, () => Record<string, string>]> = [
  ["no headers at all", () => ({})],
  ["JSON, unsigned", () => ({ "content-type": "application/json" })],
  ["a bearer token instead of a signature", () => ({ authorization: "Bearer not-a-signature" })],
  ["github: sha1= prefix", () => gh(`sha1=${"ab".repeat(20)}`)],
  ["github: 63 hex digits", () => gh(`sha256=${hex64.slice(1)}`)],
  ["github: not hex", () => gh(`sha256=${"zz".repeat(32)}`)],
  ["github: no X-GitHub-Delivery", () => gh(`sha256=${hex64}`, null)],
  ["github: over-long X-GitHub-Delivery", () => gh(`sha256=${hex64}`, "d".repeat(257))],
  ["standard: no signature", () => std({ "webhook-signature": undefined })],
  ["standard: no id", () => std({ "webhook-id": undefined })],
  ["standard: no timestamp", () => std({ "webhook-timestamp": undefined })],
  ["standard: stale timestamp", () => std({ "webhook-timestamp": String(now() - 10 * 60) })],
  ["standard: future timestamp", () => std({ "webhook-timestamp": String(now() + 10 * 60) })],
  ["standard: timestamp in milliseconds", () => std({ "webhook-timestamp": String(Date.now()) })],
  ["standard: timestamp not a number", () => std({ "webhook-timestamp": "12abc" })],
  ["standard: only a v2 entry", () => std({ "webhook-signature": `v2,${"A".repeat(43)}=` })],
  ["standard: v1 of 31 bytes", () => std({ "webhook-signature": `v1,${"A".repeat(40)}==` })],
  ["standard: v1 unpadded", () => std({ "webhook-signature": `v1,${"A".repeat(43)}` })],
  ["standard: v1 not base64", () => std({ "webhook-signature": `v1,${"*".repeat(43)}=` })],
  ["standard: over-long id", () => std({ "webhook-id": "m".repeat(257) })],
];

describe("the signature-header check", () => {
  it.each(unsigned)("refuses %s", (_why, headers) => {
    expect(checkSignatureHeaders(new Headers(headers()), now()).ok).toBe(false);
  });

  it.each([
    ["a github signature", () => gh(`sha256=${hex64.toUpperCase()}`)],
    ["a standard-webhooks signature", () => std({})],
    ["a standard-webhooks list with one well-formed v1 entry", () => std({ "webhook-signature": `v2,abc ${wellFormedV1}` })],
    ["a malformed github header beside a well-formed standard set", () => ({ ...std({}), "x-hub-signature-256": "sha1=00" })],
  ])("lets through %s", (_what, headers) => {
    expect(checkSignatureHeaders(new Headers(headers()), now())).toEqual({ ok: true });
  });
});

describe("client keys", () => {
  it.each([
    [null, "ip:local"],
    ["", "ip:local"],
    ["203.0.113.9", "ip:203.0.113.9"],
    ["::ffff:203.0.113.9", "ip:203.0.113.9"],
    ["2001:db8:1:2:3:4:5:6", "ip:2001:db8:1:2::/64"],
    ["2001:DB8:1:2::9", "ip:2001:db8:1:2::/64"],
    ["2001:db8::", "ip:2001:db8:0:0::/64"],
    ["::1", "ip:0:0:0:0::/64"],
    ["not an address:::", "ip:not an address:::"],
  ])("keys %s as %s", (ip, key) => {
    expect(clientKey(ip)).toBe(key);
  });
});

describe("an unsigned flood", () => {
  it("answers 10,000 unsigned or malformed requests with 401, with no D1 query, no rate-limiter call and no job", async () => {
    const { trigger, client, orgId } = await triggerSetup({ scheme: "github" });
    const counted = countingEnv();
    const ip = address();
    const total = 10_000;
    const statuses = new Map<number, number>();
    let next = 0;
    const sender = async () => {
      while (next < total) {
        const i = next++;
        const [why, headers] = unsigned[i % unsigned.length]!;
        // Most to the trigger's URL; every tenth to an unknown trigger, which is not told apart (401, not 404).
        const url = i % 10 === 9 ? `https://canopy.test/hooks/${crypto.randomUUID()}` : trigger.url;
        const res = await send(counted.env, url, headers(), ip);
        if (res.status !== 401 || res.body.code !== "AuthenticationError" || res.headers.get("x-amzn-errortype") !== "AuthenticationError") {
          throw new Error(`${why}: ${res.status} ${JSON.stringify(res.body)}`);
        }
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: 8 }, sender));
    expect(Object.fromEntries(statuses)).toEqual({ 401: total });
    expect(counted.counter.calls).toBe(0);
    // Not even the address's buckets were asked: the check costs no I/O at all.
    expect(await stored(admissionBucket(clientKey(ip), trigger.triggerId))).toEqual([]);
    expect(await stored(probeBucket(clientKey(ip)))).toEqual([]);
    expect(await jobCount(client, orgId)).toBe(0);

    // The counter counts: one signed delivery through the same env reads D1.
    const signed = await send(counted.env, trigger.url, githubHeaders(trigger.secret, raw), ip);
    expect(signed.status).toBe(202);
    expect(counted.counter.calls).toBeGreaterThan(0);
    console.log(JSON.stringify({ unsignedRequests: total, d1CallsForUnsigned: 0, d1CallsForOneSignedDelivery: counted.counter.calls }));
    expect(await jobCount(client, orgId)).toBe(1);
  });

  it("throttles an address whose well-formed signatures do not verify, and its throttled requests read nothing", async () => {
    const { trigger, client, orgId } = await triggerSetup({ scheme: "github" });
    const other = await triggerSetup({ rateLimitPerSecond: 1000 });
    const counted = countingEnv();
    const ip = address();
    const total = 400;
    const started = Date.now();
    // Forged: the form of a GitHub signature, not its value. All at once: one after another on a
    // busy machine they can come slower than the bucket refills, and none is throttled.
    const responses = await Promise.all(Array.from({ length: total }, () => send(counted.env, trigger.url, gh(`sha256=${hex64}`), ip)));
    const seconds = (Date.now() - started) / 1000;
    const answers = responses.map((res) => res.status);
    for (const res of responses) {
      if (res.status !== 429) continue;
      expect(res.body.code).toBe("ThrottlingError");
      expect(res.headers.get("x-amzn-errortype")).toBe("ThrottlingError");
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    }
    const reachedD1 = answers.filter((s) => s === 401).length;
    const throttled = answers.filter((s) => s === 429).length;
    expect(reachedD1 + throttled).toBe(total);
    // At most the bucket and its refill got through to the trigger's read; each cost one query.
    expect(reachedD1).toBeLessThanOrEqual(WEBHOOK_UNVERIFIED_BURST + Math.ceil(seconds * WEBHOOK_UNVERIFIED_RATE_PER_SECOND) + 1);
    expect(throttled).toBeGreaterThan(0);
    expect(counted.counter.calls).toBe(reachedD1);
    console.log(JSON.stringify({ forgedRequests: total, seconds, reachedD1, throttled, d1Calls: counted.counter.calls }));
    expect(await jobCount(client, orgId)).toBe(0);

    // Another address is not throttled for it.
    expect((await send(counted.env, trigger.url, githubHeaders(trigger.secret, raw), address())).status).toBe(202);
    // Nor is this address for another trigger (GitHub sends for everyone from a few addresses): its
    // deliveries there go through while it keeps forging here, each forgery keeping this bucket dry.
    for (let i = 0; i < 10; i++) {
      expect([401, 429]).toContain((await send(counted.env, trigger.url, gh(`sha256=${hex64}`), ip)).status);
      expect((await send(counted.env, other.trigger.url, standardHeaders(other.trigger.secret, raw), ip)).status).toBe(202);
    }
    // And it has probed for no unknown trigger id: every probe token it took came back.
    const probe = await stored(probeBucket(clientKey(ip)));
    const left = probe.length === 0 ? WEBHOOK_UNVERIFIED_BURST : (probe[0]![1] as { tokens: number }).tokens;
    expect(left).toBeGreaterThanOrEqual(WEBHOOK_UNVERIFIED_BURST - 1e-6);
  });

  it("throttles an address probing for trigger ids that do not exist, and its throttled probes read nothing", async () => {
    const { trigger } = await triggerSetup({ scheme: "github" });
    const counted = countingEnv();
    const ip = address();
    const started = Date.now();
    // All at once, each to a fresh trigger id (so no per-trigger bucket ever runs dry): they arrive
    // faster than the bucket refills however busy the machine is, which one after another may not.
    const responses = await Promise.all(
      Array.from({ length: 4 * WEBHOOK_UNVERIFIED_BURST }, () =>
        send(counted.env, `https://canopy.test/hooks/${crypto.randomUUID()}`, gh(`sha256=${hex64}`), ip),
      ),
    );
    const answers = responses.map((res) => res.status);
    for (const res of responses) if (res.status === 429) expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const seconds = (Date.now() - started) / 1000;
    const notFound = answers.filter((s) => s === 404).length;
    const throttled = answers.filter((s) => s === 429).length;
    expect(notFound + throttled).toBe(answers.length);
    expect(notFound).toBeLessThanOrEqual(WEBHOOK_UNVERIFIED_BURST + Math.ceil(seconds * WEBHOOK_UNVERIFIED_RATE_PER_SECOND) + 1);
    expect(throttled).toBeGreaterThan(0);
    // One lookup for each 404, none for a 429.
    expect(counted.counter.calls).toBe(notFound);
    // Another address is not throttled for it.
    expect((await send(counted.env, trigger.url, githubHeaders(trigger.secret, raw), address())).status).toBe(202);
  });

  it("throttles replays like forged requests: a replay keeps the token it took", async () => {
    const { trigger } = await triggerSetup({ rateLimitPerSecond: 1000 });
    const counted = countingEnv();
    const ip = address();
    const captured = standardHeaders(trigger.secret, raw);
    expect((await send(counted.env, trigger.url, captured, ip)).status).toBe(202);
    // All at once: one after another on a busy machine, replays can come slower than the bucket
    // refills (the eviction case below failed that way).
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 3 * WEBHOOK_UNVERIFIED_BURST }, () => send(counted.env, trigger.url, captured, ip).then((r) => r.status)));
    const seconds = (Date.now() - started) / 1000;
    expect(answers).toContain(429);
    expect(new Set(answers)).toEqual(new Set([200, 429]));
    // The one token the first delivery gave back, the burst, and what refilled meanwhile.
    const accepted = answers.filter((s) => s === 200).length;
    expect(accepted).toBeLessThanOrEqual(WEBHOOK_UNVERIFIED_BURST + Math.ceil(seconds * WEBHOOK_UNVERIFIED_RATE_PER_SECOND) + 1);
  });

  it("keeps an address's bucket when its Durable Object is evicted", async () => {
    const { trigger } = await triggerSetup({ scheme: "github" });
    const counted = countingEnv();
    const ip = ipv6();
    // Requests go out all at once, before and after the eviction: sent one after another on a busy
    // machine they came slower than the bucket refills (WEBHOOK_UNVERIFIED_RATE_PER_SECOND), and
    // once none of 200 was throttled, another time none of the 20 after the eviction.
    const emptiedFrom = Date.now();
    const statuses = await Promise.all(
      Array.from({ length: 3 * WEBHOOK_UNVERIFIED_BURST }, () => send(counted.env, trigger.url, gh(`sha256=${hex64}`), ip).then((r) => r.status)),
    );
    expect(statuses).toContain(429);
    // Empty (under one token) at some moment after `emptiedFrom`: what refilled since is bounded by
    // the time since then.
    await evictDurableObject(limiter(admissionBucket(clientKey(ip), trigger.triggerId)));
    const before = counted.counter.calls;
    // Another address of the same /64 shares the bucket. A bucket restarted full would let all of
    // these through to D1 (fewer than its burst), throttling none.
    const afterCount = WEBHOOK_UNVERIFIED_BURST - 10;
    const after = await Promise.all(
      Array.from({ length: afterCount }, (_, i) => send(counted.env, trigger.url, gh(`sha256=${hex64}`), ip.replace(/::1$/, `::${i + 2}`)).then((r) => r.status)),
    );
    const seconds = (Date.now() - emptiedFrom) / 1000;
    // A kept bucket lets through only what refilled meanwhile (plus the fraction of a token it held).
    const refilled = Math.ceil(seconds * WEBHOOK_UNVERIFIED_RATE_PER_SECOND) + 1;
    // Else this machine was too slow for the test to tell a kept bucket from a fresh one.
    expect(refilled, `${seconds} s from emptying to the last request`).toBeLessThan(afterCount);
    const reachedD1 = counted.counter.calls - before;
    expect(reachedD1).toBeLessThanOrEqual(refilled);
    expect(after.filter((s) => s === 429).length).toBeGreaterThanOrEqual(after.length - refilled);
    console.log(JSON.stringify({ afterEviction: after.length, seconds, reachedD1 }));
  });

  it("gives a sender whose signatures verify its tokens back: its address is never throttled for them", async () => {
    const { trigger, client, orgId } = await triggerSetup({ rateLimitPerSecond: 1000 });
    const counted = countingEnv();
    const ip = address();
    // Signed, but the workflow refuses the input: refused after the signature, starting nothing.
    const bad = JSON.stringify({ total: 1 });
    const answers = [];
    for (let i = 0; i < WEBHOOK_UNVERIFIED_BURST + 50; i++) answers.push((await send(counted.env, trigger.url, standardHeaders(trigger.secret, bad), ip, bad)).status);
    expect(new Set(answers)).toEqual(new Set([400]));
    expect(await jobCount(client, orgId)).toBe(0);
    // Full again, the address's bucket holds nothing a new one would not: its alarm deletes it.
    // Miniflare may fire the alarm by itself, or before the last token is back (it then re-arms):
    // only the end state is asserted, running the alarm again until it is reached.
    const bucket = admissionBucket(clientKey(ip), trigger.triggerId);
    const deadline = Date.now() + 5_000;
    let left = await stored(bucket);
    while (left.length > 0 && Date.now() < deadline) {
      await runDurableObjectAlarm(limiter(bucket));
      left = await stored(bucket);
      if (left.length > 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(left).toEqual([]);
  });
});

describe("the rate limiter", () => {
  it("writes nothing for a denied take", async () => {
    const name = `test:${crypto.randomUUID()}`;
    expect(await limiter(name).take(1, 1)).toEqual({ allowed: true });
    const before = await stored(name);
    expect(before).toHaveLength(1);
    for (let i = 0; i < 3; i++) {
      // Time passes between the takes: a write would move the bucket's updatedAt.
      await new Promise((r) => setTimeout(r, 20));
      expect((await limiter(name).take(1, 1)).allowed).toBe(false);
    }
    expect(await stored(name)).toEqual(before);
  });
});
