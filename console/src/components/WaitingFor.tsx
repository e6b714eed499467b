/**
 * What a job that has not ended waits for, in words (GetJob's `waitingFor`): "waiting for event
 * manager-approved since 10:41", "retrying step charge in 12 s (attempt 3 of 4)", "waiting for 250
 * of 300 children", "sleeping until 11:00".
 */
import type { ReactNode } from "react";
import type { WaitingFor as Waiting } from "../api/types";
import { clock, shortId, span, utc } from "./format";

function At({ iso, now }: { iso: string; now: number }) {
  return (
    <time dateTime={iso} title={utc(iso)}>
      {clock(iso, now)}
    </time>
  );
}

/** `a`, `a and b`, `a, b and c`, each as code. */
function names(ids: string[]): ReactNode[] {
  return ids.flatMap((id, i) => [i === 0 ? "" : i === ids.length - 1 ? " and " : ", ", <code key={id}>{id}</code>]);
}

function In({ iso, now }: { iso: string; now: number }) {
  const ms = Date.parse(iso) - now;
  return <time dateTime={iso} title={utc(iso)}>{ms > 0 ? `in ${span(ms)}` : "now"}</time>;
}

function sentence(w: Waiting, now: number): ReactNode {
  switch (w.kind) {
    case "resourcePool":
      return (
        <>
          waiting for a lease in resource pool <code title={w.poolId}>{shortId(w.poolId)}</code>
          {w.since && (
            <>
              {" "}
              since <At iso={w.since} now={now} />
            </>
          )}
        </>
      );
    case "call":
      return (
        <>
          running step <code>{w.stepName}</code>: waiting for its answer since <At iso={w.since} now={now} /> (attempt {w.attempt} of {w.attemptsAllowed})
        </>
      );
    case "retry":
      return (
        <>
          retrying step <code>{w.stepName}</code> <In iso={w.until} now={now} /> (attempt {w.attempt} of {w.attemptsAllowed})
        </>
      );
    case "poll":
      return (
        <>
          polling step <code>{w.stepName}</code>: next poll <In iso={w.until} now={now} /> ({w.polls} {w.polls === 1 ? "poll" : "polls"} so far)
        </>
      );
    case "events":
      return (
        <>
          {w.eventIds.length === 0 ? "about to use the events it received" : <>waiting for {w.eventIds.length === 1 ? "event" : "events"} {names(w.eventIds)}</>} since{" "}
          <At iso={w.since} now={now} /> at step <code>{w.stepName}</code>
          {w.received.length > 0 && <> (received: {names(w.received)})</>}
          {w.timeoutAt && (
            <>
              ; times out at <At iso={w.timeoutAt} now={now} />
            </>
          )}
        </>
      );
    case "timer":
      return (
        <>
          sleeping until <At iso={w.until} now={now} /> at step <code>{w.stepName}</code> (<In iso={w.until} now={now} />)
        </>
      );
    case "unpause":
      return (
        <>
          paused before step <code>{w.stepName}</code>: it begins at unpause
        </>
      );
    case "children": {
      const open = w.running + w.notStarted;
      return (
        <>
          waiting for {open} of {w.total} {w.total === 1 ? "child" : "children"} at step <code>{w.stepName}</code> ({w.succeeded} succeeded, {w.failed} did not
          {w.notStarted > 0 ? `, ${w.notStarted} not started yet` : ""}; {w.toleratedFailures} {w.toleratedFailures === 1 ? "failure" : "failures"} tolerated)
        </>
      );
    }
  }
}

/** The pending state of a job, as a sentence. */
export function WaitingLine({ waiting, now }: { waiting: Waiting; now: number }) {
  return (
    <p className="waiting" data-testid="waiting-for">
      <span className="waiting-mark" aria-hidden="true" />
      {sentence(waiting, now)}
    </p>
  );
}
