/**
 * Refused webhook signatures, counted per trigger in fixed windows: the WEBHOOK_REFUSAL_THRESHOLD-th
 * refusal within WEBHOOK_REFUSAL_WINDOW_MS of the window's first raises one notification, whatever
 * follows in that window. The count is one upsert (its RETURNING says which request crossed the
 * threshold, exactly one however they race), and the notification's dedupe key names the window.
 * A refused request already cost a D1 read and an HMAC, and admission (src/webhooks/admission.ts)
 * bounds how many an address can make, so this adds one bounded write to each.
 */
import { WEBHOOK_REFUSAL_THRESHOLD, WEBHOOK_REFUSAL_WINDOW_MS } from "../limits";
import { raiseNotification } from "./raise";

/** Counts one refused signature of `trigger`; raises the notification when it completes a burst. */
export async function noteRefusedSignature(
  env: Pick<Env, "DB" | "NOTIFICATION_OUTBOX">,
  trigger: { triggerId: string; organizationId: string; name: string },
  reason: string,
  now: number,
): Promise<void> {
  const row = await env.DB.prepare(
    `INSERT INTO webhook_refusals (trigger_id, window_start, count) VALUES (?1, ?2, 1)
     ON CONFLICT (trigger_id) DO UPDATE SET
       count = CASE WHEN window_start <= ?2 - ?3 THEN 1 ELSE count + 1 END,
       window_start = CASE WHEN window_start <= ?2 - ?3 THEN ?2 ELSE window_start END
     RETURNING window_start, count`,
  )
    .bind(trigger.triggerId, now, WEBHOOK_REFUSAL_WINDOW_MS)
    .first<{ window_start: number; count: number }>();
  if (!row || row.count !== WEBHOOK_REFUSAL_THRESHOLD) return;
  const minutes = WEBHOOK_REFUSAL_WINDOW_MS / 60_000;
  await raiseNotification(
    env,
    {
      organizationId: trigger.organizationId,
      type: "WEBHOOK_SIGNATURES_REFUSED",
      title: `Webhook trigger ${trigger.name} is refusing signatures`,
      message:
        `Webhook trigger ${trigger.name} (${trigger.triggerId}) refused ${WEBHOOK_REFUSAL_THRESHOLD} deliveries within ${minutes} minutes ` +
        `because their signatures did not verify (last: ${reason}). A sender may be using an old secret, or someone is forging deliveries.`,
      resourceId: trigger.triggerId,
      dedupeKey: `webhook-signatures:${trigger.triggerId}:${row.window_start}`,
    },
    now,
  );
}
