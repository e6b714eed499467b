/**
 * The API reference at /docs: Swagger UI on /openapi.json, every file from this engine. The page is
 * the Worker's (a few hundred bytes, so PUT /docs and the like stay API answers); its script and
 * styles are static assets under /docs/ (dist/docs/, copied from swagger-ui-dist by
 * scripts/build-console.mjs), and it runs under the console's Content-Security-Policy: no inline
 * script, nothing from another origin, so it works on a network that reaches no CDN.
 */
import type { Context } from "hono";
import type { App, AppEnv } from "./context";
import { withSecurityHeaders } from "./security-headers";

/** The page; the spec URL is an attribute that static/docs/init.js reads. */
export const DOCS_PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Canopy API reference</title>
    <link rel="stylesheet" href="/docs/swagger-ui.css" />
  </head>
  <body>
    <div id="swagger-ui" data-spec-url="/openapi.json"></div>
    <script src="/docs/swagger-ui-bundle.js"></script>
    <script src="/docs/init.js"></script>
  </body>
</html>
`;

function docsPage(c: Context<AppEnv>): Response {
  return withSecurityHeaders(c.html(DOCS_PAGE));
}

/** Registers GET /docs. */
export function registerDocsPage(app: App): void {
  app.get("/docs", docsPage);
}
