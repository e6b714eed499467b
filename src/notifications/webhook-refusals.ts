/**
 * Refused webhook signatures, counted per trigger in fixed windows: the WEBHOOK_REFUSAL_THRESHOLD-th
 * refusal within WEBHOOK_REFUSAL_WINDOW_MS of the window's first raises one notification, whatever
 * follows in that window. The count lives in a small Durable Object per trigger
 * (`refusals:<triggerId>`, a WebhookRateLimiter), which runs one request at a time, so exactly one
 * refusal crosses the threshold however they race; the notification's dedupe key names the window
 * besides. Counting costs no D1 query: a flood of forgeries reads D1 no more than before, and the
 * notification is raised by that object, once per burst. Counting is `noteRefusedSignature` in
 * src/webhooks/rate-limiter.ts; this module only says what the notification reads.
 */
import { WEBHOOK_REFUSAL_THRESHOLD, WEBHOOK_REFUSAL_WINDOW_MS } from "../limits";
import { raiseNotification } from "./raise";

/** What the notification names. */
export interface RefusedTrigger {
  triggerId: string;
  organizationId: string;
  name: string;
}

/** Raises the notification of the burst whose window opened at `windowStart`. */
export async function raiseRefusalNotification(env: Pick<Env, "DB" | "NOTIFICATION_OUTBOX">, trigger: RefusedTrigger, reason: string, windowStart: number): Promise<void> {
  const minutes = WEBHOOK_REFUSAL_WINDOW_MS / 60_000;
  await raiseNotification(env, {
    organizationId: trigger.organizationId,
    type: "WEBHOOK_SIGNATURES_REFUSED",
    title: `Webhook trigger ${trigger.name} is refusing signatures`,
    message:
      `Webhook trigger ${trigger.name} (${trigger.triggerId}) refused ${WEBHOOK_REFUSAL_THRESHOLD} deliveries within ${minutes} minutes ` +
      `because their signatures did not verify (last: ${reason}). A sender may be using an old secret, or someone is forging deliveries.`,
    resourceId: trigger.triggerId,
    dedupeKey: `webhook-signatures:${trigger.triggerId}:${windowStart}`,
  });
}
