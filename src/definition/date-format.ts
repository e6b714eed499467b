/**
 * Date patterns for json-xform's `via: {type: "date", sourceFormat, format}`. JustWorkflowIt's
 * transformer parses a value with date-fns `parse(value, sourceFormat, referenceDate)` and writes
 * `format(date, format)`; this is Canopy's own implementation of the same pattern language (Unicode
 * date field symbols as date-fns reads them, en-US names), for the tokens listed below. Dates are
 * computed in UTC, as a Worker's clock is, and the reference date (what fills fields a pattern does
 * not parse) is the time of the decision, not the wall clock, so a replayed decision computes the
 * same value. A pattern using any other letter is refused when the definition is registered.
 */

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/** The tokens `format` can write. */
const FORMAT_LETTERS = new Set("GyQqMLdEahHKkmsSXxOztTPp");
/** The tokens `sourceFormat` can read (names of weekdays and eras only say what the date already says). */
const PARSE_LETTERS = new Set("yMLdahHKkmsSXxTtPp");
/** date-fns throws on these (week-numbering years, day of year) unless told otherwise: so does registration. */
const PROTECTED = new Set(["Y", "YY", "YYYY", "D", "DD"]);

/** A value could not be parsed or formatted (json-xform throws: "Invalid time value"). */
export class DateFormatError extends Error {
  override readonly name = "DateFormatError";
}

// date-fns's tokenizer: an ordinal (`do`), a run of one letter, an escaped quote, quoted text, or one character.
const TOKENS = /[yYQqMLwIdDecihHKkms]o|(\w)\1*|''|'(''|[^'])+('|$)|./g;
const LONG_TOKENS = /P+p+|P+|p+|''|'(''|[^'])+('|$)|./g;

const DATE_FORMATS = ["MM/dd/yyyy", "MMM d, y", "MMMM do, y", "EEEE, MMMM do, y"];
const TIME_FORMATS = ["h:mm a", "h:mm:ss a", "h:mm:ss a z", "h:mm:ss a zzzz"];

/** Expands the localized tokens `P` (date), `p` (time) and `Pp` (both) into en-US patterns. */
function expandLong(pattern: string): string {
  return (pattern.match(LONG_TOKENS) ?? [])
    .map((t) => {
      const dates = /^P+/.exec(t)?.[0].length ?? 0;
      const times = /p+$/.exec(t)?.[0].length ?? 0;
      if (t[0] !== "P" && t[0] !== "p") return t;
      if (dates > 4 || times > 4) return t; // left as is: refused as an unknown token
      const date = dates > 0 ? DATE_FORMATS[dates - 1]! : "";
      const time = times > 0 ? TIME_FORMATS[times - 1]! : "";
      if (date && time) return dates >= 3 ? `${date} 'at' ${time}` : `${date}, ${time}`;
      return date || time;
    })
    .join("");
}

function tokenize(pattern: string): string[] {
  return expandLong(pattern).match(TOKENS) ?? [];
}

const isLetter = (c: string) => /[a-zA-Z]/.test(c);

/** The text of a literal token: quoted text unquoted, `''` as `'`. */
function literal(token: string): string {
  if (token === "''") return "'";
  if (token[0] !== "'") return token;
  const inner = token.endsWith("'") && token.length > 1 ? token.slice(1, -1) : token.slice(1);
  return inner.replace(/''/g, "'");
}

/** Problems of a pattern for `format` (`use: "format"`) or `sourceFormat` (`"parse"`); [] when usable. */
export function patternProblems(pattern: string, use: "format" | "parse"): string[] {
  const allowed = use === "format" ? FORMAT_LETTERS : PARSE_LETTERS;
  const problems: string[] = [];
  const seen = new Map<string, string>();
  for (const token of tokenize(pattern)) {
    const c = token[0]!;
    if (c === "'" || !isLetter(c)) continue;
    if (PROTECTED.has(token)) problems.push(`"${token}" is a week-numbering year or day of year; write "yyyy" or "dd"`);
    else if (!allowed.has(c)) problems.push(`"${token}" is not supported in ${use === "format" ? "format" : "sourceFormat"}`);
    else if (use === "parse") {
      const field = fieldOf(c);
      const earlier = seen.get(field);
      if (earlier !== undefined) problems.push(`"${earlier}" and "${token}" both read the ${field}`);
      seen.set(field, token);
    }
  }
  return [...new Set(problems)];
}

function fieldOf(c: string): string {
  if ("hHKk".includes(c)) return "hour";
  if ("ML".includes(c)) return "month";
  if ("Xx".includes(c)) return "time zone";
  if ("Tt".includes(c)) return "timestamp";
  return { y: "year", d: "day", a: "AM/PM", m: "minute", s: "second", S: "fraction of a second" }[c] ?? c;
}

// ---- format ---------------------------------------------------------------------------------

const pad = (n: number, width: number) => `${n < 0 ? "-" : ""}${String(Math.abs(n)).padStart(width, "0")}`;

function ordinal(n: number): string {
  const rem100 = n % 100;
  if (rem100 > 20 || rem100 < 10) {
    if (rem100 % 10 === 1) return `${n}st`;
    if (rem100 % 10 === 2) return `${n}nd`;
    if (rem100 % 10 === 3) return `${n}rd`;
  }
  return `${n}th`;
}

function name(list: string[], i: number, width: number): string {
  const full = list[i]!;
  if (width <= 3) return full.slice(0, 3);
  if (width === 4) return full;
  if (width === 5) return full.slice(0, 1);
  return full.slice(0, 2);
}

function formatToken(d: Date, token: string): string {
  const c = token[0]!;
  const n = token.length;
  const year = d.getUTCFullYear();
  const hours = d.getUTCHours();
  switch (c) {
    case "G":
      return n <= 3 ? (year > 0 ? "AD" : "BC") : n === 4 ? (year > 0 ? "Anno Domini" : "Before Christ") : year > 0 ? "A" : "B";
    case "y": {
      const y = year > 0 ? year : 1 - year;
      if (token === "yo") return ordinal(y);
      if (n === 2) return pad(y % 100, 2);
      return pad(y, n);
    }
    case "Q":
    case "q": {
      const q = Math.floor(d.getUTCMonth() / 3) + 1;
      if (token.endsWith("o")) return ordinal(q);
      return n <= 2 ? pad(q, n) : n === 3 ? `Q${q}` : n === 4 ? `${ordinal(q)} quarter` : String(q);
    }
    case "M":
    case "L": {
      const m = d.getUTCMonth();
      if (token.endsWith("o")) return ordinal(m + 1);
      return n <= 2 ? pad(m + 1, n) : name(MONTHS, m, n);
    }
    case "d":
      return token === "do" ? ordinal(d.getUTCDate()) : pad(d.getUTCDate(), n);
    case "E":
      return name(DAYS, d.getUTCDay(), n);
    case "a": {
      const pm = hours >= 12;
      if (n <= 2) return pm ? "PM" : "AM";
      if (n === 3) return pm ? "pm" : "am";
      if (n === 4) return pm ? "p.m." : "a.m.";
      return pm ? "p" : "a";
    }
    case "h":
      return token === "ho" ? ordinal(hours % 12 || 12) : pad(hours % 12 || 12, n);
    case "H":
      return token === "Ho" ? ordinal(hours) : pad(hours, n);
    case "K":
      return token === "Ko" ? ordinal(hours % 12) : pad(hours % 12, n);
    case "k":
      return token === "ko" ? ordinal(hours || 24) : pad(hours || 24, n);
    case "m":
      return token === "mo" ? ordinal(d.getUTCMinutes()) : pad(d.getUTCMinutes(), n);
    case "s":
      return token === "so" ? ordinal(d.getUTCSeconds()) : pad(d.getUTCSeconds(), n);
    case "S":
      return pad(Math.trunc(d.getUTCMilliseconds() * 10 ** (n - 3)), n);
    // Dates are UTC: the offset is always zero.
    case "X":
      return "Z";
    case "x":
      return n === 1 ? "+00" : n === 2 || n === 4 ? "+0000" : "+00:00";
    case "O":
    case "z":
      return n === 4 ? "GMT+00:00" : "GMT+0";
    case "t":
      return String(Math.trunc(d.getTime() / 1000));
    case "T":
      return String(d.getTime());
    default:
      throw new DateFormatError(`"${token}" is not supported`);
  }
}

/** Writes `date` in `pattern` (date-fns `format`). */
export function formatDate(date: Date, pattern: string): string {
  if (Number.isNaN(date.getTime())) throw new DateFormatError("Invalid time value");
  return tokenize(pattern)
    .map((t) => (t[0] === "'" || !isLetter(t[0]!) ? literal(t) : formatToken(date, t)))
    .join("");
}

// ---- parse ----------------------------------------------------------------------------------

/** One parsed field: applied to the reference date in priority order (years before months ...), as date-fns does. */
interface Setter {
  priority: number;
  validate?: (d: Date) => boolean;
  set: (d: Date, flags: { timestamp?: boolean }) => void;
}

const NUMERIC: Record<string, RegExp> = {
  month: /^(1[0-2]|0?\d)/,
  date: /^(3[0-1]|[12]?\d)/,
  hour23: /^(2[0-3]|[0-1]?\d)/,
  hour24: /^(2[0-4]|[0-1]?\d)/,
  hour11: /^(1[0-1]|0?\d)/,
  hour12: /^(1[0-2]|0?\d)/,
  minute: /^[0-5]?\d/,
  second: /^[0-5]?\d/,
  signed: /^-?\d+/,
};
const nDigits = (n: number) => (n === 1 ? /^\d/ : new RegExp(`^\\d{1,${n}}`));

const TIME_ZONES: Record<number, RegExp> = {
  1: /^([+-])(\d{2})(\d{2})?|^Z/,
  2: /^([+-])(\d{2})(\d{2})|^Z/,
  3: /^([+-])(\d{2}):(\d{2})|^Z/,
  4: /^([+-])(\d{2})(\d{2})((\d{2}))?|^Z/,
  5: /^([+-])(\d{2}):(\d{2})(:(\d{2}))?|^Z/,
};

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const isLeap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

function twoDigitYear(yy: number, currentYear: number): number {
  const abs = currentYear > 0 ? currentYear : 1 - currentYear;
  let result: number;
  if (abs <= 50) result = yy || 100;
  else {
    const rangeEnd = abs + 50;
    const century = Math.trunc(rangeEnd / 100) * 100;
    result = yy + century - (yy >= rangeEnd % 100 ? 100 : 0);
  }
  return currentYear > 0 ? result : 1 - result;
}

function setHour(d: Date, h: number): void {
  d.setUTCHours(h, 0, 0, 0);
}

const MONTH_PATTERNS = {
  wide: MONTHS.map((m) => new RegExp(`^${m}`, "i")),
  abbreviated: MONTHS.map((m) => new RegExp(`^${m.slice(0, 3)}`, "i")),
  narrow: MONTHS.map((m) => new RegExp(`^${m[0]}`, "i")),
};

/** Reads one token at the start of `rest`: how much it consumed and its setter, or null when it does not match. */
function parseToken(token: string, rest: string): { length: number; setter: Setter } | null {
  const c = token[0]!;
  const n = token.length;
  const num = (re: RegExp) => {
    const m = re.exec(rest);
    return m ? { value: Number(m[0]), length: m[0].length } : null;
  };
  switch (c) {
    case "y": {
      const m = num(n === 1 ? nDigits(4) : nDigits(n));
      if (!m) return null;
      const twoDigit = token === "yy";
      return {
        length: m.length,
        setter: {
          priority: 130,
          validate: () => twoDigit || m.value > 0,
          set: (d) => {
            const year = twoDigit ? twoDigitYear(m.value, d.getUTCFullYear()) : m.value;
            d.setUTCFullYear(year, 0, 1);
            d.setUTCHours(0, 0, 0, 0);
          },
        },
      };
    }
    case "M":
    case "L": {
      let month: number | undefined;
      let length = 0;
      if (n <= 2) {
        const m = num(n === 1 ? NUMERIC.month! : nDigits(2));
        if (!m) return null;
        [month, length] = [m.value - 1, m.length];
      } else {
        const widths = n === 3 ? (["abbreviated", "narrow"] as const) : n === 4 ? (["wide", "abbreviated", "narrow"] as const) : (["narrow"] as const);
        for (const w of widths) {
          const i = MONTH_PATTERNS[w].findIndex((re) => re.test(rest));
          if (i >= 0) {
            [month, length] = [i, MONTH_PATTERNS[w][i]!.exec(rest)![0].length];
            break;
          }
        }
        if (month === undefined) return null;
      }
      const value = month;
      return { length, setter: { priority: 110, validate: () => value >= 0 && value <= 11, set: (d) => (d.setUTCMonth(value, 1), d.setUTCHours(0, 0, 0, 0)) } };
    }
    case "d": {
      const ordinalMatch = token === "do" ? /^(\d{1,2})(st|nd|rd|th)?/i.exec(rest) : null;
      const m = ordinalMatch ? { value: Number(ordinalMatch[1]), length: ordinalMatch[0].length } : token === "do" ? null : num(n === 1 ? NUMERIC.date! : nDigits(2));
      if (!m) return null;
      return {
        length: m.length,
        setter: {
          priority: 90,
          validate: (d) => {
            const month = d.getUTCMonth();
            const days = month === 1 && isLeap(d.getUTCFullYear()) ? 29 : DAYS_IN_MONTH[month]!;
            return m.value >= 1 && m.value <= days;
          },
          set: (d) => (d.setUTCDate(m.value), d.setUTCHours(0, 0, 0, 0)),
        },
      };
    }
    case "a": {
      const match = n === 5 ? /^[ap]/i.exec(rest) : /^([ap])\.?\s?m\.?/i.exec(rest) ?? /^[ap]/i.exec(rest);
      if (!match) return null;
      const pm = match[0][0]!.toLowerCase() === "p";
      return { length: match[0].length, setter: { priority: 80, set: (d) => setHour(d, pm ? 12 : 0) } };
    }
    case "h":
    case "H":
    case "K":
    case "k": {
      const pattern = { h: NUMERIC.hour12!, H: NUMERIC.hour23!, K: NUMERIC.hour11!, k: NUMERIC.hour24! }[c];
      const m = num(n === 1 ? pattern : nDigits(n));
      if (!m) return null;
      const v = m.value;
      const range = { h: [1, 12], H: [0, 23], K: [0, 11], k: [1, 24] }[c] as [number, number];
      const set = (d: Date) => {
        const pm = d.getUTCHours() >= 12;
        if (c === "H") setHour(d, v);
        else if (c === "k") setHour(d, v <= 24 ? v % 24 : v);
        else if (c === "K") setHour(d, pm && v < 12 ? v + 12 : v);
        else setHour(d, pm && v < 12 ? v + 12 : !pm && v === 12 ? 0 : v);
      };
      return { length: m.length, setter: { priority: 70, validate: () => v >= range[0] && v <= range[1], set } };
    }
    case "m":
    case "s": {
      const m = num(n === 1 ? NUMERIC.minute! : nDigits(n));
      if (!m) return null;
      const v = m.value;
      return {
        length: m.length,
        setter: { priority: c === "m" ? 60 : 50, validate: () => v >= 0 && v <= 59, set: (d) => (c === "m" ? d.setUTCMinutes(v, 0, 0) : d.setUTCSeconds(v, 0)) },
      };
    }
    case "S": {
      const m = num(nDigits(n));
      if (!m) return null;
      const ms = Math.trunc(m.value * 10 ** (3 - n));
      return { length: m.length, setter: { priority: 30, set: (d) => d.setUTCMilliseconds(ms) } };
    }
    case "X":
    case "x": {
      const match = TIME_ZONES[Math.min(n, 5)]!.exec(rest);
      if (!match) return null;
      const offset = match[0] === "Z" ? 0 : (match[1] === "+" ? 1 : -1) * (Number(match[2]) * 3_600_000 + Number(match[3] ?? 0) * 60_000 + Number(match[5] ?? 0) * 1000);
      return { length: match[0].length, setter: { priority: 10, set: (d, flags) => void (flags.timestamp || d.setTime(d.getTime() - offset)) } };
    }
    case "t":
    case "T": {
      const m = num(NUMERIC.signed!);
      if (!m) return null;
      const ms = c === "t" ? m.value * 1000 : m.value;
      return { length: m.length, setter: { priority: c === "t" ? 40 : 20, set: (d, flags) => (d.setTime(ms), (flags.timestamp = true)) } };
    }
    default:
      throw new DateFormatError(`"${token}" is not supported in sourceFormat`);
  }
}

/**
 * Reads `text` as `pattern` describes it (date-fns `parse`), with fields the pattern does not read
 * taken from `reference`. An Invalid Date when the text does not match or names an impossible date.
 */
export function parseDate(text: string, pattern: string, reference: Date): Date {
  const invalid = new Date(Number.NaN);
  if (pattern === "") return text === "" ? new Date(reference.getTime()) : invalid;
  let rest = text;
  const setters: Setter[] = [];
  for (const token of tokenize(pattern)) {
    const c = token[0]!;
    if (c !== "'" && isLetter(c)) {
      const parsed = parseToken(token, rest);
      if (!parsed) return invalid;
      setters.push(parsed.setter);
      rest = rest.slice(parsed.length);
      continue;
    }
    const lit = literal(token);
    if (!rest.startsWith(lit)) return invalid;
    rest = rest.slice(lit.length);
  }
  if (/\S/.test(rest)) return invalid;
  const date = new Date(reference.getTime());
  const flags: { timestamp?: boolean } = {};
  // Higher priorities first; a stable sort keeps the pattern's order within one priority.
  for (const s of [...setters].sort((a, b) => b.priority - a.priority)) {
    if (s.validate && !s.validate(date)) return invalid;
    s.set(date, flags);
  }
  return date;
}

/** json-xform's date formatter: `value` read as `sourceFormat`, written as `format`; throws DateFormatError. */
export function reformatDate(value: unknown, via: { sourceFormat: string; format: string }, now: number): string {
  const text = typeof value === "string" ? value : String(value);
  const date = parseDate(text, via.sourceFormat, new Date(now));
  if (Number.isNaN(date.getTime())) throw new DateFormatError(`Invalid time value: ${JSON.stringify(text)} does not match the sourceFormat "${via.sourceFormat}"`);
  return formatDate(date, via.format);
}
