/**
 * The Hono application: one error model, one body limit, auth on every tenant route, and the
 * OpenAPI document generated from the same zod schemas that validate requests.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { ApiError, PayloadTooLargeError, STATUS_BY_CODE, UnknownOperationError, ValidationError, type ErrorInfo } from "../errors";
import { jsonNestsDeeperThan } from "../json-depth";
import { MAX_BODY_BYTES, MAX_JSON_DEPTH } from "../limits";
import { authenticate, authorize } from "./auth";
import { registerConsoleRoutes } from "./console";
import { registerDocsPage } from "./docs-page";
import { noSniff } from "./security-headers";
import type { AppEnv } from "./context";
import { zodProblems } from "./schemas";
import { registerAdminRoutes } from "./routes/admin";
import { registerApiTokenRoutes } from "./routes/api-tokens";
import { registerAuditLogRoutes } from "./routes/audit-log";
import { registerEgressPolicyRoutes } from "./routes/egress-policy";
import { registerJobRoutes } from "./routes/jobs";
import { registerTimeTravelRoutes } from "./routes/time-travel";
import { registerMetricRoutes } from "./routes/metrics";
import { registerNotificationRoutes } from "./routes/notifications";
import { registerOrganizationRoutes } from "./routes/organizations";
import { registerResourcePoolRoutes } from "./routes/resource-pools";
import { registerRetentionRoutes } from "./routes/retention";
import { registerScheduleRoutes } from "./routes/schedules";
import { registerSecretRoutes } from "./routes/secrets";
import { registerWebhookRoutes } from "./routes/webhooks";
import { registerWorkflowRoutes } from "./routes/workflows";

/** Writes an error in the API's format with the header the JustWorkflowIt client reads. */
export function errorResponse(c: Context, info: ErrorInfo): Response {
  return c.json(info, STATUS_BY_CODE[info.code], { "x-amzn-errortype": info.code });
}

function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof HTTPException) {
    // Hono's own validators throw these, e.g. for a body that is not JSON.
    if (err.status === 413) return new PayloadTooLargeError(`The request body exceeds ${MAX_BODY_BYTES} bytes.`);
    // zod-openapi refuses a body that is not declared JSON with 415: the API calls that a bad request.
    if (err.status === 415) return new ValidationError("The request body must be JSON, sent with content-type: application/json.");
    if (err.status >= 400 && err.status < 500) return new ValidationError(err.message || "The request is malformed.");
  }
  console.error(JSON.stringify({ event: "unhandled_error", error: String(err), stack: (err as Error)?.stack }));
  return new ApiError("UnhandledError", "An unexpected error occurred.");
}

const JSON_CONTENT_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/**
 * A JSON body must be valid UTF-8 (not silently repaired into U+FFFD) and nest at most
 * MAX_JSON_DEPTH deep, checked on the bytes before any parser or validator recurses into it.
 */
const jsonBodyGuard: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.req.raw.body && JSON_CONTENT_TYPE.test(c.req.header("content-type") ?? "")) {
    const bytes = await c.req.arrayBuffer();
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
    } catch {
      throw new ValidationError("The request body is not valid UTF-8.");
    }
    if (jsonNestsDeeperThan(text, MAX_JSON_DEPTH)) throw new ValidationError(`The request body nests deeper than ${MAX_JSON_DEPTH} levels.`);
  }
  await next();
};

/** Builds the Worker's HTTP application. */
export function createApp(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        const { errors, fields } = zodProblems(result.error.issues);
        throw new ValidationError("The request is invalid.", errors, fields);
      }
    },
  });

  app.onError((err, c) => errorResponse(c, toApiError(err).toInfo()));
  // An operation Canopy does not have (a JustWorkflowIt billing call, a typo) is told apart from an unknown id.
  app.notFound((c) =>
    errorResponse(c, new UnknownOperationError(`No operation answers ${c.req.method} ${c.req.path}.`).toInfo()),
  );

  app.use("*", noSniff);
  // The size check comes before anything reads the body: 413 without parsing.
  app.use(
    "*",
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new PayloadTooLargeError(`The request body exceeds ${MAX_BODY_BYTES} bytes.`);
      },
    }),
  );

  app.get("/healthz", (c) => c.json({ ok: true }));

  app.use("/admin/*", authenticate, authorize, jsonBodyGuard);
  app.use("/organizations", authenticate, authorize, jsonBodyGuard);
  app.use("/organizations/*", authenticate, authorize, jsonBodyGuard);
  registerAdminRoutes(app);
  app.use("/users/*", authenticate, authorize);
  registerOrganizationRoutes(app);
  registerApiTokenRoutes(app);
  registerWorkflowRoutes(app);
  registerJobRoutes(app);
  registerTimeTravelRoutes(app);
  registerSecretRoutes(app);
  registerEgressPolicyRoutes(app);
  registerRetentionRoutes(app);
  registerResourcePoolRoutes(app);
  registerScheduleRoutes(app);
  registerMetricRoutes(app);
  registerNotificationRoutes(app);
  registerAuditLogRoutes(app);
  // Deliveries at /hooks/* carry a signature instead of a bearer token (the routes above are auth-guarded by path).
  registerWebhookRoutes(app);

  app.openAPIRegistry.registerComponent("securitySchemes", "Bearer", { type: "http", scheme: "bearer" });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Canopy",
      version: "0.1.0",
      description: "A durable workflow engine on Cloudflare Workers, wire-compatible with JustWorkflowIt's REST API.",
    },
  });
  registerDocsPage(app);
  registerConsoleRoutes(app);
  return app;
}
