import { describe, expect, it } from "vitest";
import { classifyIPv6, formatIPv4, parseIPv4, parseIPv6 } from "../../../src/egress/addresses";
import { EgressError, guardedFetch, type Transport } from "../../../src/egress/guarded-fetch";
import { checkDestination, egressPolicy, privateHostReason, type EgressPolicy } from "../../../src/egress/policy";

const deployed: EgressPolicy = egressPolicy({ ALLOW_PRIVATE_EGRESS: "false" }, null);
const local: EgressPolicy = egressPolicy({ ALLOW_PRIVATE_EGRESS: "true" }, null);

/** The reason a URL is refused under `policy`, or "allowed". */
function verdict(url: string, policy: EgressPolicy = deployed): string {
  const v = checkDestination(url, policy);
  return v.ok ? "allowed" : v.reason;
}

describe("the deployed policy refuses", () => {
  it.each([
    // Loopback, in every notation the URL parser (and inet_aton) accepts.
    ["https://127.0.0.1/", /loopback/],
    ["https://127.255.255.254:8443/x", /loopback/],
    ["https://2130706433/", /loopback/],
    ["https://0177.0.0.1/", /loopback/],
    ["https://0177.0000.0000.0001/", /loopback/],
    ["https://017700000001/", /loopback/],
    ["https://0x7f.1/", /loopback/],
    ["https://0X7F.0x0.0x0.0x1/", /loopback/],
    ["https://0x7f000001/", /loopback/],
    ["https://127.1/", /loopback/],
    ["https://127.0.1/", /loopback/],
    ["https://127.0.0.1./", /loopback/],
    ["https://127.000.000.001/", /loopback/],
    ["https://%31%32%37.0.0.1/", /loopback/],
    ["https://１２７.０.０.１/", /loopback/],
    ["https://127。0。0。1/", /loopback/],
    ["https://127.0.0.1%2e/", /loopback/],
    ["https://[::1]/", /loopback/],
    ["https://[0:0:0:0:0:0:0:1]/", /loopback/],
    ["https://[0000::0001]:443/", /loopback/],
    // Unspecified ("this network"): connects to the machine itself on most stacks.
    ["https://0.0.0.0/", /unspecified/],
    ["https://0/", /unspecified/],
    ["https://0x/", /unspecified/],
    ["https://0.1.2.3/", /unspecified/],
    ["https://[::]/", /unspecified/],
    // Private (RFC 1918) and carrier-grade NAT (RFC 6598).
    ["https://10.0.0.1/", /private address/],
    ["https://10.255.255.255/", /private address/],
    ["https://167772161/", /private address/],
    ["https://012.1/", /private address/],
    ["https://172.16.0.1/", /private address/],
    ["https://172.31.255.255/", /private address/],
    ["https://192.168.1.1/", /private address/],
    ["https://0xc0.0xa8.1.1/", /private address/],
    ["https://100.64.0.1/", /carrier-grade NAT/],
    ["https://100.127.255.255/", /carrier-grade NAT/],
    // Link-local and the metadata service.
    ["https://169.254.169.254/latest/meta-data/", /cloud metadata/],
    ["https://2852039166/", /cloud metadata/],
    ["https://0xa9.0xfe.0xa9.0xfe/", /cloud metadata/],
    ["https://0251.0376.0251.0376/", /cloud metadata/],
    ["https://169.254.43518/", /cloud metadata/],
    ["https://169.254.0.1/", /link-local/],
    ["https://[fe80::1]/", /link-local/],
    ["https://[febf:ffff::1]/", /link-local/],
    ["https://[fd00:ec2::254]/", /cloud metadata address \(AWS, IPv6\)/],
    // IPv6 unique local and site-local.
    ["https://[fc00::1]/", /unique local/],
    ["https://[fd12:3456:789a::1]/", /unique local/],
    ["https://[fec0::1]/", /site-local/],
    // IPv4-mapped, -compatible and -translated IPv6, in dotted and hex forms: judged by their IPv4.
    ["https://[::ffff:127.0.0.1]/", /IPv4-mapped address of 127\.0\.0\.1, a loopback/],
    ["https://[::ffff:7f00:1]/", /IPv4-mapped address of 127\.0\.0\.1/],
    ["https://[0:0:0:0:0:ffff:7f00:0001]/", /IPv4-mapped address of 127\.0\.0\.1/],
    ["https://[::ffff:169.254.169.254]/", /IPv4-mapped address of 169\.254\.169\.254, the cloud metadata/],
    ["https://[::ffff:a9fe:a9fe]/", /cloud metadata/],
    ["https://[::ffff:10.0.0.1]/", /private/],
    ["https://[::127.0.0.1]/", /IPv4-compatible address of 127\.0\.0\.1/],
    ["https://[::a00:1]/", /IPv4-compatible address of 10\.0\.0\.1/],
    ["https://[::ffff:0:7f00:1]/", /IPv4-translated address of 127\.0\.0\.1/],
    // NAT64 (the well-known prefix reaches any IPv4 address through a translator), 6to4, Teredo.
    ["https://[64:ff9b::127.0.0.1]/", /NAT64 address of 127\.0\.0\.1/],
    ["https://[64:ff9b::a9fe:a9fe]/", /NAT64 address of 169\.254\.169\.254/],
    ["https://[64:ff9b:1::1]/", /local-use NAT64/],
    ["https://[2002:7f00:1::]/", /6to4 address of 127\.0\.0\.1/],
    ["https://[2002:c0a8:101::1]/", /6to4 address of 192\.168\.1\.1/],
    ["https://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/", /Teredo address of 10\.0\.0\.1/],
    // Other special-purpose ranges.
    ["https://224.0.0.1/", /multicast/],
    ["https://[ff02::1]/", /multicast/],
    ["https://255.255.255.255/", /broadcast/],
    ["https://4294967295/", /broadcast/],
    ["https://240.0.0.1/", /reserved/],
    ["https://192.0.0.8/", /IETF protocol/],
    ["https://192.0.2.1/", /documentation/],
    ["https://198.51.100.7/", /documentation/],
    ["https://203.0.113.9/", /documentation/],
    ["https://198.18.0.1/", /benchmarking/],
    ["https://[2001:db8::1]/", /documentation/],
    ["https://[100::1]/", /discard-only/],
    // Names that only the machine or a private resolver answers.
    ["https://localhost/", /localhost/],
    ["https://LOCALHOST:8787/", /localhost/],
    ["https://localhost./", /localhost/],
    ["https://api.localhost/", /localhost/],
    ["https://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/", /localhost/],
    ["https://printer.local/", /\.local/],
    ["https://metadata.google.internal/computeMetadata/v1/", /\.internal/],
    ["https://router.home.arpa/", /\.home\.arpa/],
    ["https://metadata/", /single-label/],
    ["https://intranet./", /single-label/],
    // Plain http, even to a public host.
    ["http://api.example.com/", /plain http/],
    ["http://8.8.8.8/", /plain http/],
    // Not HTTP at all, or not a URL.
    ["ftp://example.com/", /not HTTP/],
    ["file:///etc/passwd", /not HTTP/],
    ["gopher://example.com:70/", /not HTTP/],
    ["javascript:alert(1)", /not HTTP/],
    ["https://1.2.3.4.5/", /not a valid URL/],
    ["https://256.1.1.1/", /not a valid URL/],
    ["https://08/", /not a valid URL/],
    ["https://[fe80::1%25eth0]/", /not a valid URL/],
    ["not a url", /not a valid URL/],
  ])("%s", (url, reason) => {
    expect(verdict(url)).toMatch(reason);
  });
});

describe("the deployed policy allows public https hosts", () => {
  it.each([
    "https://api.example.com/v1/orders?x=1",
    "https://example.com./",
    "https://lambda.eu-west-1.amazonaws.com/2015-03-31/functions/x/invocations",
    "https://oauth2.googleapis.com/token",
    "https://8.8.8.8/",
    "https://134744072/", // 8.8.8.8 as one number: the spelling does not matter, the address does
    "https://1.1.1.1:8443/",
    "https://9.255.255.255/",
    "https://11.0.0.0/",
    "https://100.63.255.255/",
    "https://100.128.0.0/",
    "https://169.253.255.255/",
    "https://169.255.0.0/",
    "https://172.15.255.255/",
    "https://172.32.0.0/",
    "https://192.167.255.255/",
    "https://192.169.0.0/",
    "https://223.255.255.255/",
    "https://[2606:4700:4700::1111]/",
    "https://[2001:4860:4860::8888]/",
    "https://[::ffff:8.8.8.8]/",
    "https://[64:ff9b::808:808]/",
    "https://[fbff::1]/",
    "https://bücher.example/",
    "https://xn--bcher-kva.example/",
    "https://my-service.internal.example.com/",
    "https://localhost.example.com/",
    // A DNS name is judged by its text: what it resolves to is not visible from a Worker (docs/security.md#egress).
    "https://127.0.0.1.nip.io/",
  ])("%s", (url) => {
    expect(verdict(url)).toBe("allowed");
  });
});

describe("ALLOW_PRIVATE_EGRESS=true (local development)", () => {
  it.each(["http://127.0.0.1:8787/", "http://localhost:4566/", "http://[::1]:9000/", "http://169.254.169.254/", "http://10.0.0.1/", "http://api.example.com/", "https://0x7f.1/"])(
    "allows %s",
    (url) => {
      expect(verdict(url, local)).toBe("allowed");
    },
  );

  it.each([
    ["file:///etc/passwd", /not HTTP/],
    ["ftp://127.0.0.1/", /not HTTP/],
    ["https://256.0.0.1/", /not a valid URL/],
  ])("still refuses %s", (url, reason) => {
    expect(verdict(url, local)).toMatch(reason);
  });

  it("only the exact string true lifts the deployed defaults", () => {
    for (const value of ["false", "TRUE", "1", "yes", "", undefined]) {
      expect(egressPolicy({ ALLOW_PRIVATE_EGRESS: value }, null).allowPrivate).toBe(false);
    }
    expect(egressPolicy({ ALLOW_PRIVATE_EGRESS: "true" }, null).allowPrivate).toBe(true);
  });
});

describe("an organization's allowlist", () => {
  const narrowed = egressPolicy({ ALLOW_PRIVATE_EGRESS: "false" }, ["api.example.com", "*.corp.example", "hooks.example.org:8443"]);
  it.each([
    ["https://api.example.com/x", "allowed"],
    ["https://API.Example.com./x", "allowed"],
    ["https://a.corp.example/", "allowed"],
    ["https://a.b.corp.example/", "allowed"],
    ["https://hooks.example.org:8443/", "allowed"],
    ["https://corp.example/", /allowlist/],
    ["https://evilcorp.example/", /allowlist/],
    ["https://api.example.com.evil.test/", /allowlist/],
    ["https://www.example.com/", /allowlist/],
    ["https://hooks.example.org/", /allowlist/],
    ["https://hooks.example.org:9443/", /allowlist/],
  ])("%s: %s", (url, expected) => {
    if (expected === "allowed") expect(verdict(url, narrowed)).toBe("allowed");
    else expect(verdict(url, narrowed)).toMatch(expected);
  });

  it("narrows and never widens: an allowlisted private address stays refused when deployed", () => {
    expect(verdict("https://127.0.0.1/", egressPolicy({ ALLOW_PRIVATE_EGRESS: "false" }, ["127.0.0.1"]))).toMatch(/loopback/);
    expect(verdict("http://127.0.0.1:8787/", egressPolicy({ ALLOW_PRIVATE_EGRESS: "true" }, ["127.0.0.1"]))).toBe("allowed");
    expect(verdict("http://localhost:8787/", egressPolicy({ ALLOW_PRIVATE_EGRESS: "true" }, ["127.0.0.1"]))).toMatch(/allowlist/);
  });

  it("an empty allowlist allows nothing", () => {
    expect(verdict("https://api.example.com/", egressPolicy({}, []))).toMatch(/allowlist/);
  });
});

describe("IP literals as a resolver reads them", () => {
  it.each([
    ["127.0.0.1", "127.0.0.1"],
    ["2130706433", "127.0.0.1"],
    ["0177.0.0.1", "127.0.0.1"],
    ["0x7f.1", "127.0.0.1"],
    ["0x7F.0.1", "127.0.0.1"],
    ["127.1", "127.0.0.1"],
    ["127.0.0.1.", "127.0.0.1"],
    ["169.254.43518", "169.254.169.254"],
    ["0xa9fea9fe", "169.254.169.254"],
    ["0x", "0.0.0.0"],
    ["00", "0.0.0.0"],
    ["4294967295", "255.255.255.255"],
  ])("%s is %s", (text, dotted) => {
    expect(formatIPv4(parseIPv4(text)!)).toBe(dotted);
  });

  it.each(["4294967296", "256.0.0.1", "1.256.0.1", "1.2.65536", "1.2.3.4.5", "08", "0x7g.1", "1..2", "", "example.com", "1.2.3.-4"])("%j is no IPv4 address", (text) => {
    expect(parseIPv4(text)).toBeUndefined();
  });

  it.each([
    ["::1", [0, 0, 0, 0, 0, 0, 0, 1]],
    ["::", [0, 0, 0, 0, 0, 0, 0, 0]],
    ["::ffff:127.0.0.1", [0, 0, 0, 0, 0, 0xffff, 0x7f00, 1]],
    ["64:ff9b::10.0.0.1", [0x64, 0xff9b, 0, 0, 0, 0, 0x0a00, 1]],
    ["1:2:3:4:5:6:7:8", [1, 2, 3, 4, 5, 6, 7, 8]],
    ["1::8", [1, 0, 0, 0, 0, 0, 0, 8]],
    ["FE80::1", [0xfe80, 0, 0, 0, 0, 0, 0, 1]],
  ])("%s parses as IPv6", (text, groups) => {
    expect(parseIPv6(text)).toEqual(groups);
  });

  it.each(["1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "12345::", "fe80::1%eth0", "::ffff:1.2.3", "::ffff:01.2.3.4", ":1::", "1.2.3.4::", "g::1"])("%j is no IPv6 address", (text) => {
    expect(parseIPv6(text)).toBeUndefined();
  });

  it.each([
    ["0177.0.0.1", /loopback/],
    ["0x7f.1", /loopback/],
    ["2130706433", /loopback/],
    ["127.1.", /loopback/],
    ["::1", /loopback/],
    ["[::ffff:7f00:1]", /IPv4-mapped/],
    ["[fe80::1%eth0]", /not a valid IPv6/],
    ["999.1.1.1", /malformed/],
    ["1.2.3.4.5", /malformed/],
    ["LOCALHOST.", /localhost/],
    ["", /no host/],
  ])("the host %j is refused without a URL parser's help", (host, reason) => {
    expect(privateHostReason(host)).toMatch(reason);
  });

  it("a public IPv6 address has no reason to be refused", () => {
    expect(classifyIPv6(parseIPv6("2606:4700::6810:84e5")!)).toBeUndefined();
  });
});

/** A transport that records what would have been sent and answers from a script keyed by URL. */
function scripted(replies: Record<string, () => Response>) {
  const sent: { url: string; init: RequestInit }[] = [];
  const transport: Transport = async (url, init) => {
    sent.push({ url, init });
    const reply = replies[url];
    if (!reply) throw new Error(`unexpected request to ${url}`);
    return reply();
  };
  return { sent, transport };
}
const redirect = (status: number, location: string) => () => new Response(null, { status, headers: { location } });
const ok = (body = "{}") => () => new Response(body, { headers: { "content-type": "application/json" } });
const init = (extra: Partial<{ method: string; headers: Record<string, string>; body: string }> = {}) => ({
  method: "POST",
  headers: { "content-type": "application/json", accept: "application/json", authorization: "Bearer s3cret", "x-api-key": "k3y" },
  body: '{"a":1}',
  signal: new AbortController().signal,
  ...extra,
});

async function refusal(p: Promise<unknown>): Promise<EgressError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(EgressError);
  return e as EgressError;
}

describe("the guarded fetch", () => {
  it("sends nothing to a refused destination, and names the host and the reason", async () => {
    const { sent, transport } = scripted({});
    const e = await refusal(guardedFetch("https://0x7f.1:8443/admin", init(), deployed, transport));
    expect(e.code).toBe("EGRESS_DENIED");
    expect(e.message).toBe("Egress to 127.0.0.1 refused: a loopback address. Nothing was sent.");
    expect(sent).toHaveLength(0);
  });

  it("sends the canonical URL it checked, with redirect: manual", async () => {
    const { sent, transport } = scripted({ "https://134744072/x": ok(), "https://8.8.8.8/x": ok() });
    await guardedFetch("https://134744072/x", init(), deployed, transport);
    expect(sent.map((s) => [s.url, s.init.redirect])).toEqual([["https://8.8.8.8/x", "manual"]]);
  });

  it("refuses a redirect to a private address at the hop: the allowed host was called, the denied one never", async () => {
    const { sent, transport } = scripted({ "https://api.example.com/start": redirect(302, "http://169.254.169.254/latest/meta-data/") });
    const e = await refusal(guardedFetch("https://api.example.com/start", init(), deployed, transport));
    expect(e.code).toBe("EGRESS_DENIED");
    expect(e.message).toBe("Egress to 169.254.169.254 (a redirect from api.example.com) refused: the cloud metadata address. Nothing was sent.");
    expect(sent.map((s) => s.url)).toEqual(["https://api.example.com/start"]);
  });

  it.each(["https://[::ffff:127.0.0.1]/", "https://2130706433/", "https://localhost/", "http://api.example.com/"])("refuses a redirect to %s", async (location) => {
    const { sent, transport } = scripted({ "https://api.example.com/": redirect(307, location) });
    expect((await refusal(guardedFetch("https://api.example.com/", init(), deployed, transport))).code).toBe("EGRESS_DENIED");
    expect(sent).toHaveLength(1);
  });

  it("re-checks the organization's allowlist at every hop", async () => {
    const policy = egressPolicy({}, ["api.example.com"]);
    const { sent, transport } = scripted({ "https://api.example.com/": redirect(302, "https://elsewhere.example.net/") });
    const e = await refusal(guardedFetch("https://api.example.com/", init(), policy, transport));
    expect(e.message).toMatch(/^Egress to elsewhere\.example\.net \(a redirect from api\.example\.com\) refused: it is not on the organization's egress allowlist/);
    expect(sent).toHaveLength(1);
  });

  it("follows 5 redirects and fails on the 6th with TOO_MANY_REDIRECTS", async () => {
    const hops = Object.fromEntries(Array.from({ length: 7 }, (_, i) => [`https://api.example.com/${i}`, redirect(302, `/${i + 1}`)]));
    const five = scripted({ ...hops, "https://api.example.com/5": ok('{"done":true}') });
    const res = await guardedFetch("https://api.example.com/0", init({ method: "GET", body: undefined }), deployed, five.transport);
    expect(await res.json()).toEqual({ done: true });
    expect(five.sent).toHaveLength(6);

    const six = scripted(hops);
    const e = await refusal(guardedFetch("https://api.example.com/0", init({ method: "GET", body: undefined }), deployed, six.transport));
    expect(e.code).toBe("TOO_MANY_REDIRECTS");
    expect(six.sent).toHaveLength(6);
  });

  it("turns a POST into a GET without a body on 301, 302 and 303, and keeps both on 307 and 308", async () => {
    for (const status of [301, 302, 303, 307, 308]) {
      const { sent, transport } = scripted({ "https://api.example.com/a": redirect(status, "/b"), "https://api.example.com/b": ok() });
      await guardedFetch("https://api.example.com/a", init(), deployed, transport);
      const second = sent[1]!.init;
      const headers = new Headers(second.headers);
      if (status <= 303) {
        expect([status, second.method, second.body, headers.get("content-type")]).toEqual([status, "GET", undefined, null]);
      } else {
        expect([status, second.method, second.body, headers.get("content-type")]).toEqual([status, "POST", '{"a":1}', "application/json"]);
      }
    }
  });

  it("keeps every header on the same origin and sends none of the caller's on another one", async () => {
    const { sent, transport } = scripted({
      "https://api.example.com/a": redirect(307, "/b"),
      "https://api.example.com/b": redirect(302, "https://other.example.net/c"),
      "https://other.example.net/c": ok(),
    });
    await guardedFetch("https://api.example.com/a", init(), deployed, transport);
    const headers = sent.map((s) => Object.fromEntries(new Headers(s.init.headers).entries()));
    expect(headers[1]).toMatchObject({ authorization: "Bearer s3cret", "x-api-key": "k3y" });
    expect(headers[2]).toEqual({ accept: "application/json", "user-agent": "Canopy" });
  });

  // A `{secret}` header the tenant named User-Agent (or Accept, ...) overrides the HTTP executor's
  // defaults: on another origin, no header may carry a value that came from the caller.
  it("does not send a caller's User-Agent or Accept, holding a secret, to another origin, and does to the same one", async () => {
    const token = "ghp_SECRETxSECRETxSECRETxSECRETx0000";
    const { sent, transport } = scripted({
      "https://api.example.com/a": redirect(302, "/b"),
      "https://api.example.com/b": redirect(307, "https://evil.example.net/steal"),
      "https://evil.example.net/steal": ok(),
    });
    const caller = init({ method: "GET", body: undefined, headers: { "User-Agent": token, Accept: `${token}-accept`, "Accept-Language": token, "Content-Type": token } });
    await guardedFetch("https://api.example.com/a", caller, deployed, transport);
    expect(sent.map((s) => s.url)).toEqual(["https://api.example.com/a", "https://api.example.com/b", "https://evil.example.net/steal"]);
    const headers = sent.map((s) => Object.fromEntries(new Headers(s.init.headers).entries()));
    expect(headers[1]).toMatchObject({ "user-agent": token, accept: `${token}-accept` });
    expect(headers[2]).toEqual({ accept: "application/json", "user-agent": "Canopy" });
    expect(JSON.stringify(sent[2])).not.toContain(token);
  });

  it.each([
    [307, "POST"],
    [308, "POST"],
    [307, "PUT"],
    [301, "PUT"],
    [302, "PATCH"],
  ])("refuses a cross-origin %i of a %s with a body, with REDIRECT_REFUSED, and sends the body nowhere else", async (status, method) => {
    const assertion = "eyJhbGciOiJSUzI1NiJ9.c2lnbmVk.assertion";
    const { sent, transport } = scripted({ "https://oauth2.example.com/token": redirect(status, "https://evil.example.net/token") });
    const e = await refusal(guardedFetch("https://oauth2.example.com/token", init({ method, body: `assertion=${assertion}` }), deployed, transport));
    expect(e.code).toBe("REDIRECT_REFUSED");
    expect(e.message).toBe(
      `oauth2.example.com answered ${status}, a redirect to evil.example.net (another origin) that would send the request body again; a body is never sent to another origin. Nothing was sent to evil.example.net.`,
    );
    expect(sent.map((s) => s.url)).toEqual(["https://oauth2.example.com/token"]);
  });

  it("follows a cross-origin redirect that sends no body: a 307 of a GET, a 302 of a POST, a 303", async () => {
    for (const [status, method, body] of [
      [307, "GET", undefined],
      [302, "POST", '{"a":1}'],
      [303, "PUT", '{"a":1}'],
    ] as const) {
      const { sent, transport } = scripted({ "https://api.example.com/a": redirect(status, "https://other.example.net/b"), "https://other.example.net/b": ok() });
      const res = await guardedFetch("https://api.example.com/a", init({ method, body }), deployed, transport);
      expect(res.status).toBe(200);
      expect([sent[1]!.url, sent[1]!.init.method, sent[1]!.init.body]).toEqual(["https://other.example.net/b", "GET", undefined]);
    }
  });

  it("keeps the body on a same-origin 308, and counts another port as another origin", async () => {
    const same = scripted({ "https://api.example.com/a": redirect(308, "https://api.example.com/b"), "https://api.example.com/b": ok() });
    await guardedFetch("https://api.example.com/a", init(), deployed, same.transport);
    expect([same.sent[1]!.init.method, same.sent[1]!.init.body]).toEqual(["POST", '{"a":1}']);

    const otherPort = scripted({ "https://api.example.com/a": redirect(307, "https://api.example.com:8443/b") });
    expect((await refusal(guardedFetch("https://api.example.com/a", init(), deployed, otherPort.transport))).code).toBe("REDIRECT_REFUSED");
    expect(otherPort.sent).toHaveLength(1);
  });

  it("answers with the 3xx itself when it has no usable Location", async () => {
    const { sent, transport } = scripted({ "https://api.example.com/": () => new Response("moved", { status: 302 }) });
    const res = await guardedFetch("https://api.example.com/", init(), deployed, transport);
    expect([res.status, sent.length]).toEqual([302, 1]);
  });
});
