/**
 * IP literals, read the way URL parsers and resolvers read them, and the ranges a deployed engine
 * must not call. Pure: no I/O.
 *
 * An IPv4 address has many spellings: `127.0.0.1`, `2130706433`, `0177.0.0.1`, `0x7f.1`, `127.1`,
 * `127.0.0.1.`. The WHATWG URL parser (what `fetch` uses) and `inet_aton` accept them all, so a
 * check that compares strings is a check an attacker walks around. Every spelling is turned into
 * its number first, and only numbers are compared.
 */

/** Why an address is refused, or undefined when it is a public unicast address. */
export type AddressVerdict = string | undefined;

/** One part of an IPv4 spelling: decimal, octal (leading 0) or hex (0x), as WHATWG and inet_aton read it. */
function ipv4Part(part: string): number | undefined {
  if (part === "") return undefined;
  let radix = 10;
  let digits = part;
  if (/^0x/i.test(part)) {
    radix = 16;
    digits = part.slice(2);
  } else if (part.length > 1 && part.startsWith("0")) {
    radix = 8;
    digits = part.slice(1);
  }
  if (digits === "") return 0; // WHATWG reads a bare "0x" as zero
  const valid = radix === 16 ? /^[0-9a-f]+$/i : radix === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  return valid.test(digits) ? parseInt(digits, radix) : undefined;
}

/** The labels of a host, without the one empty label a trailing dot leaves. */
function labelsOf(host: string): string[] {
  const labels = host.split(".");
  if (labels.length > 1 && labels.at(-1) === "") labels.pop();
  return labels;
}

/**
 * WHATWG's "ends in a number": a host whose last label is a number (decimal, or 0x-hex) is an IPv4
 * address or is invalid; it is never looked up as a name.
 */
export function endsInNumber(host: string): boolean {
  const last = labelsOf(host).at(-1) ?? "";
  return /^[0-9]+$/.test(last) || (/^0x/i.test(last) && ipv4Part(last) !== undefined);
}

/**
 * An IPv4 spelling as its 32-bit number: 1 to 4 parts, each decimal, octal or hex, the last one
 * filling the remaining bytes (`127.1` is 127.0.0.1, `2130706433` is too). Undefined if malformed.
 */
export function parseIPv4(host: string): number | undefined {
  const labels = labelsOf(host);
  if (labels.length === 0 || labels.length > 4) return undefined;
  const parts = labels.map(ipv4Part);
  if (parts.some((p) => p === undefined)) return undefined;
  const numbers = parts as number[];
  const last = numbers.pop()!;
  if (numbers.some((n) => n > 255)) return undefined;
  if (last >= 256 ** (4 - numbers.length)) return undefined;
  return numbers.reduce((sum, n, i) => sum + n * 256 ** (3 - i), last);
}

/** Dotted-quad text of a 32-bit address, for messages. */
export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** Strict dotted decimal, as allowed at the end of an IPv6 literal (`::ffff:127.0.0.1`). */
function dottedQuad(text: string): [number, number] | undefined {
  const parts = text.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255)) return undefined;
  const n = parts.reduce((sum, p) => sum * 256 + Number(p), 0);
  return [n >>> 16, n & 0xffff];
}

/**
 * An IPv6 literal (without brackets) as its eight 16-bit groups: `::` compression and a trailing
 * dotted IPv4 are accepted. Zone ids (`%eth0`) are not: URLs cannot carry them.
 */
export function parseIPv6(text: string): number[] | undefined {
  const gap = text.indexOf("::");
  if (gap !== text.lastIndexOf("::")) return undefined;
  const pieces = (s: string) => (s === "" ? [] : s.split(":"));
  const head = gap < 0 ? pieces(text) : pieces(text.slice(0, gap));
  const tail = gap < 0 ? [] : pieces(text.slice(gap + 2));
  const groups = (list: string[], lastOfAll: boolean): number[] | undefined => {
    const out: number[] = [];
    for (let i = 0; i < list.length; i++) {
      const piece = list[i]!;
      if (lastOfAll && i === list.length - 1 && piece.includes(".")) {
        const quad = dottedQuad(piece);
        if (!quad) return undefined;
        out.push(...quad);
      } else if (/^[0-9a-f]{1,4}$/i.test(piece)) {
        out.push(parseInt(piece, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const h = groups(head, gap < 0);
  const t = groups(tail, true);
  if (!h || !t) return undefined;
  if (gap < 0) return h.length === 8 ? h : undefined;
  if (h.length + t.length > 7) return undefined;
  return [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
}

function cidr(text: string): { base: number; bits: number } {
  const [address, bits] = text.split("/");
  return { base: parseIPv4(address!)!, bits: Number(bits) };
}

/**
 * IPv4 ranges that are not public unicast (IANA special-purpose registry, RFC 6890): more specific
 * entries first, so the metadata address is named as such.
 */
const IPV4_REFUSED: ReadonlyArray<{ base: number; bits: number; reason: string }> = [
  ["169.254.169.254/32", "the cloud metadata address"],
  ["0.0.0.0/8", "an unspecified (\"this network\") address"],
  ["10.0.0.0/8", "a private address (RFC 1918)"],
  ["100.64.0.0/10", "a carrier-grade NAT address (RFC 6598)"],
  ["127.0.0.0/8", "a loopback address"],
  ["169.254.0.0/16", "a link-local address"],
  ["172.16.0.0/12", "a private address (RFC 1918)"],
  ["192.0.0.0/24", "an IETF protocol assignment (RFC 6890)"],
  ["192.0.2.0/24", "a documentation address (RFC 5737)"],
  ["192.168.0.0/16", "a private address (RFC 1918)"],
  ["198.18.0.0/15", "a benchmarking address (RFC 2544)"],
  ["198.51.100.0/24", "a documentation address (RFC 5737)"],
  ["203.0.113.0/24", "a documentation address (RFC 5737)"],
  ["224.0.0.0/4", "a multicast address"],
  ["240.0.0.0/4", "a reserved or broadcast address"],
].map(([range, reason]) => ({ ...cidr(range!), reason: reason! }));

/** Why an IPv4 address is refused, or undefined for a public one. */
export function classifyIPv4(n: number): AddressVerdict {
  for (const r of IPV4_REFUSED) {
    if (((n ^ r.base) >>> (32 - r.bits)) === 0) return r.reason;
  }
  return undefined;
}

const zero = (g: number[], from: number, to: number) => g.slice(from, to).every((x) => x === 0);
const v4At = (g: number[], i: number) => ((g[i]! << 16) | g[i + 1]!) >>> 0;

/** An IPv6 address that carries an IPv4 one is judged by the IPv4 address it reaches. */
function embedded(kind: string, n: number): AddressVerdict {
  const verdict = classifyIPv4(n);
  return verdict && `${kind} of ${formatIPv4(n)}, ${verdict}`;
}

/** Why an IPv6 address (eight groups) is refused, or undefined for a public one. */
export function classifyIPv6(g: number[]): AddressVerdict {
  if (zero(g, 0, 8)) return "the unspecified address";
  if (zero(g, 0, 7) && g[7] === 1) return "a loopback address";
  if (zero(g, 0, 5) && g[5] === 0xffff) return embedded("an IPv4-mapped address", v4At(g, 6));
  if (zero(g, 0, 4) && g[4] === 0xffff && g[5] === 0) return embedded("an IPv4-translated address", v4At(g, 6));
  if (zero(g, 0, 6)) return embedded("an IPv4-compatible address", v4At(g, 6));
  if (g[0] === 0x64 && g[1] === 0xff9b && zero(g, 2, 6)) return embedded("a NAT64 address", v4At(g, 6));
  if (g[0] === 0x64 && g[1] === 0xff9b && g[2] === 1) return "a local-use NAT64 address (RFC 8215)";
  if (g[0] === 0x2002) return embedded("a 6to4 address", v4At(g, 1));
  // Teredo carries the client's IPv4 address inverted in the last 32 bits.
  if (g[0] === 0x2001 && g[1] === 0) return embedded("a Teredo address", ~v4At(g, 6) >>> 0);
  if (g[0] === 0x2001 && g[1] === 0x0db8) return "a documentation address (RFC 3849)";
  if (g[0] === 0x0100 && zero(g, 1, 4)) return "a discard-only address (RFC 6666)";
  if (g[0] === 0xfd00 && g[1] === 0x0ec2 && zero(g, 2, 7) && g[7] === 0x254) return "the cloud metadata address (AWS, IPv6)";
  if ((g[0]! & 0xfe00) === 0xfc00) return "a unique local address (fc00::/7)";
  if ((g[0]! & 0xffc0) === 0xfe80) return "a link-local address";
  if ((g[0]! & 0xffc0) === 0xfec0) return "a site-local address";
  if ((g[0]! & 0xff00) === 0xff00) return "a multicast address";
  return undefined;
}
