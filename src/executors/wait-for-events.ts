/** `/justworkflowit/waitForEventIds`: suspends until every listed event has arrived. */
import type { WaitForEventIdsConfig } from "../definition/executor-configs";
import type { Executor } from "./types";

export const waitForEventsExecutor: Executor<WaitForEventIdsConfig> = {
  type: "/justworkflowit/waitForEventIds",
  start: ({ config, at }) => ({
    kind: "suspend",
    wait: { type: "events", eventIds: config.eventIds },
    ...(config.timeoutSeconds !== undefined ? { deadline: at + config.timeoutSeconds * 1000 } : {}),
  }),
};
