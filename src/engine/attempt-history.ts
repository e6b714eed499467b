/**
 * A step attempt's history item: what it received and produced (or the answer that failed it), and
 * where it stands: its try within the step's execution, the tries allowed, its iteration, when a
 * retry follows, the far end's status code. Also the item of the step a job was cancelled at.
 */
import { retriesAllowed } from "./backoff";
import type { Decider } from "./decider";
import type { BoundedPayload } from "./payload";
import type { ChildrenRef, CurrentStep, HistoryDraft, JobError } from "./types";

/** Where a step's output comes from: a value, a copy of another key (a reference stays one), or its children. */
export type Shared = { copyOf: string } | { ref: ChildrenRef };
export type Produced = { value: unknown; json?: string } | Shared;

/** What an attempt's history item says besides its status and payload. */
interface AttemptNotes {
  errors?: string[];
  statusCode?: number;
  retryAt?: number;
  /** The answer that failed the attempt, bounded: shown as its payload. */
  response?: BoundedPayload;
}

/** Appends the history item of the current attempt. */
export function recordAttempt(d: Decider, status: HistoryDraft["output"]["status"], produced: Produced | undefined, at: number, notes: AttemptNotes = {}): void {
  const cur = d.state.current!;
  const input = cur.hasInput ? d.view.data(`${cur.name}Input`) : undefined;
  const stored = produced && "copyOf" in produced ? d.view.data(produced.copyOf) : produced;
  const { response } = notes;
  d.addHistory({
    stepName: cur.name,
    stepExecutorType: d.step(cur.name)!.integrationDetails.type,
    historySource: "engine",
    ...(input && "ref" in input ? { input: null, inputRef: input.ref } : { input: input?.value ?? null }),
    output: response
      ? { status, payload: response.value }
      : !stored
        ? { status }
        : "ref" in stored
          ? { status, payloadRef: stored.ref }
          : stored.value === undefined
            ? { status }
            : { status, payload: stored.value },
    startTimestamp: new Date(cur.attemptStartedAt).toISOString(),
    endTimestamp: new Date(at).toISOString(),
    errors: notes.errors ?? [],
    warnings: [],
    attempt: cur.attempt,
    ...attemptPlace(d, cur),
    ...(notes.retryAt !== undefined ? { retryAt: new Date(notes.retryAt).toISOString() } : {}),
    ...(notes.statusCode !== undefined ? { statusCode: notes.statusCode } : {}),
    ...(response?.truncatedFromBytes !== undefined ? { payloadTruncated: { originalBytes: response.truncatedFromBytes } } : {}),
  });
}

/** Where an attempt stands: its try in this execution of the step, out of how many, in which iteration. */
function attemptPlace(d: Decider, cur: CurrentStep): Pick<HistoryDraft, "executionAttempt" | "attemptsAllowed" | "iteration"> {
  return { executionAttempt: Math.max(cur.triesUsed, 1), attemptsAllowed: retriesAllowed(d.step(cur.name)) + 1, iteration: cur.iteration ?? 1 };
}


/**
 * The step a job was cancelled at gets a history item of its own (no `attempt`: it is no attempt,
 * so no unit and no step metric), from when its pending attempt, wait or retry began.
 */
export function recordCancelled(d: Decider, cur: CurrentStep, error: JobError, at: number): void {
  d.addHistory({
    stepName: cur.name,
    stepExecutorType: d.step(cur.name)?.integrationDetails.type ?? "",
    historySource: "engine",
    input: null,
    output: { status: "failure" },
    startTimestamp: new Date(cur.attemptStartedAt).toISOString(),
    endTimestamp: new Date(at).toISOString(),
    errors: [`${error.code}: ${error.message}`],
    warnings: [],
    ...attemptPlace(d, cur),
    cancelled: true,
  });
}
