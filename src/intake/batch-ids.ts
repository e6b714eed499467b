/**
 * A batch job's id names the object that holds its start. A request that reaches a job accepted
 * and not started yet (an event, a cancel, a wait) asks that object to start it now
 * (src/intake/on-demand.ts), and the object is found from the job id alone: no index row, table or
 * lookup has to say which batch a job came in.
 *
 * Layout (a version-8 UUID, as `deterministicId` writes, with the variant nibble fixed to `b`):
 * `tttttttt-tttt-8ttt-bsss-ssssssssssss`, where `t` (60 bits) is the batch's tag and `s` (60 bits)
 * is the job's own part, random or derived. The starter of tag `t` in organization `o` is the
 * BatchStarter named `batch:o:t`, so a tag only ever reaches its own organization's batches.
 */
import { sha256Hex, toHex } from "../crypto/hash";

const TAG_DIGITS = 15;

/** A fresh random tag (a batch without a key). */
export function randomBatchTag(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(8))).slice(0, TAG_DIGITS);
}

/** The tag of the batch sent under `batchKey`: the same key in the same organization, the same tag. */
export async function keyedBatchTag(organizationId: string, batchKey: string): Promise<string> {
  return (await sha256Hex(`batch-tag\u0000${organizationId}\u0000${batchKey}`)).slice(0, TAG_DIGITS);
}

/** The name of the BatchStarter that holds the starts of batch `tag`. */
export function batchStarterName(organizationId: string, tag: string): string {
  return `batch:${organizationId}:${tag}`;
}

/** A job id of batch `tag`; `own` gives the job's part (at least 15 hex digits: random, or a hash). */
export function batchJobId(tag: string, own: string): string {
  return `${tag.slice(0, 8)}-${tag.slice(8, 12)}-8${tag.slice(12, 15)}-b${own.slice(0, 3)}-${own.slice(3, 15)}`;
}

/** A random job part for `batchJobId`. */
export function randomJobPart(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(8))).slice(0, TAG_DIGITS);
}

/** The batch tag a job id carries, or null for an id that is not laid out as a batch's (lower-case ids). */
export function batchTagOf(jobId: string): string | null {
  if (jobId.length !== 36 || jobId[14] !== "8" || jobId[19] !== "b") return null;
  return jobId.slice(0, 8) + jobId.slice(9, 13) + jobId.slice(15, 18);
}

