/**
 * json-xform's `via: {type: "commands", transform: [{command, params, map}]}`: a value goes through
 * a list of commands, each a method of a string or a list (json-xform calls `value[command](...params)`
 * through lodash `invoke`, on each element when `map` is true). Canopy never calls a method by a name
 * it was given: each command below is a fixed, pure function over a JSON value, the list is an
 * allow-list, and a name not in it (or params of the wrong kind) is refused at registration.
 *
 * Every command's result is at most about as large as its value (upper-casing can triple a string's
 * UTF-16 length; nothing repeats, pads, joins or concatenates, whose results a definition could make
 * as large as it likes), so a chain of them cannot grow a step's input past what its source holds.
 */
import { MAX_TRANSFORM_COMMANDS } from "../limits";

/** One entry of a `transform` list. */
export interface TransformCommand {
  command: string;
  params?: unknown[];
  map?: boolean;
}

/** A value met a command that does not apply to it (json-xform would have written nothing). */
export class CommandError extends Error {
  override readonly name = "CommandError";
}

/** `int`: a number or a numeric string, as JavaScript converts one; `text`: a string, number or boolean; `value`: any JSON. */
type ParamKind = "int" | "text" | "value";
type Receiver = "string" | "list" | "any";

interface Command {
  on: readonly Receiver[];
  /** The params it takes in order; those from index `required` on may be left out. */
  params: readonly ParamKind[];
  required: number;
  /** Further params of this kind (splice's items). */
  rest?: ParamKind;
  /** What it writes, for the data-flow checks (describeTransformer). */
  result: "string" | "array" | "unknown";
  run(value: never, params: readonly unknown[]): unknown;
}

const int = (p: unknown): number | undefined => (p === undefined ? undefined : Number(p));
const text = (p: unknown): string | undefined => (p === undefined ? undefined : valueText(p));

// The built-in methods of strings and lists, called on a string primitive or from the prototype:
// never a property looked up on an object of data.
const S = String.prototype;
const A = Array.prototype;

const onString = (result: Command["result"], params: ParamKind[], required: number, run: (v: string, p: readonly unknown[]) => unknown): Command =>
  ({ on: ["string"], params, required, result, run: run as Command["run"] });
/** A method strings and lists share: in a string, a search looks for text. */
const onBoth = (params: ParamKind[], required: number, forString: (v: string, p: readonly unknown[]) => unknown, forList: (v: unknown[], p: readonly unknown[]) => unknown): Command => ({
  on: ["string", "list"],
  params,
  required,
  result: "unknown",
  run: ((v: string | unknown[], p: readonly unknown[]) => (typeof v === "string" ? forString(v, p) : forList(v, p))) as Command["run"],
});

/** Array.prototype.toString as it treats JSON: nested lists joined, objects "[object Object]", null and undefined empty. */
function listText(list: readonly unknown[]): string {
  return list.map((e) => (e === null || e === undefined ? "" : Array.isArray(e) ? listText(e) : typeof e === "object" ? "[object Object]" : String(e))).join(",");
}

/** A value's toString without reading the value's own properties (an object of data may hold a "toString" key). */
function valueText(v: unknown): string {
  return Array.isArray(v) ? listText(v) : typeof v === "object" && v !== null ? "[object Object]" : String(v);
}

/** The allow-list: the commands json-xform's own tests and schema use, and the other pure string and list methods of their kind. */
const COMMANDS = new Map<string, Command>([
  ["toString", { on: ["any"], params: [], required: 0, result: "string", run: valueText as Command["run"] }],
  ["toUpperCase", onString("string", [], 0, (v) => S.toUpperCase.call(v))],
  ["toLowerCase", onString("string", [], 0, (v) => S.toLowerCase.call(v))],
  ["trim", onString("string", [], 0, (v) => S.trim.call(v))],
  ["trimStart", onString("string", [], 0, (v) => S.trimStart.call(v))],
  ["trimEnd", onString("string", [], 0, (v) => S.trimEnd.call(v))],
  ["split", onString("array", ["text", "int"], 0, (v, [separator, limit]) => v.split(text(separator) as string, int(limit)))],
  ["substring", onString("string", ["int", "int"], 1, (v, [start, end]) => S.substring.call(v, int(start) as number, int(end)))],
  ["charAt", onString("string", ["int"], 0, (v, [index]) => S.charAt.call(v, int(index) as number))],
  ["startsWith", onString("unknown", ["text", "int"], 1, (v, [search, from]) => S.startsWith.call(v, text(search) as string, int(from)))],
  ["endsWith", onString("unknown", ["text", "int"], 1, (v, [search, end]) => S.endsWith.call(v, text(search) as string, int(end)))],
  ["slice", onBoth(["int", "int"], 0, (v, [start, end]) => S.slice.call(v, int(start), int(end)), (v, [start, end]) => A.slice.call(v, int(start), int(end)))],
  ["at", onBoth(["int"], 0, (v, [index]) => S.at.call(v, int(index) as number), (v, [index]) => A.at.call(v, int(index) as number))],
  ["includes", onBoth(["value", "int"], 1, (v, [search, from]) => S.includes.call(v, text(search) as string, int(from)), (v, [search, from]) => A.includes.call(v, search, int(from)))],
  ["indexOf", onBoth(["value", "int"], 1, (v, [search, from]) => S.indexOf.call(v, text(search) as string, int(from)), (v, [search, from]) => A.indexOf.call(v, search, int(from)))],
  // An array's lastIndexOf reads a fromIndex given as undefined as 0: it is left out instead.
  ["lastIndexOf", onBoth(["value", "int"], 1, (v, [search, from]) => S.lastIndexOf.call(v, text(search) as string, int(from)), (v, [search, from]) => (from === undefined ? A.lastIndexOf.call(v, search) : A.lastIndexOf.call(v, search, int(from) as number)))],
  // What json-xform writes is what splice returns, the removed elements; the value itself is
  // left as it was (spliced here on a copy), and the items it would insert change nothing written.
  ["splice", { on: ["list"], params: ["int", "int"], required: 1, rest: "value", result: "array", run: ((v: unknown[], [start, count]: readonly unknown[]) => (count === undefined ? [...v].splice(int(start) as number) : [...v].splice(int(start) as number, int(count) as number))) as Command["run"] }],
]);

/** The allowed command names, for messages and the docs. */
export const COMMAND_NAMES: readonly string[] = [...COMMANDS.keys()];

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
const KEYS = new Set(["command", "params", "map"]);

function paramProblem(kind: ParamKind, p: unknown): string | undefined {
  if (kind === "int") {
    const ok = (typeof p === "number" && Number.isFinite(p)) || (typeof p === "string" && p.trim() !== "" && Number.isFinite(Number(p)));
    return ok ? undefined : "must be a number (or a string holding one)";
  }
  if (kind === "text") return ["string", "number", "boolean"].includes(typeof p) ? undefined : "must be a string";
  return undefined;
}

/** Checks a `transform` list at registration; pushes one message per problem to `out`. */
export function checkTransformCommands(transform: unknown, where: string, out: string[]): void {
  if (!Array.isArray(transform) || transform.length === 0) return void out.push(`${where} must be a non-empty list of {"command": ..., "params": [...], "map": true|false}`);
  if (transform.length > MAX_TRANSFORM_COMMANDS) out.push(`${where} has ${transform.length} commands; at most ${MAX_TRANSFORM_COMMANDS} are allowed`);
  transform.forEach((entry, i) => {
    const at = `${where}[${i}]`;
    if (!isObject(entry)) return void out.push(`${at} must be an object {"command": ..., "params": [...]}`);
    for (const key of Object.keys(entry)) if (!KEYS.has(key)) out.push(`${at}: unsupported key "${key}"`);
    if (entry.map !== undefined && typeof entry.map !== "boolean") out.push(`${at}.map must be a boolean`);
    if (typeof entry.command !== "string") return void out.push(`${at}.command must be a string naming a command`);
    const command = COMMANDS.get(entry.command);
    if (!command) return void out.push(`${at}.command "${entry.command}" is not a supported command; the commands are ${COMMAND_NAMES.join(", ")}`);
    const params: unknown = entry.params ?? [];
    if (!Array.isArray(params)) return void out.push(`${at}.params must be a list`);
    const most = command.rest ? Infinity : command.params.length;
    if (params.length < command.required || params.length > most) {
      const wants = most === command.required ? `${most}` : most === Infinity ? `at least ${command.required}` : `${command.required} to ${most}`;
      const one = (most === Infinity ? command.required : most) === 1;
      return void out.push(`${at}: ${entry.command} takes ${wants} param${one ? "" : "s"}, not ${params.length}`);
    }
    params.forEach((p, j) => {
      const problem = paramProblem(command.params[j] ?? command.rest ?? "value", p);
      if (problem) out.push(`${at}.params[${j}] ${problem}`);
    });
  });
}

/** What the last command of a list writes, for the data-flow checks. */
export function commandsResult(transform: readonly TransformCommand[]): "string" | "array" | "unknown" {
  const last = transform.at(-1);
  if (!last) return "unknown";
  return last.map === true ? "array" : (COMMANDS.get(last.command)?.result ?? "unknown");
}

function kindOf(v: unknown): string {
  return Array.isArray(v) ? "a list" : v === null ? "null" : typeof v === "object" ? "an object" : `a ${typeof v}`;
}

function runOne(value: unknown, step: TransformCommand): unknown {
  // Nothing to call a method on: json-xform's invoke answers undefined, and nothing is written.
  if (value === undefined || value === null) return undefined;
  const command = COMMANDS.get(step.command);
  if (!command) throw new CommandError(`"${step.command}" is not a supported command`);
  const receiver: Receiver = typeof value === "string" ? "string" : Array.isArray(value) ? "list" : "any";
  if (!command.on.includes("any") && !command.on.includes(receiver)) {
    const wants = command.on.map((r) => (r === "list" ? "a list" : `a ${r}`)).join(" or ");
    throw new CommandError(`${step.command} applies to ${wants}, not to ${kindOf(value)}`);
  }
  return command.run(value as never, step.params ?? []);
}

/** Runs a checked `transform` list over a value; a value a command does not apply to throws CommandError. */
export function runTransformCommands(value: unknown, transform: readonly TransformCommand[]): unknown {
  let current = value;
  for (const step of transform) {
    if (step.map !== true) current = runOne(current, step);
    else if (current === undefined || current === null) current = undefined;
    else if (!Array.isArray(current)) throw new CommandError(`${step.command} with "map" applies to a list, not to ${kindOf(current)}`);
    else current = current.map((element) => runOne(element, step));
  }
  return current;
}
