/**
 * PauseJob and UnpauseJob as the engine sees them. A paused job starts no new step attempt: not the
 * next step, a retry, a poll, nor a child not yet started. What is already under way is recorded as
 * it happens (a call's result, an event, a child's end), and what falls due while the job is paused
 * (a timer, a retry, a deadline, an event wait whose events have all arrived, a fan-out whose
 * children have all ended) is acted on at unpause.
 *
 * A pause reaches the job's descendants: each change of the job's pause is sent to the children it
 * started, numbered by the job's `seq`, so a child applies its parent's words in order whatever
 * order they arrive in. A child is paused while its parent is (`parent`) or while PauseJob on the
 * child itself holds (`self`); unpausing one does not unpause the other.
 */
import type { Decider } from "./decider";
import { isTerminal } from "./status";
import type { EngineEvent, JobState, PauseState } from "./types";

/** Whether the job is paused now, by PauseJob or by a paused ancestor. */
export function isPaused(s: JobState): boolean {
  return s.pause !== undefined && (s.pause.self || s.pause.parent);
}

/** Acts on what fell due while the job was paused (decide.ts supplies it: the engine's step logic). */
export type Wake = (d: Decider, at: number) => void;

const NOT_PAUSED: PauseState = { self: false, parent: false, parentSeq: 0, seq: 0 };

/**
 * Applies `update` to the job's pause. When that pauses or unpauses the job (a job still running),
 * its children hear of it and, at unpause, what fell due meanwhile is acted on.
 */
function changePause(d: Decider, at: number, update: (p: PauseState) => void, wake: Wake): void {
  const s = d.state;
  const was = isPaused(s);
  const next = { ...(s.pause ?? NOT_PAUSED) };
  update(next);
  s.pause = next;
  const now = isPaused(s);
  // An ended job keeps the word (a resume honours a paused parent) and has no child to tell.
  if (was === now || isTerminal(s.status)) return;
  next.seq += 1;
  // The job index shows whether a job is paused (the console's job list and tree): a top-level job
  // writes its row again, a child tells its parent, which indexes it with its other children.
  d.statusChanged(at);
  const cur = s.current;
  const jobIds = cur?.wait?.type === "children" ? d.view.activeChildJobIds(cur.name, cur.attempt) : [];
  d.commands.push({ type: "pauseChildren", paused: now, seq: next.seq, jobIds });
  d.log(now ? "job.paused" : "job.unpaused", { by: s.pause.self ? "self" : "parent" });
  if (!now) wake(d, at);
}

/** PauseJob (the object refuses it on a job that has ended). */
export function pauseJob(d: Decider, at: number, wake: Wake): void {
  if (isTerminal(d.state.status)) return;
  changePause(d, at, (p) => (p.self = true), wake);
}

/** UnpauseJob: lifts this job's own pause; a paused ancestor still holds it. */
export function unpauseJob(d: Decider, at: number, wake: Wake): void {
  if (!d.state.pause?.self) return;
  changePause(d, at, (p) => (p.self = false), wake);
}

/** The parent's pause changed; a word older than the last one applied changes nothing. */
export function parentPauseChanged(d: Decider, event: Extract<EngineEvent, { type: "parentPause" }>, wake: Wake): void {
  const p = d.state.pause;
  if (p && event.seq <= p.parentSeq) return;
  changePause(
    d,
    event.at,
    (next) => {
      next.parent = event.paused;
      next.parentSeq = event.seq;
    },
    wake,
  );
}

/**
 * A job that ends is no longer paused by PauseJob (a parent's pause stays: a resume honours it).
 * When that unpauses it, the child starts it held are released: they find the job ended and drop.
 */
export function endPause(d: Decider): void {
  const s = d.state;
  if (!s.pause?.self) return;
  const was = isPaused(s);
  s.pause = { ...s.pause, self: false };
  if (!was || isPaused(s)) return;
  s.pause.seq += 1;
  d.commands.push({ type: "pauseChildren", paused: false, seq: s.pause.seq, jobIds: [] });
}

/**
 * A new child's state under its parent's pause: the word its start carries, or a later one that
 * reached it before it existed (by sequence number).
 */
export function startedUnderParentPause(state: JobState, carried: PauseWord | undefined, kept: PauseWord | undefined): JobState {
  const word = [carried, kept].filter((w): w is PauseWord => w !== undefined).sort((a, b) => b.seq - a.seq)[0];
  if (!word) return state;
  return { ...state, pause: { self: false, parent: word.paused, parentSeq: word.seq, seq: 0 } };
}

/** A parent's word to its child: whether it is paused, numbered by the parent's `seq`. */
export interface PauseWord {
  paused: boolean;
  seq: number;
}

/** The pause a child starts with: its parent's, as the parent's state says now. */
export function pauseForChild(parent: JobState): { paused: boolean; seq: number } {
  return { paused: isPaused(parent), seq: parent.pause?.seq ?? 0 };
}
