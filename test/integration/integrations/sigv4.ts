/**
 * An independent AWS Signature Version 4 check, written from AWS's specification ("Create a
 * canonical request", "Create a string to sign", "Calculate the signature") with node:crypto, so a
 * test can tell whether the Authorization header a request carried is the one AWS would compute.
 * It shares no code with aws4fetch.
 */
import { createHash, createHmac } from "node:crypto";
import type { SeenRequest } from "./fake";

export interface ParsedAuthorization {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

export const AUTHORIZATION_FORM =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/;

/** The parts of an `AWS4-HMAC-SHA256` Authorization header, or undefined if it does not have that form. */
export function parseAuthorization(header: string | undefined): ParsedAuthorization | undefined {
  const m = AUTHORIZATION_FORM.exec(header ?? "");
  if (!m) return undefined;
  return { accessKeyId: m[1]!, date: m[2]!, region: m[3]!, service: m[4]!, signedHeaders: m[5]!.split(";"), signature: m[6]! };
}

/** RFC 3986 percent-encoding: everything but A-Z a-z 0-9 - . _ ~ is encoded, in upper-case hex. */
function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

const sha256Hex = (data: string) => createHash("sha256").update(data, "utf8").digest("hex");
const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data, "utf8").digest();

/** The canonical request of a received request, for a service other than S3 (path segments encoded twice). */
export function canonicalRequest(req: SeenRequest, signedHeaders: string[]): string {
  const [path = "/", query = ""] = req.url.split("?", 2) as [string, string?];
  const canonicalUri = path
    .split("/")
    .map((segment) => uriEncode(segment))
    .join("/");
  const canonicalQuery = query
    .split("&")
    .filter(Boolean)
    .map((pair) => {
      const [k = "", v = ""] = pair.split("=", 2);
      return [uriEncode(decodeURIComponent(k)), uriEncode(decodeURIComponent(v))] as const;
    })
    .sort(([k1, v1], [k2, v2]) => (k1 < k2 ? -1 : k1 > k2 ? 1 : v1 < v2 ? -1 : v1 > v2 ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const canonicalHeaders = signedHeaders.map((h) => `${h}:${(req.headers[h] ?? "").trim().replace(/\s+/g, " ")}\n`).join("");
  return [req.method, canonicalUri, canonicalQuery, canonicalHeaders, signedHeaders.join(";"), sha256Hex(req.body)].join("\n");
}

/** The signature AWS would compute for `req` with this secret key, from the scope its header names. */
export function expectedSignature(req: SeenRequest, secretAccessKey: string): string {
  const auth = parseAuthorization(req.headers.authorization);
  if (!auth) throw new Error(`not a SigV4 Authorization header: ${req.headers.authorization}`);
  const amzDate = req.headers["x-amz-date"] ?? "";
  const scope = `${auth.date}/${auth.region}/${auth.service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256Hex(canonicalRequest(req, auth.signedHeaders))].join("\n");
  const kDate = hmac(`AWS4${secretAccessKey}`, auth.date);
  const kRegion = hmac(kDate, auth.region);
  const kService = hmac(kRegion, auth.service);
  const kSigning = hmac(kService, "aws4_request");
  return createHmac("sha256", kSigning).update(stringToSign, "utf8").digest("hex");
}
