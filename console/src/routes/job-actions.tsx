/**
 * The job page's actions: cancel, resume and send an event, each offered only when the job's status
 * allows it and the token has its permission. The event form suggests the event ids the job awaits
 * and asks again before sending one it does not. More actions (rerun, pause) go in `ActionList`.
 */
import { useMemo, useState, type FormEvent, type ReactNode } from "react";
import { client, ok } from "../api/client";
import type { Can } from "../api/caller";
import { isTerminal, type JobSummary } from "../api/types";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { shortId } from "../components/format";
import { ErrorBox } from "../components/States";

type Confirming = { kind: "cancel" } | { kind: "resume" } | { kind: "unawaited"; eventId: string };

/** Which actions a job offers this caller. */
export function offeredActions(job: JobSummary, can: Can): { cancel: boolean; resume: boolean; sendEvent: boolean } {
  const terminal = isTerminal(job.status);
  return {
    cancel: !terminal && can("job:cancel"),
    resume: (job.status === "FAILED" || job.status === "CANCELLED") && can("job:update"),
    sendEvent: !terminal && can("job:event:send"),
  };
}

export interface JobActionsProps {
  org: string;
  job: JobSummary;
  can: Can;
  /** Every event id a step of the job's workflow waits for (the form suggests them). */
  definitionEventIds?: ReadonlySet<string>;
  /** After an action: what it did, said by the page (the panel may be gone: an event can end the job). */
  onDone: (message: string) => void;
  /** Actions other features add beside these (rerun, pause): rendered in the same list. */
  more?: ReactNode;
}

export function JobActions({ org, job, can, definitionEventIds, onDone, more }: JobActionsProps) {
  const offered = offeredActions(job, can);
  const [confirm, setConfirm] = useState<Confirming>();
  const [error, setError] = useState<Error>();
  const [eventId, setEventId] = useState("");
  const [payload, setPayload] = useState("{}");
  const params = { path: { organizationId: org, jobId: job.jobId } };
  const awaitedNow = job.waitingFor?.kind === "events" ? job.waitingFor.eventIds : [];
  const suggestions = useMemo(() => [...new Set([...awaitedNow, ...(definitionEventIds ?? [])])], [awaitedNow, definitionEventIds]);
  const payloadProblem = useMemo(() => {
    if (payload.trim() === "") return undefined;
    try {
      JSON.parse(payload);
      return undefined;
    } catch (e) {
      return (e as Error).message;
    }
  }, [payload]);
  const typed = eventId.trim();
  const unawaited = typed !== "" && !awaitedNow.includes(typed);

  if (!offered.cancel && !offered.resume && !offered.sendEvent && !more) return null;

  async function run(action: "cancel" | "resume") {
    setConfirm(undefined);
    setError(undefined);
    try {
      if (action === "cancel") await ok(client.POST("/organizations/{organizationId}/jobs/{jobId}/cancel", { params }));
      else await ok(client.POST("/organizations/{organizationId}/jobs/{jobId}/resume", { params }));
      onDone(action === "cancel" ? "Cancel requested." : "Resumed.");
    } catch (e) {
      setError(e as Error);
    }
  }

  async function send() {
    setConfirm(undefined);
    setError(undefined);
    try {
      const body = payload.trim() === "" ? { eventId: typed } : { eventId: typed, payload: JSON.parse(payload) as unknown };
      await ok(client.POST("/organizations/{organizationId}/jobs/{jobId}/events", { params, body }));
      onDone(`Event ${typed} sent.`);
    } catch (err) {
      setError(err as Error);
    }
  }

  function submit(e: FormEvent) {
    e.preventDefault();
    if (payloadProblem || typed === "") return;
    if (unawaited) setConfirm({ kind: "unawaited", eventId: typed });
    else void send();
  }

  const dialog =
    confirm?.kind === "cancel"
      ? {
          title: "Cancel this job?",
          body: `${job.workflowName} ${shortId(job.jobId)} and every unfinished descendant will be cancelled.`,
          confirmLabel: "Yes, cancel it",
          onConfirm: () => void run("cancel"),
        }
      : confirm?.kind === "resume"
        ? { title: "Resume this job?", body: `${job.workflowName} ${shortId(job.jobId)} restarts at the step it stopped on.`, confirmLabel: "Yes, resume it", onConfirm: () => void run("resume") }
        : confirm?.kind === "unawaited"
          ? {
              title: "Send an event the job does not await?",
              body:
                awaitedNow.length > 0
                  ? `The job waits for ${awaitedNow.join(", ")}, not ${confirm.eventId}. The event is kept, and used only if a later step waits for it.`
                  : `The job is not waiting for any event now. ${confirm.eventId} is kept, and used only if a later step waits for it.`,
              confirmLabel: "Send it anyway",
              onConfirm: () => void send(),
            }
          : undefined;

  return (
    <section aria-labelledby="actions-h" className="panel actions-panel">
      <h2 id="actions-h">Actions</h2>
      <div className="actions">
        {offered.cancel && (
          <button type="button" className="danger" onClick={() => setConfirm({ kind: "cancel" })}>
            Cancel job
          </button>
        )}
        {offered.resume && (
          <button type="button" onClick={() => setConfirm({ kind: "resume" })}>
            Resume job
          </button>
        )}
        {more}
      </div>
      {offered.sendEvent && (
        <form className="send-event" onSubmit={submit} aria-label="Send an event">
          <label>
            Event id
            <input
              name="eventId"
              value={eventId}
              onChange={(e) => setEventId(e.target.value)}
              required
              maxLength={200}
              list="awaited-events"
              autoComplete="off"
              aria-describedby="event-hint"
            />
          </label>
          <datalist id="awaited-events">
            {suggestions.map((id) => (
              <option key={id} value={id} />
            ))}
          </datalist>
          <p id="event-hint" className={unawaited ? "field-warning" : "muted"} aria-live="polite">
            {unawaited
              ? awaitedNow.length > 0
                ? `The job does not wait for ${typed}: it waits for ${awaitedNow.join(", ")}.`
                : `The job is not waiting for any event now.`
              : awaitedNow.length > 0
                ? `The job waits for ${awaitedNow.join(", ")}.`
                : "Events that arrive before a step waits for them are kept for it."}
          </p>
          <label>
            Payload (JSON)
            <textarea
              name="payload"
              rows={4}
              value={payload}
              onChange={(e) => setPayload(e.target.value)}
              aria-invalid={!!payloadProblem}
              aria-describedby="payload-problem"
              spellCheck={false}
            />
          </label>
          <p id="payload-problem" className={payloadProblem ? "field-error" : "muted"} aria-live="polite">
            {payloadProblem ? `Not valid JSON: ${payloadProblem}` : "Valid JSON."}
          </p>
          <button type="submit" disabled={!!payloadProblem || typed === ""}>
            Send event
          </button>
        </form>
      )}
      {error && <ErrorBox error={error} title="The action failed" />}
      <ConfirmDialog
        open={dialog !== undefined}
        title={dialog?.title ?? ""}
        body={dialog?.body ?? ""}
        confirmLabel={dialog?.confirmLabel ?? ""}
        onConfirm={() => dialog?.onConfirm()}
        onCancel={() => setConfirm(undefined)}
      />
    </section>
  );
}
