/** `/justworkflowit/noop`: the output is the input. */
import type { Executor } from "./types";

export const noopExecutor: Executor = {
  type: "/justworkflowit/noop",
  start: () => ({ kind: "passThrough" }),
};
