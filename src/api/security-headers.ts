/**
 * The browser-facing pages' security headers (src/api/security-headers.json: a strict
 * Content-Security-Policy with frame-ancestors 'none', X-Frame-Options, nosniff, no-referrer). Static
 * assets get them from dist/_headers, generated from the same JSON (scripts/build-console.mjs); the
 * pages the Worker itself answers (the console's deep links, /docs) get them here. Every API answer
 * gets `X-Content-Type-Options: nosniff`, so a browser never reads a JSON error as a page or script.
 */
import type { MiddlewareHandler } from "hono";
import headers from "./security-headers.json";

/** The headers, by name. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = headers;

/** `res` with the security headers set (a copy when its headers are immutable). */
export function withSecurityHeaders(res: Response, only: Readonly<Record<string, string>> = SECURITY_HEADERS): Response {
  let out = res;
  try {
    for (const [name, value] of Object.entries(only)) out.headers.set(name, value);
  } catch {
    // A response passed through from a binding has immutable headers.
    out = new Response(res.body, res);
    for (const [name, value] of Object.entries(only)) out.headers.set(name, value);
  }
  return out;
}

/** Middleware: `X-Content-Type-Options: nosniff` on every answer, errors included. */
export const noSniff: MiddlewareHandler = async (c, next) => {
  await next();
  c.res = withSecurityHeaders(c.res, { "X-Content-Type-Options": "nosniff" });
};
