/**
 * A value the API left out of its answer as too large (a `canopyOmitted` marker, GetJob's
 * outputTooLarge), said in words with its size, and read whole on request through its `read` path:
 * the first CONSOLE_VALUE_SHOWN_CHARS characters shown, and all that was read offered as a download.
 */
import { useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { CONSOLE_VALUE_SHOWN_CHARS } from "../../../src/limits";
import { readValue, type ReadValue } from "../api/read-value";
import type { Omitted } from "../api/history-pages";
import { JsonBlock } from "./Copy";
import { bytes } from "./format";
import { ErrorBox } from "./States";

export interface LargeValueProps {
  /** What the value is: "Job output", "Input". */
  label: string;
  /** Its size in bytes of JSON, as the API gave it. */
  size: number;
  read: string;
  /** The download's file name, without ".json". */
  fileName: string;
}

/** What was read, for the sentence under it: "all 1.2 MiB", or how far reading got. */
function readNote(r: ReadValue, got: number, size: number): string {
  const shown = r.text.length > CONSOLE_VALUE_SHOWN_CHARS ? `Showing the first ${bytes(CONSOLE_VALUE_SHOWN_CHARS)}` : "Showing all of it";
  if (r.complete) return `${shown}; the download holds the whole value (${bytes(got)}).`;
  return `The console read the first ${bytes(got)} of ${bytes(size)}${r.results !== undefined ? ` (${r.results} results)` : ""} and stopped there; the rest is read through the API. ${shown}.`;
}

export function LargeValue({ label, size, read, fileName }: LargeValueProps) {
  const [state, setState] = useState<{ kind: "idle" } | { kind: "loading" } | { kind: "error"; error: Error } | { kind: "read"; value: ReadValue; url: string; got: number }>({ kind: "idle" });
  const abort = useRef<AbortController>(undefined);
  // A new value (or leaving the page) drops what was read, and its download's URL.
  useEffect(() => {
    setState({ kind: "idle" });
    return () => abort.current?.abort();
  }, [read]);
  useEffect(() => (state.kind === "read" ? () => URL.revokeObjectURL(state.url) : undefined), [state]);

  function load() {
    abort.current?.abort();
    const ctl = new AbortController();
    abort.current = ctl;
    setState({ kind: "loading" });
    readValue(read, ctl.signal)
      .then((value) => {
        const blob = new Blob([value.text], { type: "application/json" });
        setState({ kind: "read", value, url: URL.createObjectURL(blob), got: blob.size });
      })
      .catch((error: Error) => {
        if (error.name !== "AbortError") setState({ kind: "error", error });
      });
  }

  const loaded = state.kind === "read" ? state.value : undefined;
  const shown = useMemo(() => (loaded ? JSON.stringify(loaded.value, null, 2).slice(0, CONSOLE_VALUE_SHOWN_CHARS) : ""), [loaded]);
  return (
    <div className="json-block large-value" data-testid="large-value">
      <p>
        <strong>{label}</strong>: too large to show here: {bytes(size)}.
      </p>
      {(state.kind === "idle" || state.kind === "error") && (
        <button type="button" className="small" onClick={load}>
          Load the whole {label.toLowerCase()}
        </button>
      )}
      {state.kind === "loading" && (
        <p className="state loading" role="status">
          Reading {label.toLowerCase()}…
        </p>
      )}
      {state.kind === "error" && <ErrorBox error={state.error} title={`Could not read ${label.toLowerCase()}`} />}
      {state.kind === "read" && (
        <>
          <p className="muted" role="status">
            {readNote(state.value, state.got, size)}{" "}
            <a href={state.url} download={`${fileName}.json`}>
              Download {label.toLowerCase()} ({bytes(state.got)} of JSON)
            </a>
          </p>
          <div className="json-body">
            <pre tabIndex={0} aria-label={label}>
              {shown}
            </pre>
          </div>
        </>
      )}
    </div>
  );
}

/** A value as a JSON block, or, where the API left it out (`omitted`), said so with a way to read it. */
export function ValueBlock({ label, value, omitted, fileName, open, note }: { label: string; value: unknown; omitted: Omitted | undefined; fileName: string; open?: boolean; note?: ReactNode }) {
  if (omitted) return <LargeValue label={label} size={omitted.bytes} read={omitted.read} fileName={fileName} />;
  return <JsonBlock label={label} value={value} {...(open !== undefined ? { open } : {})} note={note} />;
}
