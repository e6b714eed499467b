/** `/canopy/delay`: a durable sleep on the job's alarm; the input passes through. */
import type { DelayConfig } from "../definition/executor-configs";
import type { Executor } from "./types";

export const delayExecutor: Executor<DelayConfig> = {
  type: "/canopy/delay",
  start: ({ config, at }) => {
    const until = "seconds" in config ? at + config.seconds * 1000 : Date.parse(config.until);
    return { kind: "suspend", wait: { type: "timer", at: until } };
  },
};
