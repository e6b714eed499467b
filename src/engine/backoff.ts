/** Retry backoff: `retryPolicy` of DEFINITIONS.md, exponential with a cap. */
import type { StepDefinition } from "../definition/schema";

export const DEFAULT_RETRY_POLICY = { initialIntervalSeconds: 1, backoffCoefficient: 2, maxIntervalSeconds: 300 };

/** Milliseconds to wait after failed try number `tryNumber` (1-based) before the next one. */
export function backoffMs(step: Pick<StepDefinition, "retryPolicy">, tryNumber: number): number {
  const p = { ...DEFAULT_RETRY_POLICY, ...step.retryPolicy };
  const seconds = Math.min(p.initialIntervalSeconds * p.backoffCoefficient ** (tryNumber - 1), p.maxIntervalSeconds);
  return Math.round(seconds * 1000);
}
