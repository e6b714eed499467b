import { describe, expect, it } from "vitest";
import { jsonByteLength, utf8Length } from "../../src/json-size";

describe("utf8Length", () => {
  it.each([
    ["", 0],
    ["abc", 3],
    ["é", 2],
    ["€", 3],
    ["😀", 4],
    // A lone surrogate is encoded as U+FFFD.
    ["\ud83d", 3],
    ["\ude00x", 4],
    ["a😀é€", 10],
  ])("%j is %i bytes", (text, bytes) => {
    expect(utf8Length(text)).toBe(bytes);
    expect(utf8Length(text)).toBe(new TextEncoder().encode(text).byteLength);
  });
});

describe("jsonByteLength", () => {
  it.each([
    [undefined, 0],
    [null, 4],
    [{ a: "é" }, 10],
    // A number's JSON can be longer than the text it was parsed from.
    [JSON.parse("[1e20]"), 23],
  ])("%j is %i bytes as JSON", (value, bytes) => {
    expect(jsonByteLength(value)).toBe(bytes);
  });
});
