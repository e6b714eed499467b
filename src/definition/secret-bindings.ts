/**
 * `integrationDetails.secretBindings` (JustWorkflowIt's field): `{slot: organizationSecretKey}`.
 * A slot is a secret the step's executor reads (the AWS keys of a Lambda step, the service-account
 * key of a Cloud Function step, the `{secret}` headers of an HTTP step); the binding makes the
 * call read that slot from the named organization secret instead of the secret named like the
 * slot. So two steps can call two AWS accounts, each with its own keys. Bindings change which
 * secret is read, never where it may go: the bound secret's own `allowedHosts` still apply.
 */
import { AWS_SECRET_KEYS } from "../executors/aws-lambda";
import { GCP_SECRET_KEY } from "../executors/gcp-cloud-function";
import { SECRET_KEY_PATTERN } from "../limits";
import type { StepDefinition } from "./schema";

/** The secret slots a step's executor reads; empty for executors that read none. */
export function secretSlots(step: StepDefinition): string[] {
  const details = step.integrationDetails;
  switch (details.type) {
    case "/justworkflowit/aws/lambda":
      return Object.values(AWS_SECRET_KEYS);
    case "/justworkflowit/gcp/cloudfunction":
      return [GCP_SECRET_KEY];
    case "/canopy/http": {
      const headers = (details.config?.headers ?? {}) as Record<string, unknown>;
      return [...new Set(Object.values(headers).flatMap((v) => (v !== null && typeof v === "object" && typeof (v as { secret?: unknown }).secret === "string" ? [(v as { secret: string }).secret] : [])))];
    }
    default:
      return [];
  }
}

/** Problems of a step's secretBindings: a slot its executor never reads, a value that is not a secret key. */
export function checkSecretBindings(step: StepDefinition): string[] {
  const bindings = step.integrationDetails.secretBindings;
  if (bindings === undefined) return [];
  const at = `step "${step.name}": integrationDetails.secretBindings`;
  const slots = secretSlots(step);
  const errors: string[] = [];
  for (const [slot, key] of Object.entries(bindings)) {
    if (!slots.includes(slot)) {
      const known = slots.length > 0 ? `it reads ${slots.map((s) => `"${s}"`).join(", ")}` : "it reads no secrets";
      errors.push(`${at}.${slot}: executor "${step.integrationDetails.type}" has no secret slot "${slot}" (${known})`);
    }
    if (!SECRET_KEY_PATTERN.test(key)) errors.push(`${at}.${slot}: "${key}" is not an organization secret key (a letter or _ then up to 127 letters, digits, _, . or -)`);
  }
  return errors;
}
