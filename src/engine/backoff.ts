/** Retry backoff (`retryPolicy` of DEFINITIONS.md, exponential with a cap) and the interval between polls. */
import type { StepDefinition } from "../definition/schema";
import { DEFAULT_POLL_INTERVAL_SECONDS, MAX_STEP_RETRIES } from "../limits";

export const DEFAULT_RETRY_POLICY = { initialIntervalSeconds: 1, backoffCoefficient: 2, maxIntervalSeconds: 300 };

/**
 * The retries a step's execution may take: its `retries`, held to MAX_STEP_RETRIES (a version
 * registered before retries were bounded runs held to the bound). One source for the engine's
 * decision and for what history and GetJob say (`attemptsAllowed` is this plus one).
 */
export function retriesAllowed(step: Pick<StepDefinition, "retries"> | undefined): number {
  return Math.min(step?.retries ?? 0, MAX_STEP_RETRIES);
}

/** Milliseconds to wait after failed try number `tryNumber` (1-based) before the next one. */
export function backoffMs(step: Pick<StepDefinition, "retryPolicy">, tryNumber: number): number {
  const p = { ...DEFAULT_RETRY_POLICY, ...step.retryPolicy };
  const seconds = Math.min(p.initialIntervalSeconds * p.backoffCoefficient ** (tryNumber - 1), p.maxIntervalSeconds);
  return Math.round(seconds * 1000);
}

/** Milliseconds until a `successful_but_incomplete` step runs again: the step's `pollIntervalSeconds`, else its config's, else 5 s. */
export function pollIntervalMs(step: Pick<StepDefinition, "pollIntervalSeconds" | "integrationDetails">): number {
  const fromConfig = step.integrationDetails.config?.pollIntervalSeconds;
  const seconds = step.pollIntervalSeconds ?? (typeof fromConfig === "number" ? fromConfig : DEFAULT_POLL_INTERVAL_SECONDS);
  return Math.round(seconds * 1000);
}
