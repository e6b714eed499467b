/** `/canopy/transform`: each value of `config.output` is a JSON Logic expression over the execution data. */
import { evaluateLogic } from "../definition/json-logic";
import type { TransformConfig } from "../definition/executor-configs";
import { TooLargeToRead } from "../engine/payload";
import type { Executor } from "./types";

export const transformExecutor: Executor<TransformConfig> = {
  type: "/canopy/transform",
  start: ({ config, state, data }) => {
    const output: Record<string, unknown> = {};
    try {
      for (const [key, rule] of Object.entries(config.output)) {
        output[key] = evaluateLogic(rule, data, { previousStepName: state.previousStepName });
      }
    } catch (e) {
      // Reading a value over the payload limit is that, not a mistake in the rules.
      if (e instanceof TooLargeToRead) return { kind: "fail", error: e.error, retryable: false };
      return { kind: "fail", error: { code: "TransformError", message: String((e as Error).message ?? e) }, retryable: false };
    }
    return { kind: "complete", output };
  },
};
