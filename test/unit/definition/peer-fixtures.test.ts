/**
 * JustWorkflowIt's own definition fixtures (test/fixtures/peer, see its NOTICE): every definition
 * the peer's test suite accepts is accepted here, and every one it refuses is refused. The peer's
 * tests register test executors ("simpleIntegration", "noopIntegration", ...); they are registered
 * here the same way, through the checker's `executors` option, with the config schema the peer's
 * test gives them (only configDefinition.test.ts gives one).
 */
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { checkDefinition, type CheckOptions } from "../../../src/definition/check";

const dir = new URL("../../fixtures/peer/", import.meta.url);
const files = (sub: string) => readdirSync(new URL(`${sub}/`, dir)).filter((f) => f.endsWith(".json")).sort();
const read = (sub: string, file: string): unknown => JSON.parse(readFileSync(new URL(`${sub}/${file}`, dir), "utf8"));

const lookup = { workflowExists: async () => true };

/** The peer's test executors: without a configDefinition, a step's config is not checked. */
const anyConfig = z.unknown();
const testExecutors = [
  "simpleIntegration",
  "noopIntegration",
  "bdIntegration",
  "GetBusinessByIdExecutor",
  "WebScrapeBusinessInformationExecutor",
  "TranslateAddressToGeoCodesExecutor",
  "SaveBusinessInformationExecutor",
  "ScrapeEventListInformationExecutor",
  "ReconcileAndSaveEventsExecutor",
];
const plain: CheckOptions = { executors: Object.fromEntries(testExecutors.map((t) => [t, anyConfig])) };
/** configDefinition.test.ts: simpleIntegration's configDefinition requires {env, token} and nothing else. */
const withConfigDefinition: CheckOptions = {
  executors: { ...plain.executors, simpleIntegration: z.strictObject({ env: z.string(), token: z.string() }) },
};
/** For each refused fixture, the problem the peer names (its expectedErrors.ts), in our words. */
const refusedFor: Record<string, string> = {
  "config-missingConfigProperty.json": 'step "invalidStep": config.token: is required',
  "typeAnalysis-empty.json": "steps: is required",
  "typeAnalysis-inconsistentDataTypes.json": 'writes string to "inputB", but the input schema (#/definitions/secondStepInput) declares it as number',
  "typeAnalysis-invalidInputTransformer.json": 'reads "firstStepOutput.nonExistentProperty", but the output schema of step "firstStep"',
  "typeAnalysis-invalidLogicReferenceToNonExistentStep.json": 'transition names unknown step "doesntExist"',
  "typeAnalysis-invalidPropertyReferenceWorkflowInput.json": 'reads "workflowInput.missingProperty", but workflowInput (#/definitions/workflowInput) does not declare',
  "typeAnalysis-invalidStepReference.json": 'transition names unknown step "nonExistentStep"',
  "typeAnalysis-invalidWorkflowInputReferenceBasedOnPathLogic.json": 'reads "stepTwoOutput.someProperty", but step "stepTwo" never runs before "stepThree"',
  "typeAnalysis-missingDefinitions.json": 'inputDefinition $ref "#/definitions/nonExistentInput" has no definition',
  "typeAnalysis-missingRequiredProperty.json": 'reads "firstStepOutput.nonExistentProperty"',
  "typeAnalysis-missingWorkflowInput.json": 'inputDefinition $ref "#/definitions/workflowInput" has no definition',
  "typeAnalysis-orLogicInvalidStep.json": 'transition names unknown step "invalidStep"',
  "workflow-indeterminatePropertyUsage.json": 'indeterminate property usage: inputTransformer.fieldset[0].from reads "firstStepOutput.optionalFlag"',
  "workflow-invalidLogicResolution.json": 'step "stepOne": transitionToStep: must be a step name, null or {"if"',
  "workflow-invalidStepTypes.json": 'unknown executor type "NonExistentSimpleIntegration"',
};

const optionsFor = (file: string) => (file.startsWith("config-") ? withConfigDefinition : plain);

describe("JustWorkflowIt's definition fixtures", () => {
  it("has every fixture in place (16 accepted, 15 refused)", () => {
    expect(files("accepted")).toHaveLength(16);
    expect(files("refused")).toHaveLength(15);
  });

  it.each(files("accepted"))("accepts %s, as the peer does", async (file) => {
    const result = await checkDefinition(read("accepted", file), lookup, optionsFor(file));
    expect(result.errors).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it.each(files("refused"))("refuses %s, as the peer does", async (file) => {
    const result = await checkDefinition(read("refused", file), lookup, optionsFor(file));
    expect(result.valid).toBe(false);
    expect(result.errors.join("\n")).toContain(refusedFor[file]);
  });

  it("lists every problem of a fixture with a malformed transition (invalidLogicResolution)", async () => {
    const result = await checkDefinition(read("refused", "workflow-invalidLogicResolution.json"), lookup, plain);
    expect(result.errors).toEqual([
      'step "stepOne": transitionToStep: must be a step name, null or {"if": [condition, step, ..., else]}',
      'step "stepOne": inputDefinition $ref "#/definitions/workflowInput" has no definition',
    ]);
  });

  it("without the peer's test executors, their type is what is refused", async () => {
    const result = await checkDefinition(read("accepted", "workflow-minimal.json"), lookup);
    expect(result.errors).toEqual([expect.stringContaining('step "minimalStep": unknown executor type "simpleIntegration"')]);
  });
});
