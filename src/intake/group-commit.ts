/**
 * Group commit in one isolate: submissions bound for the same intake shard at the same moment are
 * sent in one accept (one RPC, one commit), and each is answered when that accept is durable.
 *
 * The first submission of a group leads it: on an idle shard it sends the group at the end of the
 * current turn (whatever else arrived in it joins); while the shard's previous group is in flight,
 * the new group collects arrivals until that one answers (at most `maxWaitMs`). So the coalescing
 * grows with the load and costs nothing when there is none. A group closes at `maxJobs` jobs or
 * before `maxBytes`, and the next arrival starts another.
 *
 * Every request is resumed only by its own timers, never by another request settling a promise:
 * workerd then runs the continuation in the settling request's context, where this request's I/O
 * is refused and its answer never completes (seen in workerd 1.20261019). So a leader polls whether
 * the shard's previous group has answered (every POLL_MS), and a member whether its group has (from
 * FIRST_POLL_MS, up to every MAX_POLL_MS). A leader that never finishes (its request cancelled) holds the
 * next group back at most `maxWaitMs`; its members then send alone (src/intake/submit.ts).
 */

/** How often a group's leader looks whether the shard's previous group has answered. */
const POLL_MS = 1;
/**
 * A member looks at its group's outcome after 2 ms, then half again as long each time, up to
 * MAX_POLL_MS: an idle shard answers in a few milliseconds, and under load (a thousand requests
 * waiting on one thread) the looks must stay few, or they take the time the accepts need.
 */
const FIRST_POLL_MS = 2;
const MAX_POLL_MS = 40;

export interface GroupBounds {
  maxJobs: number;
  maxBytes: number;
  maxWaitMs: number;
}

/** Sends one group to its shard; resolves once the shard holds it durably. */
export type SendGroup<C, S> = (context: C, shard: number, definitions: Record<string, string>, items: S[]) => Promise<unknown>;

interface Member<S> {
  item: S;
  /** Set by the leader once the group's send has answered. */
  outcome?: { error?: unknown };
}

interface Group<C, S> {
  context: C;
  members: Member<S>[];
  definitions: Map<string, string>;
  bytes: number;
  settled: boolean;
}

export class GroupCommitter<C, S> {
  /** The group of each shard still taking members. */
  private readonly forming = new Map<number, Group<C, S>>();
  /** The latest group of each shard (forming or in flight): the next one waits for it. */
  private readonly latest = new Map<number, Group<C, S>>();

  constructor(
    private readonly send: SendGroup<C, S>,
    private readonly bounds: GroupBounds,
    /** Called as a group is sent (the caller moves its new ids to another shard). */
    private readonly onSend: (shard: number) => void = () => undefined,
  ) {}

  /**
   * Adds `item` (of `bytes`, with its definition) to the shard's forming group; answers "accepted"
   * once the group is, "late" if it has not answered within `waitMs`, and throws the group's error.
   * `context` is used if this item leads its group.
   */
  async submit(context: C, shard: number, item: S, bytes: number, definition: { versionId: string; text: string }, waitMs: number): Promise<"accepted" | "late"> {
    let group = this.forming.get(shard);
    const added = (g: Group<C, S>) => bytes + (g.definitions.has(definition.versionId) ? 0 : definition.text.length);
    if (group && (group.members.length >= this.bounds.maxJobs || group.bytes + added(group) > this.bounds.maxBytes)) {
      // Full: it is sent as it is, when its leader's turn comes.
      this.forming.delete(shard);
      group = undefined;
    }
    let led: Promise<void> | undefined;
    if (!group) {
      group = { context, members: [], definitions: new Map(), bytes: 0, settled: false };
      const previous = this.latest.get(shard);
      this.forming.set(shard, group);
      this.latest.set(shard, group);
      led = this.lead(shard, group, previous);
    }
    group.bytes += added(group);
    group.definitions.set(definition.versionId, definition.text);
    const member: Member<S> = { item };
    group.members.push(member);
    const until = Date.now() + waitMs;
    // The leader's send runs in this request: it is awaited as it is, up to the wait (its group is
    // answered the moment its accept is, with no poll in between).
    if (led) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([led, new Promise((go) => (timer = setTimeout(go, waitMs)))]);
      clearTimeout(timer);
    }
    // A member is resumed by this request's own timers (see above), checking sooner at first: an
    // idle shard's accept answers in a few milliseconds.
    for (let pause = FIRST_POLL_MS; !member.outcome; pause = Math.min(Math.ceil(pause * 1.5), MAX_POLL_MS)) {
      if (Date.now() >= until) return "late";
      await new Promise((go) => setTimeout(go, pause));
    }
    if ("error" in member.outcome) throw member.outcome.error;
    return "accepted";
  }

  /** Waits for this group's turn, then sends it and settles every member. */
  private async lead(shard: number, group: Group<C, S>, previous: Group<C, S> | undefined): Promise<void> {
    // Only this request's own timers resume it: a continuation woken from another request would
    // run in that request's context, where this request's I/O (the send) is refused.
    const until = Date.now() + this.bounds.maxWaitMs;
    do await new Promise((go) => setTimeout(go, previous && !previous.settled ? POLL_MS : 0));
    while (previous && !previous.settled && Date.now() < until);
    if (this.forming.get(shard) === group) this.forming.delete(shard);
    this.onSend(shard);
    try {
      await this.send(group.context, shard, Object.fromEntries(group.definitions), group.members.map((m) => m.item));
      for (const m of group.members) m.outcome = {};
    } catch (error) {
      for (const m of group.members) m.outcome = { error };
    } finally {
      group.settled = true;
      if (this.latest.get(shard) === group) this.latest.delete(shard);
    }
  }
}
