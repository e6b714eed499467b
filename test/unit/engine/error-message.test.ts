import { describe, expect, it } from "vitest";
import { boundedError, boundedText, problemsMessage } from "../../../src/engine/error-message";
import { MAX_ERROR_MESSAGE_CHARS } from "../../../src/limits";

describe("error messages are bounded where they are made", () => {
  it("lists every problem when they fit, exactly at the bound", () => {
    const prefix = "Bad: ";
    const problem = "x".repeat(MAX_ERROR_MESSAGE_CHARS - prefix.length);
    expect(problemsMessage(prefix, [problem])).toBe(prefix + problem);
    expect(problemsMessage(prefix, [problem]).length).toBe(MAX_ERROR_MESSAGE_CHARS);
  });

  it("lists problems up to the bound and says how many more there were", () => {
    const problems = Array.from({ length: 12_000 }, (_, i) => `/list/${i}: Instance type "number" is invalid. Expected "string".`);
    const message = problemsMessage("Step output violates its schema: ", problems);
    expect(message.length).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_CHARS);
    const listed = message.split("; ").length - 1;
    expect(message).toMatch(new RegExp(`; … and ${12_000 - listed} more problems\\.$`));
    expect(message.startsWith("Step output violates its schema: /list/0: ")).toBe(true);
  });

  it("cuts a single problem longer than the bound", () => {
    const message = problemsMessage("P: ", ["y".repeat(100_000), "second"]);
    expect(message.length).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_CHARS);
    expect(message).toMatch(/more characters\) … and 1 more problems\.$/);
  });

  it("cuts any text at the bound without splitting a surrogate pair", () => {
    expect(boundedText("a".repeat(MAX_ERROR_MESSAGE_CHARS))).toHaveLength(MAX_ERROR_MESSAGE_CHARS);
    const cut = boundedText("😀".repeat(MAX_ERROR_MESSAGE_CHARS));
    expect(cut.length).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_CHARS);
    expect(cut).toMatch(/^(😀)+… \(\d+ more characters\)$/u);
    const error = { code: "X", message: "m".repeat(MAX_ERROR_MESSAGE_CHARS + 1), stepName: "s" };
    expect(boundedError(error)).toMatchObject({ code: "X", stepName: "s" });
    expect(boundedError(error).message.length).toBeLessThanOrEqual(MAX_ERROR_MESSAGE_CHARS);
    const small = { code: "X", message: "fine" };
    expect(boundedError(small)).toBe(small);
  });
});
