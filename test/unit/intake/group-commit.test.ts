/**
 * The intake's group commit, with a recording stand-in for the intake object's accept (the object
 * itself is proven in workerd: test/integration/jobs/intake.test.ts). Submissions of one moment go
 * in one send; a group closes at its job and byte bounds; a group formed while another is in
 * flight waits for it; a failed send fails every member of its group, and only them.
 */
import { describe, expect, it } from "vitest";
import { GroupCommitter } from "../../../src/intake/group-commit";
import { intakeShardOf, newIdInShard } from "../../../src/intake/shards";
import { INTAKE_GROUP_MAX_BYTES, INTAKE_GROUP_MAX_JOBS, INTAKE_SHARDS } from "../../../src/limits";

type Sent = { shard: number; items: number[]; definitions: string[] };

function recorder(bounds = { maxJobs: 3, maxBytes: 1000, maxWaitMs: 5_000 }) {
  const sent: Sent[] = [];
  const release: (() => void)[] = [];
  let fail: ((shard: number) => boolean) | undefined;
  const committer = new GroupCommitter<null, number>(async (_c, shard, definitions, items) => {
    sent.push({ shard, items, definitions: Object.keys(definitions) });
    await new Promise<void>((r) => release.push(r));
    if (fail?.(shard)) throw new Error("reset");
  }, bounds);
  const submit = (shard: number, item: number, bytes = 1, versionId = "v1", text = "") =>
    committer.submit(null, shard, item, bytes, { versionId, text }, 60_000);
  return { sent, release, submit, failWhen: (f: (shard: number) => boolean) => (fail = f) };
}

const turn = () => new Promise((r) => setTimeout(r, 0));

describe("the intake's group commit", () => {
  it("sends the submissions of one moment, per shard, in one accept each, and answers each after it", async () => {
    const { sent, release, submit } = recorder();
    const answered: number[] = [];
    const all = [submit(0, 1), submit(0, 2), submit(1, 3)].map((p, i) => p.then(() => answered.push(i)));
    await turn();
    expect(sent).toEqual([
      { shard: 0, items: [1, 2], definitions: ["v1"] },
      { shard: 1, items: [3], definitions: ["v1"] },
    ]);
    expect(answered).toEqual([]);
    release.forEach((r) => r());
    await Promise.all(all);
    expect(answered.sort()).toEqual([0, 1, 2]);
  });

  it("closes a group at maxJobs and before maxBytes; one item over maxBytes still goes, alone", async () => {
    const { sent, release, submit } = recorder({ maxJobs: 3, maxBytes: 100, maxWaitMs: 5_000 });
    const all = [1, 2, 3, 4].map((n) => submit(0, n));
    await turn();
    expect(sent.map((s) => s.items)).toEqual([[1, 2, 3]]);
    release.shift()!();
    await turn();
    await turn();
    expect(sent.map((s) => s.items)).toEqual([[1, 2, 3], [4]]);
    release.shift()!();
    await Promise.all(all);

    // Bytes: 60 + 30 fit; 30 more would pass 100. A definition counts once per group.
    const more = [submit(2, 5, 60, "a", "x".repeat(5)), submit(2, 6, 30, "a", "x".repeat(5)), submit(2, 7, 30, "a", "x".repeat(5)), submit(3, 8, 500)];
    await turn();
    expect(sent.slice(2).map((s) => s.items)).toEqual([[5, 6], [8]]);
    release.splice(0).forEach((r) => r());
    await turn();
    await turn();
    expect(sent.slice(4).map((s) => s.items)).toEqual([[7]]);
    release.splice(0).forEach((r) => r());
    await Promise.all(more);
  });

  it("collects a shard's arrivals while its previous accept is in flight, and sends them when it answers", async () => {
    const { sent, release, submit } = recorder({ maxJobs: 100, maxBytes: 1000, maxWaitMs: 60_000 });
    const first = submit(0, 1);
    await turn();
    const later = [2, 3, 4].map((n) => submit(0, n));
    await turn();
    await turn();
    expect(sent.map((s) => s.items)).toEqual([[1]]);
    release.shift()!();
    await first;
    await turn();
    await turn();
    expect(sent.map((s) => s.items)).toEqual([[1], [2, 3, 4]]);
    release.shift()!();
    await Promise.all(later);
  });

  it("fails every member of a failed accept, and no other", async () => {
    const { release, submit, failWhen } = recorder();
    failWhen((shard) => shard === 0);
    const a = submit(0, 1);
    const b = submit(0, 2);
    const c = submit(1, 3);
    await turn();
    release.splice(0).forEach((r) => r());
    await expect(a).rejects.toThrow("reset");
    await expect(b).rejects.toThrow("reset");
    await expect(c).resolves.toBe("accepted");
  });

  it("sends a group whose predecessor never answers after maxWaitMs", async () => {
    const { sent, release, submit } = recorder({ maxJobs: 10, maxBytes: 1000, maxWaitMs: 20 });
    void submit(0, 1);
    await turn();
    const second = submit(0, 2);
    await new Promise((r) => setTimeout(r, 60));
    expect(sent.map((s) => s.items)).toEqual([[1], [2]]);
    release[1]!();
    await second;
  });

  it("answers late to a member whose group has not answered within its wait", async () => {
    const committer = new GroupCommitter<null, number>(() => new Promise(() => undefined), { maxJobs: 10, maxBytes: 1000, maxWaitMs: 10 });
    expect(await committer.submit(null, 0, 1, 1, { versionId: "v", text: "" }, 30)).toBe("late");
  });

  it("has bounds that fit one RPC and one commit", () => {
    expect(INTAKE_GROUP_MAX_JOBS).toBeGreaterThan(1);
    // A single submission (≤ 1 MiB of input, ≤ 1 MiB of definition) always fits a group of its own.
    expect(INTAKE_GROUP_MAX_BYTES).toBeGreaterThanOrEqual(2 * 1024 * 1024);
    expect(INTAKE_GROUP_MAX_BYTES).toBeLessThan(32 * 1024 * 1024);
  });
});

describe("intake shards", () => {
  it("gives every id one shard in range, and makes new ids in the shard asked for", () => {
    expect(INTAKE_SHARDS & (INTAKE_SHARDS - 1)).toBe(0);
    for (let shard = 0; shard < INTAKE_SHARDS; shard++) {
      const id = newIdInShard(shard);
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(intakeShardOf(id)).toBe(shard);
    }
    expect(intakeShardOf("ffffffff-0000-8000-8000-000000000000")).toBe(INTAKE_SHARDS - 1);
    expect(intakeShardOf("00000000-0000-4000-8000-000000000000")).toBe(0);
  });
});
