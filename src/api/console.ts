/**
 * The browser console at /console: its built files are Workers Static Assets (wrangler.toml
 * `[assets]`), served before the Worker runs. A path under /console/ that is no file is one of the
 * app's own pages (a deep link), so it gets the app's index.html; the app reads the rest of its
 * path itself. Nothing here is an API route: the console calls the public API like any client.
 */
import type { Context } from "hono";
import { NotFoundError } from "../errors";
import type { App, AppEnv } from "./context";
import { withSecurityHeaders } from "./security-headers";

/** The app's entry page, from the assets (`/console/` is its index.html). */
async function indexPage(c: Context<AppEnv>): Promise<Response> {
  // The binding is missing only where the Worker runs without its assets (nothing built).
  if (!c.env.ASSETS) throw new NotFoundError("The console is not built: run `npm start` or `node scripts/build-console.mjs`.");
  const res = await c.env.ASSETS.fetch(new URL("/console/", c.req.url));
  if (!res.ok) throw new NotFoundError("The console is not built: run `npm start` or `node scripts/build-console.mjs`.");
  // The page names its hashed scripts, so it must never be cached across a rebuild.
  const headers = new Headers(res.headers);
  headers.set("cache-control", "no-cache");
  // The same headers as the console's static files (dist/_headers): a deep link is the same page.
  return withSecurityHeaders(new Response(res.body, { status: 200, headers }));
}

/** Registers /console and every page path under it. */
export function registerConsoleRoutes(app: App): void {
  app.get("/console", (c) => c.redirect("/console/", 301));
  // A missing script or stylesheet is a 404, not the app's page in its place.
  app.get("/console/assets/*", (c) => {
    throw new NotFoundError(`No console asset at ${c.req.path}.`);
  });
  app.get("/console/*", indexPage);
}
