/** `/canopy/continueAsNew`: ends this run and continues the same job in a fresh Durable Object. */
import type { ContinueAsNewConfig } from "../definition/executor-configs";
import type { Executor } from "./types";

export const continueAsNewExecutor: Executor<ContinueAsNewConfig> = {
  type: "/canopy/continueAsNew",
  start: ({ config }) => ({
    kind: "continueAsNew",
    ...(config?.nextStep !== undefined ? { nextStep: config.nextStep } : {}),
    version: config?.version ?? "same",
  }),
};
