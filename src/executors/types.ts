/**
 * The executor interface. Starting a step is pure (`start`): it either finishes at once (noop,
 * transform), suspends on a wait the engine understands (events, a timer, children), hands over to
 * a continueAsNew, or asks the Durable Object to perform I/O (`call`, for HTTP, Lambda, Cloud
 * Functions). Only `call` touches the network, only through `ctx.egress`, and only the Durable
 * Object runs it.
 */
import type { ChildrenWait, JobError, JobState, NewChild, StepWait } from "../engine/types";
import type { Egress } from "../egress/organization-egress";

export interface StepStartContext<Config> {
  stepName: string;
  config: Config;
  /** The step's input, read (a reference assembled) when this is first read: do not destructure it unless it is needed. */
  readonly input: unknown;
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
  /** The output is the input, unchanged: stored once, never read (a fan-out's results stay a reference). */
  | { kind: "passThrough" }
  | { kind: "fail"; error: JobError; retryable: boolean }
  | { kind: "suspend"; wait: Exclude<StepWait, ChildrenWait>; deadline?: number }
  /** Start these children (in order) and wait for them. */
  | { kind: "children"; children: NewChild[]; maxConcurrency: number; toleratedFailures: number }
  | { kind: "call" }
  | { kind: "continueAsNew"; nextStep?: string; version: "same" | { tag: string } };

/**
 * A secret read for one destination: its value (undefined: the organization has no such secret),
 * or the failure that stops the call because the secret may not go there (SECRET_HOST_DENIED).
 */
export type SecretRead = { ok: true; value: string | undefined } | Extract<CallResult, { ok: false }>;

/**
 * Reads an organization secret at call time, for the host (`destinationHost` in
 * src/host-patterns.ts) that the secret, or what is made from it, is sent to. Every read comes
 * before anything is sent, so a refused secret means nothing left. Secrets never enter history or
 * execution data.
 */
export type SecretReader = (key: string, destinationHost: string) => Promise<SecretRead>;

export interface CallContext<Config> {
  stepName: string;
  config: Config;
  input: unknown;
  jobId: string;
  organizationId: string;
  attempt: number;
  env: Env;
  secrets: SecretReader;
  /** The only way a call reaches the network: the organization's egress policy, checked at every hop. */
  egress: Egress;
  /** Aborts when the attempt's time is up. */
  signal: AbortSignal;
}

/**
 * What the far end answered, for the attempt's history item: its HTTP status and, for a failure, its
 * body as received (src/executors/call-facts.ts replaces the step's secrets in it and bounds it).
 */
export interface CallResponse {
  statusCode: number;
  body?: string;
}

export type CallResult =
  /** `incomplete`: the far end answered `{"status": "successful_but_incomplete"}`; the step polls again. */
  | { ok: true; output: unknown; incomplete?: true; statusCode?: number }
  | { ok: false; error: JobError; retryable: boolean; retryAfterMs?: number; response?: CallResponse };

export interface Executor<Config = unknown> {
  readonly type: string;
  start(ctx: StepStartContext<Config>): StepStart;
  call?(ctx: CallContext<Config>): Promise<CallResult>;
}
