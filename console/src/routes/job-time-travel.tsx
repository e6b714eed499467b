/**
 * Time travel on the job page (docs/time-travel.md): Rerun (a new job from any step of an ended one,
 * on any version of its workflow, optionally with a new input) and Pause / Unpause (a running job and
 * its descendants start no new step attempt). Each is offered only when the job's status allows it
 * and the token has its permission: rerun needs job:submit, pause and unpause job:update.
 */
import { useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { useNavigate } from "react-router";
import type { Can } from "../api/caller";
import { client, ok } from "../api/client";
import { isTerminal, type HistoryItem, type JobSummary, type RerunJobRequest } from "../api/types";
import { useWorkflowVersions } from "../api/versions";
import { json, shortId } from "../components/format";
import { InputEditor, useInputCheck } from "../components/InputEditor";
import { defaultRerunStep } from "../components/rerun-step";
import { ErrorBox } from "../components/States";
import { definitionGraph } from "../definition";

/** Which time-travel actions a job offers this caller. */
export function offeredTimeTravel(job: JobSummary, can: Can): { rerun: boolean; pause: boolean; unpause: boolean } {
  const running = !isTerminal(job.status);
  return {
    rerun: isTerminal(job.status) && can("job:submit"),
    pause: running && !job.paused && can("job:update"),
    unpause: running && !!job.paused && can("job:update"),
  };
}

/** The step names of a definition, in its order (none for text that is no definition). */
function stepNames(definition: string | undefined): string[] {
  if (!definition) return [];
  try {
    return definitionGraph(definition).nodes.map((n) => n.name);
  } catch {
    return [];
  }
}

export interface RerunDialogProps {
  org: string;
  job: JobSummary;
  /** The job's own version's definition: its steps are the ones offered. */
  definition: string | undefined;
  history: HistoryItem[];
  /** The job's workflowInput, the new input's starting point. */
  input: unknown;
  open: boolean;
  onClose: () => void;
}

/** The Rerun dialog: a step, a version, optionally a new input; on success the new job opens. */
export function RerunDialog({ org, job, definition, history, input, open, onClose }: RerunDialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const navigate = useNavigate();
  const steps = useMemo(() => stepNames(definition), [definition]);
  const preselected = defaultRerunStep(job, history, steps);
  const versions = useWorkflowVersions(org, open ? job.workflowId : undefined);
  // Untouched, the picker shows the preselected step (the steps come with the definition, maybe after the dialog opened).
  const [picked, setPicked] = useState<string>();
  const fromStep = picked ?? preselected ?? "";
  const [versionId, setVersionId] = useState(job.workflowVersion.versionId);
  const [replaceInput, setReplaceInput] = useState(false);
  // Untouched, the editor shows the job's input (read with its state, maybe after the dialog opened).
  const [edited, setEdited] = useState<string>();
  const text = edited ?? json(input ?? {});
  const [error, setError] = useState<Error>();
  const [busy, setBusy] = useState(false);
  const chosen = versions.versions.find((v) => v.versionId === versionId);
  const check = useInputCheck(chosen?.definition ?? definition ?? "{}", text);

  // Each opening starts from this job's defaults.
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) {
      setPicked(undefined);
      setVersionId(job.workflowVersion.versionId);
      setReplaceInput(false);
      setEdited(undefined);
      setError(undefined);
      d.showModal();
    }
    if (!open && d.open) d.close();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [open]);

  async function rerun(e: FormEvent) {
    e.preventDefault();
    if (replaceInput && check.problems.length > 0) return;
    setBusy(true);
    setError(undefined);
    try {
      const body: RerunJobRequest = {
        ...(fromStep ? { fromStep } : {}),
        workflowVersion: { versionId },
        ...(replaceInput ? { inputJson: JSON.parse(text) as Record<string, unknown> | unknown[] } : {}),
      };
      const { jobId } = await ok(client.POST("/organizations/{organizationId}/jobs/{jobId}/rerun", { params: { path: { organizationId: org, jobId: job.jobId } }, body }));
      onClose();
      navigate(`/organizations/${org}/jobs/${jobId}`);
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  }

  const own = job.workflowVersion;
  return (
    <dialog ref={ref} className="start-job rerun-job" aria-labelledby="rerun-title" onClose={() => open && onClose()}>
      <form onSubmit={rerun}>
        <h2 id="rerun-title">
          Rerun {job.workflowName} <code>{shortId(job.jobId)}</code>
        </h2>
        <p className="muted">
          A new job begins at the step you choose, with what this job's earlier steps produced; none of them runs again. This job is left as it is.
        </p>
        <label>
          Begin at step
          <select name="fromStep" value={fromStep} onChange={(e) => (setPicked(e.target.value), setError(undefined))} required>
            {steps.length === 0 && (
              <option value="" disabled>
                {definition === undefined ? "Loading the steps…" : "The definition lists no step"}
              </option>
            )}
            {steps.map((s) => (
              <option key={s} value={s}>
                {s}
                {s === preselected && job.status !== "SUCCEEDED" ? ` (where it ${job.status === "FAILED" ? "failed" : "was cancelled"})` : ""}
              </option>
            ))}
          </select>
        </label>
        <label>
          Version
          <select name="version" value={versionId} onChange={(e) => (setVersionId(e.target.value), setError(undefined))}>
            {!chosen && versionId === own.versionId && <option value={own.versionId}>v{own.versionNumber} (this job's)</option>}
            {versions.versions.map((v) => (
              <option key={v.versionId} value={v.versionId}>
                v{v.versionNumber}
                {v.tags.length > 0 ? ` [${v.tags.join(", ")}]` : ""}
                {v.versionId === own.versionId ? " (this job's)" : ""}
              </option>
            ))}
          </select>
        </label>
        {versions.more && (
          <button type="button" className="link-button" onClick={versions.loadMore} disabled={versions.loading}>
            {versions.loading ? "Loading versions…" : "Load more versions"}
          </button>
        )}
        {versions.error && <ErrorBox error={versions.error} title="Could not list the versions" />}
        <label className="checkbox">
          <input type="checkbox" checked={replaceInput} onChange={(e) => setReplaceInput(e.target.checked)} /> Replace the job's input (workflowInput)
        </label>
        {replaceInput && <InputEditor id="rerun-input" label="New input" text={text} onChange={setEdited} check={check} rows={8} />}
        {error && <ErrorBox error={error} title="The job was not rerun" />}
        <div className="actions">
          <button type="button" onClick={onClose}>
            Close
          </button>
          <button type="submit" disabled={busy || fromStep === "" || (replaceInput && check.problems.length > 0)}>
            {busy ? "Rerunning…" : "Rerun"}
          </button>
        </div>
      </form>
    </dialog>
  );
}

export interface TimeTravelActionsProps extends Omit<RerunDialogProps, "open" | "onClose"> {
  can: Can;
  /** After a pause or unpause: what it did, said by the page. */
  onDone: (message: string) => void;
}

/** The Rerun, Pause and Unpause buttons (JobActions' `more`), with the Rerun dialog. */
export function TimeTravelActions({ can, onDone, ...rerun }: TimeTravelActionsProps) {
  const { org, job } = rerun;
  const offered = offeredTimeTravel(job, can);
  const [rerunning, setRerunning] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error>();

  async function pause(paused: boolean) {
    setBusy(true);
    setError(undefined);
    const params = { path: { organizationId: org, jobId: job.jobId } };
    try {
      const answer = await ok(client.POST(paused ? "/organizations/{organizationId}/jobs/{jobId}/pause" : "/organizations/{organizationId}/jobs/{jobId}/unpause", { params }));
      onDone(paused ? "Paused: the job starts no new step until it is unpaused." : answer.paused ? "Still paused: a job above it is paused." : "Unpaused.");
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      {offered.rerun && (
        <button type="button" onClick={() => setRerunning(true)}>
          Rerun…
        </button>
      )}
      {offered.pause && (
        <button type="button" disabled={busy} onClick={() => void pause(true)}>
          Pause job
        </button>
      )}
      {offered.unpause && (
        <button type="button" disabled={busy} onClick={() => void pause(false)}>
          Unpause job
        </button>
      )}
      {error && <ErrorBox error={error} title="The action failed" />}
      {offered.rerun && <RerunDialog {...rerun} open={rerunning} onClose={() => setRerunning(false)} />}
    </>
  );
}
