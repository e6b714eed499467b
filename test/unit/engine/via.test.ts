/** A step's inputTransformer with `via` date formatting, run by the pure engine. */
import { describe, expect, it } from "vitest";
import { EngineRun, T0, definition, step } from "./harness";

describe("inputTransformer via", () => {
  it("formats dates into the step's input, taking missing fields from the decision's time", () => {
    const def = definition([
      step("book", "/justworkflowit/noop", {
        inputTransformer: {
          fieldset: [
            { from: "workflowInput.day", to: "day", via: { type: "date", sourceFormat: "yyyy-MM-dd", format: "EEEE, MMMM do" } },
            { from: "workflowInput.time", to: "at", via: { type: "date", sourceFormat: "HH:mm", format: "yyyy-MM-dd'T'HH:mmX" } },
          ],
        },
      }),
    ]);
    const run = new EngineRun(def, { day: "2026-06-17", time: "09:30" });
    run.start(T0);
    expect(run.state.status).toBe("SUCCEEDED");
    expect(run.output).toEqual({ day: "Wednesday, June 17th", at: "2026-11-21T09:30Z" });
  });

  it("fails the step, without retry, when a value is not a date in the sourceFormat", () => {
    const def = definition([
      step("book", "/justworkflowit/noop", { retries: 3, inputTransformer: { fieldset: [{ from: "workflowInput.day", to: "day", via: { type: "date", sourceFormat: "yyyy-MM-dd", format: "d" } }] } }),
    ]);
    const run = new EngineRun(def, { day: "17 June" });
    run.start(T0);
    expect(run.state.status).toBe("FAILED");
    expect(run.state.error).toMatchObject({ code: "TransformerError", stepName: "book" });
    expect(run.state.error?.message).toContain('Invalid time value: "17 June" does not match the sourceFormat "yyyy-MM-dd"');
    expect(run.history).toHaveLength(1);
  });
});
