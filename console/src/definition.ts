/**
 * A workflow definition as a graph: steps are nodes, transitions edges. A JSON Logic `if` gives one
 * labelled edge per branch; a branch that yields null ends the job: its edge goes to the END node,
 * and its step is terminal.
 */
export interface StepNode {
  name: string;
  type: string;
  terminal: boolean;
  first: boolean;
  /** The workflows a runChildJob step starts. */
  children: string[];
}

/** The node every transition to `null` (the job ends) points at. */
export const END = "__end__";

export interface TransitionEdge {
  from: string;
  /** A step's name, or END. */
  to: string;
  label?: string;
}

export interface DefinitionGraph {
  nodes: StepNode[];
  edges: TransitionEdge[];
}

interface RawStep {
  name?: unknown;
  integrationDetails?: { type?: unknown; config?: Record<string, unknown> };
  transitionToStep?: unknown;
}

/** A JSON Logic expression as text: `{">": [{"var": "a.b"}, 0]}` reads `a.b > 0`. */
function logicText(e: unknown): string {
  if (e === null || typeof e !== "object") return JSON.stringify(e);
  if (Array.isArray(e)) return `[${e.map(logicText).join(", ")}]`;
  const [op, raw] = Object.entries(e)[0] ?? ["?", []];
  const args = Array.isArray(raw) ? raw : [raw];
  if (op === "var") return String(args[0]);
  if (op === "!") return `not ${logicText(args[0])}`;
  if (args.length === 2 && /^[<>=!]=?=?$|^(and|or|in|\+|-|\*|\/|%)$/.test(op)) return `${logicText(args[0])} ${op} ${logicText(args[1])}`;
  return `${op}(${args.map(logicText).join(", ")})`;
}

/** A JSON Logic condition, short enough for an edge label. */
function conditionLabel(c: unknown): string {
  const text = logicText(c);
  return text.length > 48 ? text.slice(0, 47) + "…" : text;
}

/** Every target of a transition, each with the condition that leads there. */
function targets(t: unknown, path: string[] = []): { to: string | null; label?: string }[] {
  if (t === null || t === undefined) return [{ to: null, ...(path.length ? { label: path.join(" and ") } : {}) }];
  if (typeof t === "string") return [{ to: t, ...(path.length ? { label: path.join(" and ") } : {}) }];
  if (typeof t === "object" && !Array.isArray(t) && "if" in t && Array.isArray((t as { if: unknown[] }).if)) {
    const args = (t as { if: unknown[] }).if;
    const out: { to: string | null; label?: string }[] = [];
    const negated: string[] = [];
    for (let i = 0; i + 1 < args.length; i += 2) {
      const cond = conditionLabel(args[i]);
      out.push(...targets(args[i + 1], [...path, ...negated, cond]));
      negated.push(`not (${cond})`);
    }
    if (args.length % 2 === 1) out.push(...targets(args[args.length - 1], [...path, negated.length === 1 ? "else" : "otherwise"]));
    else out.push({ to: null, label: [...path, "otherwise"].join(" and ") });
    return out;
  }
  // Computed at run time (a `var`, a `cat`…): the target is not known from the definition.
  return [{ to: "?", label: "computed" }];
}

/** Builds the graph of a definition's JSON text (or throws on text that is no definition). */
export function definitionGraph(text: string): DefinitionGraph {
  const def = JSON.parse(text) as { steps?: RawStep[] };
  const steps = Array.isArray(def.steps) ? def.steps : [];
  const names = new Set(steps.map((s) => String(s.name)));
  const nodes: StepNode[] = [];
  const edges: TransitionEdge[] = [];
  steps.forEach((s, i) => {
    const name = String(s.name);
    const type = String(s.integrationDetails?.type ?? "?");
    const config = s.integrationDetails?.config ?? {};
    const children = type.endsWith("/runChildJob") && Array.isArray(config.children)
      ? (config.children as { workflowName?: string; workflowId?: string }[]).map((c) => c.workflowName ?? c.workflowId ?? "?")
      : [];
    let terminal = false;
    for (const t of targets(s.transitionToStep)) {
      if (t.to === null) {
        terminal = true;
        edges.push({ from: name, to: END, ...(t.label ? { label: t.label } : {}) });
      } else if (names.has(t.to)) edges.push({ from: name, to: t.to, ...(t.label ? { label: t.label } : {}) });
    }
    if (type === "/canopy/continueAsNew" && typeof config.nextStep === "string" && names.has(config.nextStep)) {
      edges.push({ from: name, to: config.nextStep, label: "continue as new" });
    }
    nodes.push({ name, type, terminal, first: i === 0, children });
  });
  return { nodes, edges };
}

/** The executor's short name: `/justworkflowit/runChildJob` → `runChildJob`. */
export const executorName = (type: string) => type.split("/").filter(Boolean).pop() ?? type;
