/** Every executor by its type string. */
import { awsLambdaExecutor } from "./aws-lambda";
import { continueAsNewExecutor } from "./continue-as-new";
import { delayExecutor } from "./delay";
import { gcpCloudFunctionExecutor } from "./gcp-cloud-function";
import { httpExecutor } from "./http";
import { noopExecutor } from "./noop";
import { runChildJobExecutor } from "./run-child-job";
import { transformExecutor } from "./transform";
import type { Executor } from "./types";
import { waitForEventsExecutor } from "./wait-for-events";

const executors = new Map<string, Executor<any>>(); // any: each executor narrows its own config type

for (const e of [noopExecutor, transformExecutor, waitForEventsExecutor, delayExecutor, runChildJobExecutor, continueAsNewExecutor, httpExecutor, awsLambdaExecutor, gcpCloudFunctionExecutor]) {
  executors.set(e.type, e);
}

/** The executor for a type, or undefined when Canopy has none (registration refuses those). */
export function executorFor(type: string): Executor<unknown> | undefined {
  return executors.get(type);
}
