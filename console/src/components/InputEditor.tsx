/**
 * A workflow input typed as JSON, checked as it is typed against a version's workflowInput schema:
 * the Start job dialog (workflow page) and the Rerun dialog (job page) edit an input the same way.
 */
import { useMemo } from "react";
import { definitionsOf, inputProblems } from "../schema";

export interface InputCheck {
  problems: string[];
  /** Whether the version declares a workflowInput schema (else only JSON is checked). */
  hasSchema: boolean;
}

/** What is wrong with `text` as an input of the version whose definition is `definitionText`. */
export function useInputCheck(definitionText: string, text: string): InputCheck {
  const definitions = useMemo(() => definitionsOf(definitionText), [definitionText]);
  return useMemo(() => {
    const hasSchema = Object.hasOwn(definitions, "workflowInput");
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      return { problems: [`Not valid JSON: ${(e as Error).message}`], hasSchema };
    }
    return { problems: inputProblems(definitions, value), hasSchema };
  }, [text, definitions]);
}

export interface InputEditorProps {
  id: string;
  label: string;
  text: string;
  onChange: (text: string) => void;
  check: InputCheck;
  rows?: number;
}

/** The textarea and, beside it, what the check found (announced as it changes). */
export function InputEditor({ id, label, text, onChange, check, rows = 12 }: InputEditorProps) {
  const problemsId = `${id}-problems`;
  return (
    <>
      <label htmlFor={id}>{label}</label>
      <textarea
        id={id}
        rows={rows}
        value={text}
        onChange={(e) => onChange(e.target.value)}
        spellCheck={false}
        aria-invalid={check.problems.length > 0}
        aria-describedby={problemsId}
      />
      <div id={problemsId} aria-live="polite">
        {check.problems.length === 0 ? (
          <p className="ok">{check.hasSchema ? "The input matches the workflow's workflowInput schema." : "Valid JSON (the workflow declares no workflowInput schema)."}</p>
        ) : (
          <ul className="field-error">
            {check.problems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        )}
      </div>
    </>
  );
}
