import { describe, expect, it } from "vitest";
import { anyHostMatches, destinationHost, hostMatches, hostPatternProblem } from "../../src/host-patterns";

describe("hostPatternProblem", () => {
  it.each([
    "api.example.com",
    "localhost",
    "*.example.com",
    "*.eu.example.com",
    "api.example.com:8443",
    "*.example.com:443",
    "127.0.0.1",
    "127.0.0.1:8787",
    "[::1]",
    "[::1]:8080",
    "[2001:db8::1]",
    "xn--bcher-kva.example",
    "a-b.c-d.example",
    `${"a".repeat(63)}.example.com`,
  ])("accepts %s", (pattern) => {
    expect(hostPatternProblem(pattern)).toBeUndefined();
  });

  it.each([
    ["", /empty/],
    ["x".repeat(301), /at most 300/],
    ["*", /not a valid host|wildcard/],
    ["*.com", /below the top level/],
    ["*example.com", /leading "\*\."/],
    ["api.*.example.com", /leading "\*\."/],
    ["*.*.example.com", /leading "\*\."/],
    ["https://api.example.com", /not a host|invalid port/],
    ["api.example.com/path", /canonical form|not a valid host/],
    ["user@api.example.com", /canonical form|not a valid host/],
    ["api.example.com:0", /invalid port/],
    ["api.example.com:65536", /invalid port/],
    ["api.example.com:08080", /invalid port/],
    ["api.example.com:", /invalid port/],
    ["api.example.com:80:80", /not a host/],
    ["API.example.com", /write it as "api.example.com"/],
    ["*.Example.com:443", /write it as "\*\.example\.com:443"/],
    ["bücher.example", /write it as "xn--bcher-kva.example"/],
    ["0x7f.0.0.1", /write it as "127.0.0.1"/],
    ["2130706433", /write it as "127.0.0.1"/],
    ["127.1", /write it as "127.0.0.1"/],
    ["[0:0:0:0:0:0:0:1]", /write it as "\[::1\]"/],
    ["[::1", /not a host/],
    ["::1", /not a host/],
    ["api.example.com.", /not a valid host name/],
    ["-api.example.com", /not a valid host name/],
    ["api_internal.example.com", /not a valid host name/],
    ["a..example.com", /not a valid host name|canonical/],
    [`${"a".repeat(64)}.example.com`, /not a valid host name/],
    ["api example.com", /not a valid host/],
    ["*.10.0.0.1", /cannot cover an IP address/],
    ["*.[::1]", /not a host/],
    [":443", /not a host/],
  ])("refuses %j", (pattern, message) => {
    expect(hostPatternProblem(pattern)).toMatch(message);
  });
});

describe("destinationHost", () => {
  it.each([
    ["https://api.example.com/v1/charge?x=1", "api.example.com:443"],
    ["http://api.example.com/", "api.example.com:80"],
    ["https://api.example.com:443/", "api.example.com:443"],
    ["https://api.example.com:8443/", "api.example.com:8443"],
    ["https://API.Example.COM/", "api.example.com:443"],
    ["https://api.example.com./", "api.example.com:443"],
    ["http://127.0.0.1:8787/s/x", "127.0.0.1:8787"],
    ["http://0x7f.1/", "127.0.0.1:80"],
    ["http://[::1]:9000/", "[::1]:9000"],
    ["https://user:pw@api.example.com/", "api.example.com:443"],
    ["https://bücher.example/", "xn--bcher-kva.example:443"],
  ])("%s goes to %s", (url, host) => {
    expect(destinationHost(url)).toBe(host);
  });

  it("throws on something that is not a URL", () => {
    expect(() => destinationHost("not a url")).toThrow(TypeError);
  });
});

describe("hostMatches", () => {
  it.each([
    // Exact hosts, any port unless the pattern names one.
    ["api.example.com", "api.example.com:443", true],
    ["api.example.com", "api.example.com:8443", true],
    ["api.example.com", "api.example.com.evil.com:443", false],
    ["api.example.com", "evilapi.example.com:443", false],
    ["api.example.com", "example.com:443", false],
    ["api.example.com:443", "api.example.com:443", true],
    ["api.example.com:443", "api.example.com:80", false],
    // Wildcards: subdomains at any depth, never the domain itself or a look-alike.
    ["*.example.com", "api.example.com:443", true],
    ["*.example.com", "a.b.example.com:443", true],
    ["*.example.com", "example.com:443", false],
    ["*.example.com", "evilexample.com:443", false],
    ["*.example.com", "example.com.evil.com:443", false],
    ["*.example.com:443", "api.example.com:443", true],
    ["*.example.com:443", "api.example.com:8443", false],
    // Addresses.
    ["127.0.0.1", "127.0.0.1:8787", true],
    ["127.0.0.1:8787", "127.0.0.1:8787", true],
    ["127.0.0.1:8787", "127.0.0.1:8788", false],
    ["127.0.0.1", "localhost:8787", false],
    ["[::1]", "[::1]:443", true],
    ["[::1]:8080", "[::1]:443", false],
  ])("%s against %s: %s", (pattern, destination, expected) => {
    expect(hostMatches(pattern, destination)).toBe(expected);
  });

  it("matches destinations as destinationHost writes them", () => {
    expect(hostMatches("api.example.com", destinationHost("https://API.example.com./x"))).toBe(true);
    expect(hostMatches("api.example.com:443", destinationHost("https://api.example.com/x"))).toBe(true);
    expect(hostMatches("api.example.com:80", destinationHost("https://api.example.com/x"))).toBe(false);
    expect(hostMatches("127.0.0.1", destinationHost("http://2130706433/"))).toBe(true);
  });

  it("any of several patterns may match; none match nothing", () => {
    expect(anyHostMatches(["a.example.com", "*.example.org"], "x.example.org:443")).toBe(true);
    expect(anyHostMatches(["a.example.com", "*.example.org"], "b.example.com:443")).toBe(false);
    expect(anyHostMatches([], "a.example.com:443")).toBe(false);
  });
});
