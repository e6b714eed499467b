/**
 * One call must end within the alarm invocation that sends it (15 minutes on Cloudflare), so a
 * call's time limit is bounded at registration: an executor's `timeoutMs`, and the `timeoutSeconds`
 * of a step that calls out without polling. A polling step's `timeoutSeconds` bounds the whole
 * polling and is not capped. Every refusal points to polling.
 */
import { describe, expect, it } from "vitest";
import { checkDefinition } from "../../../src/definition/check";
import { MAX_CALL_TIMEOUT_MS } from "../../../src/limits";

const lookup = { workflowExists: async () => true };
const MAX_S = MAX_CALL_TIMEOUT_MS / 1000;

function callStep(type: string, config: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    workflowName: "calls",
    steps: [
      {
        name: "call",
        ...extra,
        integrationDetails: { type, config, inputDefinition: { $ref: "#/definitions/any" }, outputDefinition: { $ref: "#/definitions/any" } },
        transitionToStep: null,
      },
    ],
    definitions: { any: {} },
  };
}
const http = (config: Record<string, unknown> = {}, extra?: Record<string, unknown>) => callStep("/canopy/http", { url: "https://api.example.com/x", ...config }, extra);
const lambda = (config: Record<string, unknown> = {}) => callStep("/justworkflowit/aws/lambda", { region: "us-east-1", accountId: "123456789012", functionName: "f", ...config });
const gcp = (config: Record<string, unknown> = {}) => callStep("/justworkflowit/gcp/cloudfunction", { region: "r", projectId: "p", functionName: "f", ...config });

describe("a call's time limit at registration", () => {
  it.each([
    ["http timeoutMs at the bound", http({ timeoutMs: MAX_CALL_TIMEOUT_MS }), true],
    ["http timeoutMs one past it", http({ timeoutMs: MAX_CALL_TIMEOUT_MS + 1 }), false],
    ["lambda timeoutMs one past it", lambda({ timeoutMs: MAX_CALL_TIMEOUT_MS + 1 }), false],
    ["gcp timeoutMs one past it", gcp({ timeoutMs: MAX_CALL_TIMEOUT_MS + 1 }), false],
    ["a calling step's timeoutSeconds at the bound", http({}, { timeoutSeconds: MAX_S }), true],
    ["a calling step's timeoutSeconds past it", http({}, { timeoutSeconds: MAX_S + 0.5 }), false],
    ["a polling step's timeoutSeconds of a day (step pollIntervalSeconds)", http({}, { timeoutSeconds: 86_400, pollIntervalSeconds: 60 }), true],
    ["a polling step's timeoutSeconds of a day (config pollIntervalSeconds)", http({ pollIntervalSeconds: 60 }, { timeoutSeconds: 86_400 }), true],
    ["a polling step's timeoutMs past the bound", http({ pollIntervalSeconds: 60, timeoutMs: MAX_CALL_TIMEOUT_MS + 1 }, { timeoutSeconds: 86_400 }), false],
    ["a step that does not call out keeps any timeoutSeconds", callStep("/justworkflowit/noop", {}, { timeoutSeconds: 86_400 }), true],
  ])("%s", async (_name, definition, ok) => {
    const result = await checkDefinition(definition, lookup);
    expect(result.valid, JSON.stringify(result.errors)).toBe(ok);
    if (!ok) {
      const message = result.errors.join("\n");
      expect(message).toMatch(/timeout(Ms|Seconds): is at most/);
      expect(message).toContain("successful_but_incomplete");
      expect(message).toContain("pollIntervalSeconds");
    }
  });
});
