/**
 * The cheap checks of a webhook request, made before the trigger is read: nothing here reads D1,
 * opens a secret or computes an HMAC, so a flood of requests that cannot be deliveries costs the
 * engine only these checks.
 * 1. The signature headers (401): at least one signature of a supported scheme in a form that
 *    could verify. Costs no I/O at all, so it comes first.
 * 2. The client's buckets (429 with Retry-After), Durable Objects of rate-limiter.ts:
 *    - a token is taken from the address's probe bucket, and given back once the trigger id turns
 *      out to name a trigger, so the bucket counts lookups of unknown trigger ids. It is taken
 *      before the lookup, not after: concurrent probes must each find the bucket already charged
 *      by the others (a look without taking let 400 concurrent probes all reach D1);
 *    - every request then takes a token from the bucket of (address, trigger id), and gets it back
 *      once its signature verifies and it is not a replay. So that bucket counts what an address
 *      without the trigger's secret makes the engine read, decrypt and hash for that trigger; a
 *      sender with the secret is limited by its trigger's rate instead. Keyed by trigger as well,
 *      because GitHub and Svix send for all their customers from few addresses: forged requests
 *      to one trigger must not throttle those addresses' deliveries to every other trigger.
 * Only then is the trigger read: an unknown trigger answers 404 after these checks and keeps its
 * probe token, so probing for trigger ids (random UUIDs) is throttled per address.
 */
import { AuthenticationError, ThrottlingError } from "../errors";
import { WEBHOOK_UNVERIFIED_BURST, WEBHOOK_UNVERIFIED_RATE_PER_SECOND } from "../limits";
import { returnClientToken, takeClientToken, type BucketShape } from "./rate-limiter";
import { checkSignatureHeaders } from "./signatures";

/** A 429 that says when to come back. */
export class WebhookThrottled extends ThrottlingError {
  constructor(
    readonly retryAfterSeconds: number,
    message = "This webhook trigger's delivery rate is exceeded; retry later.",
  ) {
    super(message);
  }
}

const UNVERIFIED: BucketShape = { ratePerSecond: WEBHOOK_UNVERIFIED_RATE_PER_SECOND, capacity: WEBHOOK_UNVERIFIED_BURST };

/** The bucket every request without CF-Connecting-IP shares: only local development sends none. */
export const LOCAL_CLIENT_KEY = "ip:local";

/**
 * The rate-limit key of a client address. An IPv6 client is keyed by its /64: one subscriber
 * usually holds a whole /64, so per-address buckets would give it 2^64 of them.
 */
export function clientKey(connectingIp: string | null | undefined): string {
  const address = connectingIp?.trim();
  if (!address) return LOCAL_CLIENT_KEY;
  if (!address.includes(":")) return `ip:${address.slice(0, 64)}`;
  const groups = ipv6Groups(address);
  if (!groups) return `ip:${address.slice(0, 64).toLowerCase()}`;
  // ::ffff:a.b.c.d is an IPv4 client.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `ip:${[groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join(".")}`;
  }
  return `ip:${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(":")}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, or null if it is not one. */
function ipv6Groups(address: string): number[] | null {
  const halves = address.split("::");
  if (halves.length > 2) return null;
  const parse = (part: string | undefined): number[] | null => {
    if (!part) return [];
    const out: number[] = [];
    for (const piece of part.split(":")) {
      const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(piece);
      if (v4) {
        const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
        if ([a, b, c, d].some((n) => n > 255)) return null;
        out.push((a << 8) | b, (c << 8) | d);
      } else if (/^[0-9a-f]{1,4}$/i.test(piece)) out.push(parseInt(piece, 16));
      else return null;
    }
    return out;
  };
  const head = parse(halves[0]);
  const tail = parse(halves[1]);
  if (!head || !tail) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const missing = 8 - head.length - tail.length;
  return missing >= 1 ? [...head, ...new Array<number>(missing).fill(0), ...tail] : null;
}

/** The bucket of what `client` (a `clientKey`) may cost `triggerId` before its requests verify. */
export function admissionBucket(client: string, triggerId: string): string {
  return `${client}|${triggerId}`;
}

/** The bucket of what `client` (a `clientKey`) may cost looking up trigger ids that name no trigger. */
export function probeBucket(client: string): string {
  return `probe:${client}`;
}

/** What the delivery reports back to admission once it knows more than the headers said. */
export interface Admission {
  /** The signature verified and the delivery is not a replay: its token goes back. */
  verified(): Promise<void>;
  /** The trigger id names a live trigger: the probe token goes back. */
  knownTrigger(): Promise<void>;
}

/**
 * Admits a webhook request for `triggerId` to the expensive checks, or throws AuthenticationError
 * (no well-formed signature) or WebhookThrottled (the address's probe bucket or its bucket for this
 * trigger is empty).
 */
export async function admitWebhookRequest(
  env: Pick<Env, "WEBHOOK_RATE_LIMITER">,
  headers: Headers,
  triggerId: string,
  now: number,
): Promise<Admission> {
  const form = checkSignatureHeaders(headers, Math.floor(now / 1000));
  if (!form.ok) throw new AuthenticationError(form.reason);
  const client = clientKey(headers.get("cf-connecting-ip"));
  const probe = probeBucket(client);
  const probes = await takeClientToken(env, probe, UNVERIFIED);
  if (!probes.allowed) {
    throw new WebhookThrottled(probes.retryAfterSeconds, "Too many webhook requests from this address to triggers that do not exist; retry later.");
  }
  const bucket = admissionBucket(client, triggerId);
  const rate = await takeClientToken(env, bucket, UNVERIFIED);
  if (!rate.allowed) {
    // Nothing was looked up: the probe token goes back.
    await returnClientToken(env, probe, UNVERIFIED);
    throw new WebhookThrottled(rate.retryAfterSeconds, "Too many unverified webhook requests from this address to this trigger; retry later.");
  }
  return {
    verified: () => returnClientToken(env, bucket, UNVERIFIED),
    knownTrigger: () => returnClientToken(env, probe, UNVERIFIED),
  };
}
