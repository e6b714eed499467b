/**
 * The executor interface. Starting a step is pure (`start`): it either finishes at once (noop,
 * transform), suspends on a wait the engine understands (events, a timer, children), hands over to
 * a continueAsNew, or asks the Durable Object to perform I/O (`call`, for HTTP, Lambda, Cloud
 * Functions). Only `call` touches the network, and only the Durable Object runs it.
 */
import type { ChildrenWait, JobError, JobState, NewChild, StepWait } from "../engine/types";

export interface StepStartContext<Config> {
  stepName: string;
  config: Config;
  input: unknown;
  /** The control row; read execution data through `data`. */
  state: JobState;
  /** The execution data: each key is read from the store when asked for. */
  data: Record<string, unknown>;
  /** Deterministic attempt counter, part of derived ids. */
  attempt: number;
  at: number;
}

export type StepStart =
  | { kind: "complete"; output: unknown }
  | { kind: "fail"; error: JobError; retryable: boolean }
  | { kind: "suspend"; wait: Exclude<StepWait, ChildrenWait>; deadline?: number }
  /** Start these children (in order) and wait for them. */
  | { kind: "children"; children: NewChild[]; maxConcurrency: number; toleratedFailures: number }
  | { kind: "call" }
  | { kind: "continueAsNew"; nextStep?: string; version: "same" | { tag: string } };

/** Reads an organization secret at call time; secrets never enter history or execution data. */
export type SecretReader = (key: string) => Promise<string | undefined>;

export interface CallContext<Config> {
  stepName: string;
  config: Config;
  input: unknown;
  jobId: string;
  organizationId: string;
  attempt: number;
  env: Env;
  secrets: SecretReader;
  /** Aborts when the attempt's time is up. */
  signal: AbortSignal;
}

export type CallResult =
  | { ok: true; output: unknown }
  | { ok: false; error: JobError; retryable: boolean; retryAfterMs?: number };

export interface Executor<Config = unknown> {
  readonly type: string;
  start(ctx: StepStartContext<Config>): StepStart;
  call?(ctx: CallContext<Config>): Promise<CallResult>;
}
