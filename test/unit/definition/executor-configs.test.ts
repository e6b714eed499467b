import { describe, expect, it } from "vitest";
import { MAX_DURATION_SECONDS } from "../../../src/limits";
import { EXECUTOR_CONFIG_SCHEMAS, EXECUTOR_TYPES, isExecutorType, type ExecutorType } from "../../../src/definition/executor-configs";

type Case = [type: ExecutorType, config: unknown, ok: boolean];

const child = { workflowName: "item", workflowVersion: { tag: "$LIVE" } };

const cases: Case[] = [
  ["/justworkflowit/noop", undefined, true],
  ["/justworkflowit/noop", {}, true],
  ["/justworkflowit/noop", { x: 1 }, false],
  ["/justworkflowit/waitForEventIds", { eventIds: ["a", "b"], timeoutSeconds: 10 }, true],
  ["/justworkflowit/waitForEventIds", { eventIds: [] }, false],
  ["/justworkflowit/waitForEventIds", { eventIds: [""] }, false],
  ["/justworkflowit/runChildJob", { children: [child], maxConcurrency: 2, toleratedFailureCount: 0, toleratedFailurePercentage: 50 }, true],
  ["/justworkflowit/runChildJob", { children: [{ workflowId: "w", workflowVersion: { versionNumber: 3 }, forEach: { arrayPath: "a.b" } }] }, true],
  ["/justworkflowit/runChildJob", { children: [{ workflowId: "w", workflowVersion: { versionId: "v" } }], unknownButKept: 1 }, true],
  ["/justworkflowit/runChildJob", { children: [] }, false],
  ["/justworkflowit/runChildJob", { children: [{ workflowVersion: { tag: "$LIVE" } }] }, false],
  ["/justworkflowit/runChildJob", { children: [{ ...child, workflowId: "w" }] }, false],
  ["/justworkflowit/runChildJob", { children: [{ ...child, workflowVersion: { tag: "$LIVE", versionNumber: 1 } }] }, false],
  ["/justworkflowit/runChildJob", { children: [{ ...child, workflowVersion: { tag: "live" } }] }, false],
  ["/justworkflowit/runChildJob", { children: [{ ...child, id: "x" }, { ...child, id: "x" }] }, false],
  ["/justworkflowit/runChildJob", { children: [child], toleratedFailurePercentage: 101 }, false],
  ["/justworkflowit/runChildJob", { children: [child], maxConcurrency: 1.5 }, false],
  ["/justworkflowit/aws/lambda", { region: "us-east-1", accountId: "123456789012", functionName: "f", timeoutMs: 1000, endpoint: "http://localhost:9000" }, true],
  ["/justworkflowit/aws/lambda", { region: "us-east-1", accountId: "1234", functionName: "f" }, false],
  ["/justworkflowit/gcp/cloudfunction", { region: "r", projectId: "p", functionName: "f", tokenEndpoint: "https://oauth2.googleapis.com/token" }, true],
  ["/justworkflowit/gcp/cloudfunction", { region: "r", functionName: "f" }, false],
  ["/canopy/http", { url: "https://x.example/y", method: "PUT", headers: { a: "b", auth: { secret: "S" } } }, true],
  ["/canopy/http", { url: "https://x.example/y", headers: { auth: { secret: "" } } }, false],
  ["/canopy/http", { url: "https://x.example/y", method: "TRACE" }, false],
  ["/canopy/transform", { output: { a: { var: "x" }, b: 1 } }, true],
  ["/canopy/transform", {}, false],
  ["/canopy/delay", { seconds: 30 }, true],
  ["/canopy/delay", { until: "2030-01-01T10:00:00+02:00" }, true],
  ["/canopy/delay", { seconds: 1, until: "2030-01-01T10:00:00Z" }, false],
  ["/canopy/delay", { until: "2030-01-01" }, false],
  // At most MAX_DURATION_SECONDS (365 days): 1e308 seconds was taken and left its job unreadable.
  ["/canopy/delay", { seconds: MAX_DURATION_SECONDS }, true],
  ["/canopy/delay", { seconds: MAX_DURATION_SECONDS + 1 }, false],
  ["/canopy/delay", { seconds: 1e308 }, false],
  ["/justworkflowit/waitForEventIds", { eventIds: ["a"], timeoutSeconds: MAX_DURATION_SECONDS }, true],
  ["/justworkflowit/waitForEventIds", { eventIds: ["a"], timeoutSeconds: MAX_DURATION_SECONDS + 1 }, false],
  ["/canopy/continueAsNew", undefined, true],
  ["/canopy/continueAsNew", { nextStep: "a", version: { tag: "$NEXT" } }, true],
  ["/canopy/continueAsNew", { version: "latest" }, false],
];

describe("EXECUTOR_CONFIG_SCHEMAS", () => {
  it("has a schema for every executor type", () => {
    expect(Object.keys(EXECUTOR_CONFIG_SCHEMAS).sort()).toEqual([...EXECUTOR_TYPES].sort());
    expect(isExecutorType("/canopy/http")).toBe(true);
    expect(isExecutorType("/canopy/nope")).toBe(false);
  });

  it.each(cases)("%s %j → %s", (type, config, ok) => {
    expect(EXECUTOR_CONFIG_SCHEMAS[type].safeParse(config).success).toBe(ok);
  });
});
