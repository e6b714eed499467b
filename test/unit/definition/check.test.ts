/**
 * checkDefinition over a table of definitions. Invalid ones assert the fragments every message
 * must contain. Cases marked JWI are the JustWorkflowIt engine's own type-analysis cases
 * (test/typeAnalysis/typeAnalysisWorkflowTestCases, test/workflowTestCases), with its
 * "simpleIntegration" executor replaced by noop.
 */
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { MAX_DURATION_SECONDS } from "../../../src/limits";
import { describe, expect, it } from "vitest";
import { checkDefinition, type WorkflowLookup } from "../../../src/definition/check";

const lookup: WorkflowLookup = {
  workflowExists: async (ref) => ref.workflowName === "order-item" || ref.workflowName === "item" || ref.workflowId === "wf-123",
};

const example = (name: string) => readFileSync(new URL(`../../../examples/${name}.json`, import.meta.url), "utf8");

const ref = (name: string) => ({ $ref: `#/definitions/${name}` });
type StepOpts = { type?: string; config?: unknown; input?: string; output?: string; transformer?: unknown; next?: unknown };
const step = (name: string, o: StepOpts = {}) => ({
  name,
  integrationDetails: {
    type: o.type ?? "/justworkflowit/noop",
    ...(o.config === undefined ? {} : { config: o.config }),
    inputDefinition: ref(o.input ?? "workflowInput"),
    outputDefinition: ref(o.output ?? "workflowInput"),
    ...(o.transformer === undefined ? {} : { inputTransformer: { fieldset: o.transformer } }),
  },
  transitionToStep: o.next ?? null,
});
const obj = (properties: Record<string, unknown>, required: string[] = Object.keys(properties)) => ({ type: "object", properties, required });
const wf = (steps: unknown[], definitions: Record<string, unknown>) => ({ workflowName: "wf", steps, definitions: { workflowInput: obj({}), ...definitions } });

const jwiDefs = {
  workflowInput: { type: "object", properties: { existingProperty: { type: "string" } }, required: ["existingProperty"], additionalProperties: false },
  firstStepOutput: { type: "object", properties: { outputA: { type: "string" }, optionalFlag: { type: "boolean" } }, required: ["outputA"], additionalProperties: false },
  stepOneOutput: obj({ someProperty: { type: "string" }, someNumber: { type: "number" } }),
  stepTwoOutput: obj({ anotherProperty: { type: "string" } }),
  secondStepInput: obj({ inputB: { type: "string" } }),
  numberInput: obj({ inputB: { type: "number" } }),
  flagInput: obj({ optionalFlag: { type: "boolean" } }),
};
const twoSteps = (transformer: unknown[], input = "secondStepInput") => ({
  workflowName: "jwi",
  steps: [step("firstStep", { output: "firstStepOutput", next: "secondStep" }), step("secondStep", { input, output: "stepTwoOutput", transformer })],
  definitions: jwiDefs,
});

const allExecutors = {
  workflowName: "all-executors",
  steps: [
    step("wait", { type: "/justworkflowit/waitForEventIds", config: { eventIds: ["go"], timeoutSeconds: 60 }, next: "call" }),
    step("call", { type: "/canopy/http", config: { url: "https://api.example.com/x", method: "POST", headers: { authorization: { secret: "API_KEY" }, "x-id": "1" }, timeoutMs: 5000 }, next: "lambda" }),
    step("lambda", { type: "/justworkflowit/aws/lambda", config: { region: "eu-west-1", accountId: "123456789012", functionName: "f", qualifier: "live" }, next: "gcp" }),
    step("gcp", { type: "/justworkflowit/gcp/cloudfunction", config: { region: "europe-west1", projectId: "p", functionName: "f", timeoutMs: 1000 }, next: "sum" }),
    step("sum", { type: "/canopy/transform", config: { output: { total: { "+": [{ var: "workflowInput.a" }, 1] } } }, output: "total", next: "pause" }),
    step("pause", { type: "/canopy/delay", config: { until: "2030-01-01T00:00:00Z" }, input: "total", output: "total", next: "roll" }),
    step("roll", { type: "/canopy/continueAsNew", config: { nextStep: "wait", version: "same" }, input: "total", output: "total" }),
  ],
  definitions: { workflowInput: { type: "object" }, total: obj({ total: { type: "number" } }) },
};

type Case = [name: string, definition: unknown, expected: "valid" | string[]];

const cases: Case[] = [
  ["example countdown", example("countdown"), "valid"],
  ["example order-batch (child order-item known)", example("order-batch"), "valid"],
  ["example order-item", example("order-item"), "valid"],
  ["DEFINITIONS.md etl example (open schemas say nothing)", {
    workflowName: "etl",
    steps: [
      { name: "fetch", retries: 2, timeoutSeconds: 30, integrationDetails: { type: "/justworkflowit/noop", inputDefinition: ref("workflowInput"), outputDefinition: ref("workflowInput") }, transitionToStep: { if: [{ ">": [{ var: "fetchOutput.count" }, 0] }, "fanOut", null] } },
      { name: "fanOut", integrationDetails: { type: "/justworkflowit/runChildJob", config: { children: [{ workflowName: "item", workflowVersion: { tag: "$LIVE" }, forEach: { arrayPath: "fetch.output.items" } }] }, inputDefinition: ref("workflowInput"), outputDefinition: ref("childResult") }, transitionToStep: null },
    ],
    definitions: { workflowInput: { type: "object" }, childResult: { type: "object" } },
  }, "valid"],
  ["every executor type with a valid config, as a JSON string", JSON.stringify(allExecutors), "valid"],
  ["JWI deepNestedIf (nested ifs, and/or conditions)", {
    workflowName: "deepNestedIf",
    steps: [
      step("stepOne", { output: "stepOneOutput", next: { if: [{ and: [{ "!==": [{ var: "stepOneResult.someProperty" }, "x"] }, { "<": [{ var: "stepOneResult.someNumber" }, 10] }] }, "stepTwo", { if: [{ or: [{ "==": [{ var: "a" }, "s"] }, { ">": [{ var: "b" }, 100] }] }, "stepThree", "stepFour"] }] } }),
      step("stepTwo", { input: "stepOneOutput", output: "stepTwoOutput" }),
      step("stepThree", { input: "stepTwoOutput", output: "stepTwoOutput" }),
      step("stepFour", { input: "stepTwoOutput", output: "stepTwoOutput" }),
    ],
    definitions: jwiDefs,
  }, "valid"],
  ["transformer reading required fields through every path form", {
    workflowName: "flow",
    steps: [
      step("fetch", { output: "fetched", next: "tick" }),
      step("tick", {
        input: "tickIn", output: "fetched", next: { if: [{ var: "tickOutput.more" }, "tick", null] },
        transformer: [
          { from: "fetchOutput.count", to: "count" },
          { from: "previousStep.output.count", to: "again" },
          { withTemplate: "${workflowInput.name} has ${fetch.output.count}", to: "label" },
          { fromEach: { field: "fetchOutput.rows", to: "ids", fieldset: [{ from: "id" }] } },
          { fromArray: ["workflowInput.name", "fetchOutput.note"], to: "names", skipEmpty: true },
        ],
      }),
    ],
    definitions: {
      workflowInput: obj({ name: { type: "string" } }),
      fetched: { type: "object", properties: { count: { type: "integer" }, more: { type: "boolean" }, note: { type: "string" }, rows: { type: "array", items: obj({ id: { type: "string" } }) } }, required: ["count", "more", "rows"] },
      tickIn: obj({ count: { type: "number" }, again: { type: "integer" }, label: { type: "string" }, ids: { type: "array" }, names: { type: "array" } }),
    },
  }, "valid"],
  ["2020-12 schemas with $ref siblings", {
    workflowName: "modern",
    steps: [step("a", { output: "out", next: "b" }), step("b", { input: "bIn", output: "out", transformer: [{ from: "aOutput.id", to: "id" }] })],
    definitions: {
      workflowInput: { $schema: "https://json-schema.org/draft/2020-12/schema", type: "object" },
      base: obj({ id: { type: "string" } }),
      out: { $schema: "https://json-schema.org/draft/2020-12/schema", $ref: "#/definitions/base", unevaluatedProperties: false },
      bIn: { $defs: {}, type: "object", properties: { id: { type: "string" } }, required: ["id"] },
    },
  }, "valid"],

  ["not JSON", "{ nope", ["the definition is not valid JSON"]],
  ["not an object", "[]", ["the definition must be a JSON object"]],
  ["zod: every shape problem, named after its step", {
    workflowName: 3,
    steps: [{ name: "s1", retries: -1, integrationDetails: { type: "/justworkflowit/noop", inputDefinition: {}, outputDefinition: ref("x"), inputTransformer: { fieldset: [{ from: 4 }] } }, transitionToStep: 5 }],
  }, ["workflowName: Invalid input: expected string", 'step "s1": retries: Too small', 'step "s1": integrationDetails.inputDefinition.$ref: is required', 'step "s1": integrationDetails.inputTransformer.fieldset[0].from', 'step "s1": transitionToStep: must be a step name, null or {"if"', "definitions: is required"]],
  ["no steps", { workflowName: "empty", steps: [], definitions: { workflowInput: {} } }, ["steps: the definition has no steps"]],
  ["duplicate step names", wf([step("a", { next: "b" }), step("b"), step("a")], {}), ['step name "a" is used by more than one step (steps[0], steps[2])']],
  ["transition names a missing step", wf([step("a", { next: "nope" })], {}), ['step "a": transition names unknown step "nope"']],
  ["JWI orLogicInvalidStep", {
    workflowName: "orLogicInvalidStep",
    steps: [step("stepOne", { output: "stepOneOutput", next: { if: [{ or: [{ "==": [{ var: "x" }, "specialValue"] }, { "<": [{ var: "y" }, 50] }] }, "stepTwo", "invalidStep"] } }), step("stepTwo", { input: "stepOneOutput", output: "stepTwoOutput" })],
    definitions: jwiDefs,
  }, ['step "stepOne": transition names unknown step "invalidStep"']],
  ["JWI invalidLogicReferenceToNonExistentStep (nested if)", wf([step("a", { next: { if: [{ var: "x" }, "b", { if: [{ var: "y" }, "doesntExist", { if: [true, null, "alsoMissing"] }] }] } }), step("b")], {}), ['transition names unknown step "doesntExist"', 'transition names unknown step "alsoMissing"']],
  ["JWI invalidLogicResolution", wf([{ ...step("stepOne"), transitionToStep: { logic: { all: ["stepTwo"] } } }], {}), ['step "stepOne": transitionToStep: must be a step name, null or {"if"']],
  ["transition may yield something that is not a step", wf([step("a", { next: { if: [true, 5, { "==": [1, 1] }] } })], {}), ['step "a": transition may yield 5', 'transition may yield {"==":[1,1]}']],
  ["unknown JSON Logic operations", wf([step("a", { next: { if: [{ regex: ["a"] }, "b", null] } }), step("b", { type: "/canopy/transform", config: { output: { x: { jq: "." } } } })], {}), ['step "a": transitionToStep uses unknown JSON Logic operation "regex"', 'step "b": config.output.x uses unknown JSON Logic operation "jq"']],
  ["JWI missingDefinitions", wf([step("a", { input: "nonExistentInput", output: "nonExistentOutput" })], {}), ['step "a": inputDefinition $ref "#/definitions/nonExistentInput" has no definition', 'outputDefinition $ref "#/definitions/nonExistentOutput" has no definition']],
  ["JWI missingWorkflowInput (a $ref to it)", { workflowName: "w", steps: [step("first", { output: "in" })], definitions: { in: obj({}) } }, ['step "first": inputDefinition $ref "#/definitions/workflowInput" has no definition']],
  ["no workflowInput, and nothing reads it (JWI minimal)", { workflowName: "w", steps: [step("first", { input: "in", output: "in", next: "second" }), step("second", { input: "in", output: "in", transformer: [{ from: "firstOutput", to: "x" }] })], definitions: { in: { type: "object" } } }, "valid"],
  ["no workflowInput, read by a transformer, a transition and a transform", { workflowName: "w", steps: [
    step("first", { input: "in", output: "in", transformer: [{ from: "workflowInput.id", to: "id" }, { withTemplate: "${workflowInput.name}", to: "name" }], next: { if: [{ var: "workflowInput.go" }, "second", null] } }),
    step("second", { input: "in", output: "in", type: "/canopy/transform", config: { output: { all: { var: "workflowInput" } } } }),
  ], definitions: { in: { type: "object" } } }, [
    'step "first": inputTransformer.fieldset[0].from reads "workflowInput.id", but definitions.workflowInput is missing',
    'step "first": inputTransformer.fieldset[1].withTemplate reads "workflowInput.name", but definitions.workflowInput is missing',
    'step "first": transitionToStep reads "workflowInput.go", but definitions.workflowInput is missing',
    'step "second": config.output.all reads "workflowInput", but definitions.workflowInput is missing',
  ]],
  ["a malformed transition does not hide the other problems", wf([
    { ...step("a", { transformer: [{ from: "workflowInput.nope", to: "x" }] }), transitionToStep: { or: ["b", "c"] } },
    step("b", { type: "/canopy/delay", config: { seconds: -1 }, next: "ghost" }),
    step("c", { input: "missing", transformer: [{ from: "aOutput.x", to: "y" }, { from: "cOutput.z", to: "z" }] }),
  ], {}), [
    'step "a": transitionToStep: must be a step name, null or {"if"',
    'step "b": config.seconds: Too small',
    'step "b": transition names unknown step "ghost"',
    'step "c": inputDefinition $ref "#/definitions/missing" has no definition',
  ]],
  ["a definition that cannot be used", wf([step("a")], { broken: { type: "objet", properties: { x: { $ref: "#/definitions/zz" } } } }), ['definition "broken": unknown type "objet"', 'definition "broken" at /properties/x: $ref "#/definitions/zz" has no definition']],
  ["JWI invalidStepTypes", wf([step("a", { type: "NonExistentSimpleIntegration" })], {}), ['step "a": unknown executor type "NonExistentSimpleIntegration"']],
  ["executor configs that fail their schema", wf([
    step("w", { type: "/justworkflowit/waitForEventIds", config: { eventIds: [] }, next: "c" }),
    step("c", { type: "/justworkflowit/runChildJob", config: { children: [{ workflowName: "item", workflowId: "wf-123", workflowVersion: { tag: "LIVE" } }], maxConcurrency: 0 }, next: "h" }),
    step("h", { type: "/canopy/http", config: { url: "ftp://x", verb: "GET" }, next: "d" }),
    step("d", { type: "/canopy/delay", config: { until: "tomorrow" }, next: "n" }),
    step("n", { config: { anything: 1 } }),
  ], {}), ['step "w": config.eventIds: Too small', 'step "c": config.children[0].workflowVersion', 'step "c": config.maxConcurrency: Too small', 'step "h": config.url', 'step "h": config: Unrecognized key: "verb"', 'step "d": config.until: Invalid ISO datetime', 'step "n": config: Unrecognized key: "anything"']],
  ["continueAsNew nextStep names a missing step", wf([step("a", { type: "/canopy/continueAsNew", config: { nextStep: "ghost" } })], {}), ['step "a": config.nextStep names unknown step "ghost"']],
  ["runChildJob child workflows that do not exist", wf([step("fan", { type: "/justworkflowit/runChildJob", config: { children: [{ id: "a", workflowName: "ghost", workflowVersion: { tag: "$LIVE" } }, { id: "b", workflowId: "wf-999", workflowVersion: { versionNumber: 2 } }, { id: "c", workflowId: "wf-123", workflowVersion: { versionId: "v1" } }] } })], {}), ['step "fan": config.children[0] names workflow "ghost", which does not exist', 'step "fan": config.children[1] names workflow id "wf-999", which does not exist']],
  ["unsupported transformer verbs", wf([step("a", { transformer: [{ from: "workflowInput", to: "x", via: { type: "commands", transform: [{ command: "constructor" }] } }, { fromEach: { field: "workflowInput", fields: ["a"] } }] })], {}), ['step "a": inputTransformer.fieldset[0].via.transform[0].command "constructor" is not a supported command; the commands are toString, toUpperCase', 'step "a": inputTransformer.fieldset[1].fromEach: unsupported key "fields"']],
  ["via commands write what their last command returns", wf([step("a", { next: "b" }), step("b", { input: "bIn", transformer: [{ from: "workflowInput.tags", to: "list", via: { type: "commands", transform: [{ command: "split", params: [","] }] } }, { from: "workflowInput.tags", to: "n", via: { type: "commands", transform: [{ command: "trim" }] } }] })], {
    workflowInput: obj({ tags: { type: "string" } }),
    bIn: obj({ list: { type: "array", items: { type: "string" } }, n: { type: "integer" } }),
  }), ['inputTransformer.fieldset[1] writes string to "n", but the input schema (#/definitions/bIn) declares it as integer']],
  ["via date formatting writes a string", wf([step("a", { next: "b" }), step("b", { input: "bIn", transformer: [{ from: "workflowInput.when", to: "day", via: { type: "date", sourceFormat: "yyyy-MM-dd", format: "dd/MM/yyyy" } }, { from: "workflowInput.when", to: "n", via: { type: "date", sourceFormat: "yyyy-MM-dd", format: "yyyy" } }] })], {
    workflowInput: obj({ when: { type: "string" } }),
    bIn: obj({ day: { type: "string" }, n: { type: "integer" } }),
  }), ['inputTransformer.fieldset[1] writes string to "n", but the input schema (#/definitions/bIn) declares it as integer']],
  ["JWI invalidInputTransformer / missingRequiredProperty", twoSteps([{ from: "firstStepOutput.nonExistentProperty", to: "inputB" }]), ['step "secondStep": inputTransformer.fieldset[0].from reads "firstStepOutput.nonExistentProperty", but the output schema of step "firstStep" (#/definitions/firstStepOutput) does not declare "nonExistentProperty"']],
  ["JWI indeterminatePropertyUsage", twoSteps([{ from: "firstStepOutput.optionalFlag", to: "optionalFlag" }], "flagInput"), ['step "secondStep": indeterminate property usage: inputTransformer.fieldset[0].from reads "firstStepOutput.optionalFlag", which the output schema of step "firstStep" (#/definitions/firstStepOutput) declares but does not require']],
  ["JWI invalidPropertyReferenceWorkflowInput (alias form too)", twoSteps([{ from: "workflowInput.missingProperty", to: "inputB" }, { withTemplate: "${firstStep.output.nope}", to: "x" }]), ['reads "workflowInput.missingProperty", but workflowInput (#/definitions/workflowInput) does not declare "missingProperty"', 'inputTransformer.fieldset[1].withTemplate reads "firstStep.output.nope", but the output schema of step "firstStep" (#/definitions/firstStepOutput) does not declare "nope"']],
  ["JWI inconsistentDataTypes (a string copied into a number)", twoSteps([{ from: "firstStepOutput.outputA", to: "inputB" }], "numberInput"), ['step "secondStep": inputTransformer.fieldset[0] writes string to "inputB", but the input schema (#/definitions/numberInput) declares it as number']],
  ["a template (a string) written to an integer, an array to a string", wf([step("a", { next: "b" }), step("b", { input: "bIn", transformer: [{ withTemplate: "${workflowInput.n}", to: "count" }, { fromArray: ["workflowInput.n"], to: "label" }, { from: "workflowInput.n", to: "meta.x" }] })], {
    workflowInput: obj({ n: { type: "integer" } }),
    bIn: obj({ count: { type: "integer" }, label: { type: "string" }, meta: { type: "string" } }),
  }), ['inputTransformer.fieldset[0] writes string to "count", but the input schema (#/definitions/bIn) declares it as integer', 'fieldset[1] writes array to "label"', 'fieldset[2] writes object to "meta"']],
  ["JWI invalidWorkflowInputReferenceBasedOnPathLogic", {
    workflowName: "pathLogic",
    steps: [
      step("stepOne", { output: "stepOneOutput", next: { if: [{ "!==": [{ var: "stepOneOutput.someProperty" }, "go to step 3"] }, "stepThree", "stepTwo"] } }),
      step("stepTwo", { input: "stepOneOutput", output: "stepTwoOutput" }),
      step("stepThree", { input: "stepTwoOutput", output: "stepTwoOutput", transformer: [{ from: "stepTwoOutput.someProperty", to: "anotherProperty" }] }),
    ],
    definitions: jwiDefs,
  }, ['step "stepThree": inputTransformer.fieldset[0].from reads "stepTwoOutput.someProperty", but step "stepTwo" never runs before "stepThree"']],
  ["previousStep reads judged against every possible previous step", {
    workflowName: "prev",
    steps: [
      step("a", { output: "withN", next: { if: [{ var: "aOutput.n" }, "b", "c"] } }),
      step("b", { output: "withoutN", next: "c" }),
      step("c", { input: "cIn", output: "withN", transformer: [{ from: "previousStep.output.n", to: "n" }] }),
    ],
    definitions: { workflowInput: obj({}), withN: obj({ n: { type: "integer" } }), withoutN: obj({ m: { type: "integer" } }), cIn: obj({ n: { type: "integer" } }) },
  }, ['step "c": inputTransformer.fieldset[0].from reads "previousStep.output.n", but the output schema of step "b" (#/definitions/withoutN) does not declare "n"']],
  ["previousStep in the first step", wf([step("a", { transformer: [{ from: "previousStep.output.x", to: "x" }] })], {}), ['step "a": inputTransformer.fieldset[0].from reads "previousStep.output.x", but no step runs before "a" when it runs first']],
  ["a path outside the execution data", wf([step("a", { next: "b" }), step("b", { transformer: [{ from: "ghostOutput.x", to: "x" }, { from: "aOutputs.x", to: "y" }] })], {}), ['reads "ghostOutput.x", which is not in the execution data', 'reads "aOutputs.x", which is not in the execution data']],
  ["a fromEach element field the items schema does not declare", wf([step("a", { output: "list", next: "b" }), step("b", { transformer: [{ fromEach: { field: "aOutput.rows", to: "out", fieldset: [{ from: "sku" }, { from: "price" }] } }] })], {
    list: obj({ rows: { type: "array", items: { type: "object", properties: { sku: { type: "string" }, price: { type: "number" } }, required: ["sku"] } } }),
  }), ['inputTransformer.fieldset[0].fromEach.fieldset[1].from reads "price", which the items schema of "aOutput.rows" declares but does not require']],
  ["a transformer that never writes a required input property", wf([step("a", { next: "b" }), step("b", { input: "needsTwo", transformer: [{ from: "workflowInput.x", to: "x" }] })], {
    workflowInput: obj({ x: { type: "string" } }),
    needsTwo: obj({ x: { type: "string" }, y: { type: "string" } }),
  }), ['step "b": inputTransformer never writes "y", which the input schema (#/definitions/needsTwo) requires']],
  ["forEach arrayPath: undeclared, optional, not an array", wf([
    step("load", { output: "loaded", next: "fan" }),
    step("fan", { type: "/justworkflowit/runChildJob", config: { children: [
      { id: "1", workflowName: "item", workflowVersion: { tag: "$LIVE" }, forEach: { arrayPath: "load.output.nope" } },
      { id: "2", workflowName: "item", workflowVersion: { tag: "$LIVE" }, forEach: { arrayPath: "loadOutput.maybe" } },
      { id: "3", workflowName: "item", workflowVersion: { tag: "$LIVE" }, forEach: { arrayPath: "loadOutput.name" } },
    ] } }),
  ], { loaded: { type: "object", properties: { maybe: { type: "array" }, name: { type: "string" } }, required: ["name"] } }), [
    'step "fan": config.children[0].forEach.arrayPath reads "load.output.nope", but the output schema of step "load" (#/definitions/loaded) does not declare "nope"',
    'step "fan": indeterminate property usage: config.children[1].forEach.arrayPath reads "loadOutput.maybe"',
    'step "fan": config.children[2].forEach.arrayPath "loadOutput.name" is not an array',
  ]],
  ["secretBindings and pollIntervalSeconds that are valid", wf([
    { ...step("l", { type: "/justworkflowit/aws/lambda", config: { region: "eu-west-1", accountId: "123456789012", functionName: "f", pollIntervalSeconds: 60 }, next: "h" }), pollIntervalSeconds: 10 },
    step("h", { type: "/canopy/http", config: { url: "https://api.example.com/x", headers: { authorization: { secret: "token" } }, pollIntervalSeconds: 1 } }),
  ].map((s, i) => (i === 0 ? { ...s, integrationDetails: { ...s.integrationDetails, secretBindings: { AWS_ACCESS_KEY_ID: "BILLING_KEY_ID", AWS_SESSION_TOKEN: "ROLE.session-1" } } } : { ...s, integrationDetails: { ...s.integrationDetails, secretBindings: { token: "PROD_API_TOKEN" } } })), {}), "valid"],
  ["secretBindings a step's executor cannot use, poll intervals out of range", wf([
    { ...step("n", { next: "g" }), pollIntervalSeconds: 0.5, integrationDetails: { ...step("n").integrationDetails, secretBindings: { API_KEY: "K" } } },
    { ...step("g", { type: "/justworkflowit/gcp/cloudfunction", config: { region: "r", projectId: "p", functionName: "f", pollIntervalSeconds: 100_000 } }), integrationDetails: { ...step("g", { type: "/justworkflowit/gcp/cloudfunction", config: { region: "r", projectId: "p", functionName: "f" } }).integrationDetails, secretBindings: { GCP_SERVICE_ACCOUNT_KEY: "9bad", other: 3 } } },
  ], {}), [
    'step "n": pollIntervalSeconds: Too small',
    'step "n": integrationDetails.secretBindings.API_KEY: executor "/justworkflowit/noop" has no secret slot "API_KEY" (it reads no secrets)',
    'step "g": integrationDetails.secretBindings.other: Invalid input: expected string',
  ]],
  ["secretBindings: a bound key that is not a secret key, a slot the executor lacks", wf([
    { ...step("g", { type: "/justworkflowit/gcp/cloudfunction", config: { region: "r", projectId: "p", functionName: "f", pollIntervalSeconds: 100_000 } }) },
    { ...step("g2", { type: "/justworkflowit/gcp/cloudfunction", config: { region: "r", projectId: "p", functionName: "f" } }) },
  ].map((s, i) => (i === 0 ? s : { ...s, integrationDetails: { ...s.integrationDetails, secretBindings: { GCP_SERVICE_ACCOUNT_KEY: "9bad", AWS_ACCESS_KEY_ID: "X" } } })), {}), [
    'step "g": config.pollIntervalSeconds: Too big',
    'step "g2": integrationDetails.secretBindings.GCP_SERVICE_ACCOUNT_KEY: "9bad" is not an organization secret key',
    'step "g2": integrationDetails.secretBindings.AWS_ACCESS_KEY_ID: executor "/justworkflowit/gcp/cloudfunction" has no secret slot "AWS_ACCESS_KEY_ID" (it reads "GCP_SERVICE_ACCOUNT_KEY")',
  ]],
  // Found by the e2e fuzzer: a null child crashed the data-flow check (a 500 from ValidateWorkflowVersion).
  ["a runChildJob child that is null", wf([step("fan", { type: "/justworkflowit/runChildJob", config: { children: [null, { workflowName: "item", workflowVersion: { tag: "$LIVE" } }] } })], {}), [
    'step "fan": config.children[0]: Invalid input: expected object, received null',
  ]],
];

describe("checkDefinition", () => {
  it("has a table of at least 25 definitions", () => {
    expect(cases.length).toBeGreaterThanOrEqual(25);
  });

  it.each(cases)("%s", async (_name, definition, expected) => {
    const result = await checkDefinition(definition, lookup);
    if (expected === "valid") {
      expect(result.errors).toEqual([]);
      expect(result.valid).toBe(true);
      return;
    }
    expect(result.valid).toBe(false);
    for (const fragment of expected) expect(result.errors.join("\n")).toContain(fragment);
    // Each expected fragment is its own message: nothing was folded away.
    expect(result.errors.length).toBeGreaterThanOrEqual(expected.length);
  });

  it("reports every problem of a definition at once", async () => {
    const definition = {
      workflowName: "many",
      steps: [
        step("a", { next: "b", transformer: [{ from: "workflowInput.x", to: "x", map: 1 }] }),
        step("b", { type: "/nope", next: { if: [true, "c", "ghost"] } }),
        step("c", { input: "missing", type: "/canopy/delay", config: { seconds: -1 }, next: "a" }),
        step("b"),
        step("d", { type: "/justworkflowit/runChildJob", config: { children: [{ workflowName: "ghostflow", workflowVersion: { tag: "$LIVE" } }] } }),
      ],
      definitions: { bad: { type: "nope" } },
    };
    const result = await checkDefinition(definition, lookup);
    expect(result.valid).toBe(false);
    const fragments = [
      'step name "b" is used by more than one step',
      'step "a": inputTransformer.fieldset[0]: unsupported key "map"',
      'step "b": unknown executor type "/nope"',
      'step "b": transition names unknown step "ghost"',
      'step "c": inputDefinition $ref "#/definitions/missing" has no definition',
      'step "c": config.seconds: Too small',
      'step "a": inputDefinition $ref "#/definitions/workflowInput" has no definition',
      'definition "bad": unknown type "nope"',
      'step "d": config.children[0] names workflow "ghostflow", which does not exist',
    ];
    for (const f of fragments) expect(result.errors.join("\n")).toContain(f);
    expect(result.errors.length).toBeGreaterThanOrEqual(fragments.length);
  });

  it("checks the other steps of a definition with a malformed step, and only reports what is certain", async () => {
    const definition = wf([
      { ...step("a", { output: "out", transformer: [{ from: "workflowInput.nope", to: "x" }] }), transitionToStep: { or: ["c", "d"] } },
      step("c", { transformer: [{ from: "aOutput.x", to: "y" }, { from: "ghostOutput.q", to: "q" }, { from: "dOutput.n", to: "n" }] }),
      step("d", { output: "out", next: "c" }),
    ], { out: obj({ n: { type: "integer" } }) });
    const result = await checkDefinition(definition, lookup);
    expect(result.errors).toEqual([
      'step "a": transitionToStep: must be a step name, null or {"if": [condition, step, ..., else]}',
      'step "a": inputTransformer.fieldset[0].from reads "workflowInput.nope", but workflowInput (#/definitions/workflowInput) does not declare "nope"',
      'step "c": inputTransformer.fieldset[0].from reads "aOutput.x", but the output schema of step "a" (#/definitions/out) does not declare "x"',
      'step "c": inputTransformer.fieldset[1].from reads "ghostOutput.q", which is not in the execution data (paths start with workflowInput, <step>Output, <step>Input, <step>.output or previousStep.output)',
    ]);
  });

  it("answers, never throws, for definitions whose steps are partly malformed", async () => {
    const field = fc.oneof(fc.constant(undefined), fc.jsonValue(), fc.constantFrom("a", "b", "ghost", null, { if: [true, "a", null] }, { or: ["b"] }, -1, 0.5));
    const rawStep = fc.record(
      {
        name: fc.oneof(fc.constantFrom("a", "b", "c"), fc.jsonValue()),
        retries: field,
        pollIntervalSeconds: field,
        transitionToStep: field,
        integrationDetails: fc.oneof(
          fc.jsonValue(),
          fc.record({ type: fc.constantFrom("/justworkflowit/noop", "/canopy/http", "/nope"), inputDefinition: fc.constantFrom({ $ref: "#/definitions/workflowInput" }, {}), outputDefinition: fc.constant({ $ref: "#/definitions/x" }), secretBindings: field, inputTransformer: field, config: field }, { requiredKeys: ["type"] }),
        ),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(rawStep, fc.jsonValue()), { maxLength: 4 }), fc.oneof(fc.jsonValue(), fc.constant({ x: { type: "object" } })), async (steps, definitions) => {
        const result = await checkDefinition({ workflowName: "fuzz", steps, definitions }, lookup);
        expect(Array.isArray(result.errors)).toBe(true);
        if (!result.valid) expect(result.errors.length).toBeGreaterThan(0);
      }),
      { numRuns: 300 },
    );
  });

  it("returns the parsed definition, with defaults, when valid", async () => {
    const result = await checkDefinition({ ...wf([{ ...step("a"), transitionToStep: undefined, retryPolicy: {} }], {}), extra: true }, lookup);
    expect(result.valid).toBe(true);
    if (!result.valid) return;
    expect(result.definition.steps[0]?.transitionToStep).toBeNull();
    expect(result.definition.steps[0]?.retryPolicy).toEqual({ initialIntervalSeconds: 1, backoffCoefficient: 2, maxIntervalSeconds: 300 });
  });

  it(`takes a step's timeoutSeconds and retry intervals up to ${MAX_DURATION_SECONDS} seconds (365 days), and names the field past it`, async () => {
    const at = { timeoutSeconds: MAX_DURATION_SECONDS, retryPolicy: { initialIntervalSeconds: MAX_DURATION_SECONDS, maxIntervalSeconds: MAX_DURATION_SECONDS } };
    expect((await checkDefinition(wf([{ ...step("a"), ...at }], {}), lookup)).valid).toBe(true);
    for (const past of [
      { timeoutSeconds: MAX_DURATION_SECONDS + 1 },
      { retryPolicy: { initialIntervalSeconds: MAX_DURATION_SECONDS + 1 } },
      { retryPolicy: { maxIntervalSeconds: 1e308 } },
    ]) {
      const result = await checkDefinition(wf([{ ...step("a"), ...past }], {}), lookup);
      expect(result.valid, JSON.stringify(past)).toBe(false);
      expect(result.errors.join("\n")).toMatch(/at most 31536000 seconds \(365 days\)/);
    }
  });

  it("keeps unknown fields of steps and integrationDetails", async () => {
    const s = step("a");
    const result = await checkDefinition(wf([{ ...s, description: "kept", integrationDetails: { ...s.integrationDetails, owner: "team" } }], {}), lookup);
    expect(result.valid).toBe(true);
    if (result.valid) expect(result.definition.steps[0]).toMatchObject({ description: "kept", integrationDetails: { owner: "team" } });
  });

  it("asks the lookup once per distinct child workflow", async () => {
    const asked: unknown[] = [];
    const counting: WorkflowLookup = { workflowExists: async (r) => (asked.push(r), true) };
    const child = { workflowName: "item", workflowVersion: { tag: "$LIVE" } };
    await checkDefinition(wf([step("a", { type: "/justworkflowit/runChildJob", config: { children: [{ ...child, id: "1" }, { ...child, id: "2" }] } })], {}), counting);
    expect(asked).toEqual([{ workflowName: "item" }]);
  });
});
