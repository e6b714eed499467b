/**
 * json-xform's `via` value formatting (`{type: "date", sourceFormat, format}`), as JustWorkflowIt's
 * transformer (@nkorai/json-xform with date-fns) applies it. The first cases are that library's own
 * via tests (test/mapping.dataFormat, mapping.valueBased, mapping.fromArray, schema tests), with the
 * same inputs and outputs; the pattern tables check the date-fns pattern language on known values.
 */
import { describe, expect, it } from "vitest";
import { applyTransformer, checkTransformerSyntax, describeTransformer, TransformError, type InputTransformer } from "../../../src/definition/transformer";
import { formatDate, parseDate, patternProblems } from "../../../src/definition/date-format";

const NOW = Date.parse("2026-11-30T06:00:00.000Z");
const run = (fieldset: unknown[], source: Record<string, unknown>, now = NOW) => applyTransformer({ fieldset } as InputTransformer, source, {}, now);
const date = (format: string, sourceFormat: string) => ({ type: "date", format, sourceFormat });

describe("via: json-xform's own cases", () => {
  it.each([
    ["reformats with the given format (mm is minutes, as in date-fns)", [{ from: "dateField", to: "anotherDatefield", via: date("dd/mm/yyyy", "yyyy-dd-mm") }], { dateField: "1981-10-03" }, { anotherDatefield: "10/03/1981" }],
    ["reformats a date with a time (p is the localized short time)", [{ from: "dateField", to: "anotherDatefield", via: date("dd/MM/yyyy p", "yyyy-dd-MM HH:mm:ss") }], { dateField: "1981-10-03 17:25:00" }, { anotherDatefield: "10/03/1981 5:25 PM" }],
    ["formats every date a template references", [{ to: "template", withTemplate: "It was on the ${theDate} not ${theOtherDate}", via: date("dd/MM/yyyy", "yyyy-dd-MM") }], { theDate: "1981-10-03", theOtherDate: "1982-12-12" }, { template: "It was on the 10/03/1981 not 12/12/1982" }],
    ["formats a date read through a chained path", [{ from: "property.dateField", to: "anotherDatefield", via: date("dd/MM/yyyy p", "yyyy-dd-MM HH:mm:ss") }], { property: { dateField: "1981-10-03 17:25:00" } }, { anotherDatefield: "10/03/1981 5:25 PM" }],
    ["formats into a nested target", [{ from: "dateField", to: "property.anotherDatefield", via: date("dd/mm/yyyy", "yyyy-dd-mm") }], { dateField: "1981-10-03" }, { property: { anotherDatefield: "10/03/1981" } }],
    ["formats the value of valueToKey", [{ from: "key", valueToKey: true, withValueFrom: "value", via: date("dd/mm/yyyy", "yyyy-dd-mm") }], { key: "When", value: "1981-10-03" }, { When: "10/03/1981" }],
    ["formats each fromArray element", [{ fromArray: ["a", "b"], to: "dates", via: date("MM/dd/yyyy", "yyyy-MM-dd") }], { a: "2026-06-17", b: "2026-12-31" }, { dates: ["06/17/2026", "12/31/2026"] }],
    ["formats toArray values before wrapping them", [{ from: "d", to: "list", toArray: true, via: date("yyyy", "yyyy-MM-dd") }], { d: "2026-06-17" }, { list: ["2026"] }],
    ["formats inside a fromEach fieldset", [{ fromEach: { field: "rows", to: "out", fieldset: [{ from: "at", to: "day", via: date("EEE d MMM", "yyyy-MM-dd") }] } }], { rows: [{ at: "2026-06-17" }, { at: "2026-06-18" }] }, { out: [{ day: "Wed 17 Jun" }, { day: "Thu 18 Jun" }] }],
    ["skips a missing value before formatting it (from)", [{ from: "nope", to: "x", via: date("yyyy", "yyyy-MM-dd") }], {}, {}],
    ["does not format a write that a plain key already holds", [{ from: "a", to: "k" }, { from: "b", to: "k", via: date("yyyy", "yyyy-MM-dd") }], { a: "first", b: "not a date" }, { k: "first" }],
  ])("%s", (_name, fieldset, source, expected) => {
    expect(run(fieldset, source)).toEqual(expected);
  });

  it.each([
    ["a wrongly formatted date", "1981-10", "yyyy-dd-mm"],
    ["a date with a source format it does not match", "1981-10", "yyyy-dd-sdadsad"],
    ["an impossible date", "2026-02-29", "yyyy-MM-dd"],
    ["a missing template value", undefined, "yyyy-MM-dd"],
  ])("fails on %s, as json-xform throws Invalid time value", (_name, value, sourceFormat) => {
    const fieldset = value === undefined ? [{ withTemplate: "on ${d}", to: "x", via: date("dd/mm/yyyy", sourceFormat) }] : [{ from: "d", to: "x", via: date("dd/mm/yyyy", sourceFormat) }];
    expect(() => run(fieldset, value === undefined ? {} : { d: value })).toThrow(TransformError);
    expect(() => run(fieldset, value === undefined ? {} : { d: value })).toThrow(/Invalid time value/);
  });

  it("fails a fromArray with a missing element, even with skipEmpty: via formats first, as json-xform does", () => {
    expect(() => run([{ fromArray: ["a", "b"], to: "l", skipEmpty: true, via: date("yyyy", "yyyy-MM-dd") }], { a: "2026-01-01" })).toThrow(/Invalid time value/);
  });

  it.each([
    ["a via with the date type and both patterns", { from: "f", to: "t", via: date("dd/mm/yyyy", "yyyy-mm-dd") }, []],
    ["an unknown type", { from: "f", to: "t", via: { type: "lala", format: "##.###" } }, ['inputTransformer.fieldset[0].via.type must be "date" or "commands"']],
    ["a missing type", { from: "f", to: "t", via: { format: "##.###" } }, ['inputTransformer.fieldset[0].via.type must be "date" or "commands"']],
    ["a missing format", { from: "f", to: "t", via: { type: "date", sourceFormat: "yyyy" } }, ["inputTransformer.fieldset[0].via.format is required"]],
    ["the commands type without its transform list", { from: "f", via: { type: "commands", format: "x" } }, ['via: unsupported key "format" for type "commands"', "via.transform must be a non-empty list"]],
    ["letters that are not date tokens", { from: "f", to: "t", via: date("yyyy-MM-dd ZZ", "yyyy-dd-sdadsad") }, ['via.format "yyyy-MM-dd ZZ": "ZZ" is not supported in format', 'via.sourceFormat "yyyy-dd-sdadsad": "d" and "d" both read the day', '"s" and "s" both read the second']],
    ["week-numbering years and day of year", { from: "f", to: "t", via: date("YYYY", "DD") }, ['"YYYY" is a week-numbering year', '"DD" is a week-numbering year or day of year']],
    ["not an object", { from: "f", via: "date" }, ["inputTransformer.fieldset[0].via must be an object"]],
  ])("registration: %s", (_name, entry, fragments) => {
    const problems = checkTransformerSyntax({ fieldset: [entry] });
    if (fragments.length === 0) expect(problems).toEqual([]);
    for (const f of fragments) expect(problems.join("\n")).toContain(f);
  });

  it("describes a formatted from as a string write", () => {
    const { writes } = describeTransformer({ fieldset: [{ from: "a.when", to: "day", via: { type: "date", sourceFormat: "yyyy-MM-dd", format: "d" } }] });
    expect(writes.map((w) => [w.target, w.type])).toEqual([[["day"], "string"]]);
  });
});

describe("date patterns (date-fns tokens, en-US, UTC)", () => {
  const at = new Date("2026-06-17T17:05:09.123Z");
  it.each([
    ["yyyy-MM-dd'T'HH:mm:ss.SSSxxx", "2026-06-17T17:05:09.123+00:00"],
    ["yyyy-MM-dd'T'HH:mm:ssX", "2026-06-17T17:05:09Z"],
    ["EEEE, MMMM do, yyyy", "Wednesday, June 17th, 2026"],
    ["EEE, d MMM yy", "Wed, 17 Jun 26"],
    ["PPPP", "Wednesday, June 17th, 2026"],
    ["PPpp", "Jun 17, 2026, 5:05:09 PM"],
    ["PPPp", "June 17th, 2026 at 5:05 PM"],
    ["P", "06/17/2026"],
    ["h:mm aaa", "5:05 pm"],
    ["hh 'o''clock' a", "05 o'clock PM"],
    ["H K k", "17 5 17"],
    ["Qo QQQ QQQQ", "2nd Q2 2nd quarter"],
    ["LLLL MMMMM", "June J"],
    ["t T", "1781715909 1781715909123"],
    ["S SS", "1 12"],
    ["G GGGG", "AD Anno Domini"],
  ])("format %s", (pattern, expected) => {
    expect(patternProblems(pattern, "format")).toEqual([]);
    expect(formatDate(at, pattern)).toBe(expected);
  });

  const ref = new Date("2026-11-30T06:00:00.000Z");
  it.each([
    ["2026-06-17T19:05:09+02:00", "yyyy-MM-dd'T'HH:mm:ssXXX", "2026-06-17T17:05:09.000Z"],
    ["2026-06-17T17:05:09.5Z", "yyyy-MM-dd'T'HH:mm:ss.SX", "2026-06-17T17:05:09.500Z"],
    ["Jun 17, 2026", "MMM d, yyyy", "2026-06-17T00:00:00.000Z"],
    ["june 17th 2026", "MMMM do yyyy", "2026-06-17T00:00:00.000Z"],
    ["05:05 PM", "hh:mm a", "2026-11-30T17:05:00.000Z"],
    ["12:30 am", "h:mm a", "2026-11-30T00:30:00.000Z"],
    ["17/06/26", "dd/MM/yy", "2026-06-17T00:00:00.000Z"],
    ["17/06/80", "dd/MM/yy", "1980-06-17T00:00:00.000Z"],
    ["1781715909123", "T", "2026-06-17T17:05:09.123Z"],
    ["2024-02-29", "yyyy-MM-dd", "2024-02-29T00:00:00.000Z"],
    ["2026", "yyyy", "2026-01-01T00:00:00.000Z"],
    ["2026-06-17  ", "yyyy-MM-dd", "2026-06-17T00:00:00.000Z"],
  ])("parse %s as %s (fields it lacks from the reference date)", (text, pattern, iso) => {
    expect(patternProblems(pattern, "parse")).toEqual([]);
    expect(parseDate(text, pattern, ref).toISOString()).toBe(iso);
  });

  it.each([
    ["2026-13-01", "yyyy-MM-dd"],
    ["2026-06-31", "yyyy-MM-dd"],
    ["2026-06-17x", "yyyy-MM-dd"],
    ["13:00 PM", "hh:mm a"],
    ["24:00", "HH:mm"],
  ])("refuses %s as %s", (text, pattern) => {
    expect(Number.isNaN(parseDate(text, pattern, ref).getTime())).toBe(true);
  });

  it("computes the same value for the same decision time: the reference is the decision's, not the clock", () => {
    const fieldset = [{ from: "t", to: "at", via: date("yyyy-MM-dd HH:mm", "HH:mm") }];
    expect(run(fieldset, { t: "09:15" }, Date.parse("2026-01-02T23:00:00Z"))).toEqual({ at: "2026-01-02 09:15" });
    expect(run(fieldset, { t: "09:15" }, Date.parse("2030-05-06T01:00:00Z"))).toEqual({ at: "2030-05-06 09:15" });
  });
});
