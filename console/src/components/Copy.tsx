/** Copy buttons for ids and JSON, and a collapsible JSON block with one. */
import { useState, type ReactNode } from "react";
import { json } from "./format";

async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

/** A button that copies `text`; its label says what (`Copy job id`), and it says when it did. */
export function CopyButton({ text, label }: { text: string; label: string }) {
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");
  return (
    <button
      type="button"
      className="copy"
      aria-label={label}
      onClick={() =>
        void copyText(text).then((ok) => {
          setState(ok ? "copied" : "failed");
          setTimeout(() => setState("idle"), 2000);
        })
      }
    >
      {state === "copied" ? "Copied" : state === "failed" ? "Copy failed" : "Copy"}
      <span className="visually-hidden" aria-live="polite">
        {state === "copied" ? `${label}: copied` : state === "failed" ? `${label}: the browser refused` : ""}
      </span>
    </button>
  );
}

/** A JSON value in a collapsible block, with a copy button; `label` names it for screen readers and the copy button. */
export function JsonBlock({ value, label, open = true, note }: { value: unknown; label: string; open?: boolean; note?: ReactNode }) {
  const text = value === undefined ? "" : typeof value === "string" ? value : json(value);
  return (
    <details className="json-block" open={open}>
      <summary>
        {label}
        {note ? <span className="muted"> {note}</span> : null}
      </summary>
      {value === undefined ? (
        <p className="muted">–</p>
      ) : (
        <div className="json-body">
          <CopyButton text={text} label={`Copy ${label.toLowerCase()}`} />
          <pre tabIndex={0} aria-label={label}>
            {text}
          </pre>
        </div>
      )}
    </details>
  );
}
