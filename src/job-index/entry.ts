/** A job's index row as its writers build it: its summary as the index keeps it, and its place among its siblings. */
import type { JobIdentity, JobState, JobSummary } from "../engine/types";
import { isoTime } from "../ids";
import { MAX_INDEXED_ERROR_MESSAGE_CHARS } from "../limits";
import { jobSummary } from "../job/views";
import type { IndexEntry } from "./messages";
import type { IndexRef } from "./shards";

type JobIndexError = NonNullable<JobSummary["error"]>;

/**
 * The error as the index keeps it: the message cut to MAX_INDEXED_ERROR_MESSAGE_CHARS, so that no
 * error (a transition's whole result, every complaint of a schema) can make a row large.
 */
function indexedError(error: JobIndexError): JobIndexError {
  if (error.message.length <= MAX_INDEXED_ERROR_MESSAGE_CHARS) return error;
  let end = MAX_INDEXED_ERROR_MESSAGE_CHARS - 1;
  // Never keep half of a surrogate pair.
  if ((error.message.charCodeAt(end - 1) & 0xfc00) === 0xd800) end -= 1;
  return { ...error, message: `${error.message.slice(0, end)}…` };
}

/** The summary as the index stores it: never the output (read from the job itself), the error message cut. */
export function indexedSummary(job: JobSummary): JobSummary {
  const { output: _output, ...rest } = job;
  return rest.error ? { ...rest, error: indexedError(rest.error) } : rest;
}

/**
 * A child's order among its parent's children: the step attempt that created it (by the time the
 * attempt began, which also orders a parent's runs and steps), then its position in the step's
 * list. Fixed-width text, so the index orders it as a string. A child created before children
 * carried their position (or migrated from D1) falls back to its creation time.
 */
export function siblingOrder(id: Pick<JobIdentity, "parentJobId" | "parentAttemptStartedAt" | "childIndex" | "createdAt">): string | undefined {
  if (!id.parentJobId) return undefined;
  return `${isoTime(id.parentAttemptStartedAt ?? id.createdAt)}#${String(id.childIndex ?? 0).padStart(9, "0")}`;
}

/** The job run's index row now. */
export function indexEntry(state: JobState): IndexEntry {
  const order = siblingOrder(state.identity);
  return { job: indexedSummary(jobSummary(state)), seq: state.indexSeq, ...(order !== undefined ? { order } : {}) };
}

/** The index a job belongs to: its organization's, with the shard count it was created with. */
export function indexRefOf(id: Pick<JobIdentity, "organizationId" | "indexShards">): IndexRef {
  return { organizationId: id.organizationId, shards: id.indexShards ?? 1 };
}
