/** Worker entry: the HTTP API and the Durable Object classes. */
import { createApp } from "./api/app";

export { BatchStarter } from "./job/batch-starter";
export { Intake } from "./intake/intake";
export { RerunBatch } from "./job/rerun-batch";
export { JobObject } from "./job/job-object";
export { WebhookRateLimiter } from "./webhooks/rate-limiter";
export { ScheduleObject } from "./schedule/schedule-object";
export { OrganizationReaper } from "./organizations/reaper";
export { ResourcePool } from "./pools/resource-pool";
export { NotificationOutbox } from "./notifications/outbox";
export { AuditLog } from "./audit/audit-log";
export { JobIndex } from "./job-index/job-index";

export default createApp() satisfies ExportedHandler<Env>;
