/** Worker entry: the HTTP API and the Durable Object classes. */
import { createApp } from "./api/app";

export { JobObject } from "./job/job-object";
export { WebhookRateLimiter } from "./webhooks/rate-limiter";
export { NotificationOutbox } from "./notifications/outbox";

export default createApp() satisfies ExportedHandler<Env>;
