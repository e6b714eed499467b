/**
 * Error messages are bounded where they are made. A job's error travels far (its control row, its
 * history, its parent's child row, its report to the parent, the index), so a schema check over a
 * 10,000-element array must not make a 700 KB message: it lists problems up to the bound and says
 * how many more there were. Every other message is cut at the bound too, as a last line.
 */
import { MAX_ERROR_MESSAGE_CHARS } from "../limits";
import type { JobError } from "./types";

/** `text` cut to `max` characters, saying how much was left out; a surrogate pair is never split. */
export function boundedText(text: string, max: number = MAX_ERROR_MESSAGE_CHARS): string {
  if (text.length <= max) return text;
  const note = (n: number) => `… (${n} more characters)`;
  let keep = max - note(text.length).length;
  // A high surrogate at the cut would leave half a character.
  if (keep > 0 && (text.charCodeAt(keep - 1) & 0xfc00) === 0xd800) keep -= 1;
  return text.slice(0, Math.max(0, keep)) + note(text.length - keep);
}

/**
 * `prefix` followed by as many of `problems` as fit in MAX_ERROR_MESSAGE_CHARS, separated by "; ",
 * and "… and N more problems." when some did not fit.
 */
export function problemsMessage(prefix: string, problems: readonly string[], max: number = MAX_ERROR_MESSAGE_CHARS): string {
  const whole = prefix + problems.join("; ");
  if (whole.length <= max) return whole;
  // Room for the longest possible tail ("; … and 1234567 more problems.").
  const tail = (n: number) => `; … and ${n} more problems.`;
  const room = max - tail(problems.length).length;
  let text = prefix;
  let listed = 0;
  for (const problem of problems) {
    const next = (listed === 0 ? "" : "; ") + problem;
    if (text.length + next.length > room) break;
    text += next;
    listed += 1;
  }
  if (listed === 0) text = boundedText(prefix + problems[0], room);
  return text + tail(problems.length - Math.max(listed, 1)).replace(/^; /, listed === 0 ? " " : "; ");
}

/** A job error whose message is within MAX_ERROR_MESSAGE_CHARS (the same object when it already is). */
export function boundedError(error: JobError): JobError {
  return error.message.length <= MAX_ERROR_MESSAGE_CHARS ? error : { ...error, message: boundedText(error.message) };
}
