import { describe, expect, it } from "vitest";
import { jsonNestsDeeperThan } from "../../src/json-depth";

describe("jsonNestsDeeperThan", () => {
  it.each([
    ["1", 0, false],
    ["[]", 0, true],
    ["[]", 1, false],
    ['{"a":[{"b":[]}]}', 3, true],
    ['{"a":[{"b":[]}]}', 4, false],
    // Brackets inside strings, escaped quotes and backslashes are not nesting.
    ['["[[[[", "\\"[[[", "\\\\", "{{{"]', 1, false],
    ['["\\\\"]', 1, false],
    ["[".repeat(101) + "]".repeat(101), 100, true],
    ["[".repeat(100) + "]".repeat(100), 100, false],
    // Malformed text is measured too: the parser refuses it afterwards.
    ["[[[", 2, true],
  ])("%s deeper than %i: %s", (text, max, expected) => {
    expect(jsonNestsDeeperThan(text, max)).toBe(expected);
  });
});
