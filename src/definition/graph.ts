/**
 * The transition graph of a definition, as far as its literals tell: which step can follow which.
 * Data-flow checks use it to know which steps can have run before a step, and which step can be
 * `previousStep`.
 */
import { analyzeTransition } from "./json-logic";
import type { WorkflowDefinition } from "./schema";

export interface TransitionGraph {
  /** The step that runs first. */
  first: string;
  /** Step → the steps that may run right after it. */
  successors: ReadonlyMap<string, ReadonlySet<string>>;
  /** Some transition computes its target (a `var`, `cat`, …): the edges are not all known. */
  dynamic: boolean;
}

/** Builds the graph from transitions (every branch) and continueAsNew `nextStep`s. */
export function buildGraph(definition: WorkflowDefinition): TransitionGraph {
  const names = new Set(definition.steps.map((s) => s.name));
  const successors = new Map<string, Set<string>>();
  let dynamic = false;
  for (const step of definition.steps) {
    const next = successors.get(step.name) ?? new Set<string>();
    successors.set(step.name, next);
    const t = step.transitionToStep;
    if (typeof t === "string") next.add(t);
    else if (t !== null) {
      const analysis = analyzeTransition(t);
      dynamic ||= analysis.dynamic;
      analysis.targets.forEach((target) => next.add(target));
    }
    const nextStep = step.integrationDetails.config?.nextStep;
    if (step.integrationDetails.type === "/canopy/continueAsNew" && typeof nextStep === "string") next.add(nextStep);
    for (const target of next) if (!names.has(target)) next.delete(target);
  }
  return { first: definition.steps[0]?.name ?? "", successors, dynamic };
}

/** Steps reachable from `start` by one or more transitions. */
export function reachableFrom(graph: TransitionGraph, start: string): Set<string> {
  const seen = new Set<string>();
  const stack = [...(graph.successors.get(start) ?? [])];
  while (stack.length > 0) {
    const step = stack.pop() as string;
    if (seen.has(step)) continue;
    seen.add(step);
    stack.push(...(graph.successors.get(step) ?? []));
  }
  return seen;
}

/** What the graph says about the order steps run in, precomputed once per definition. */
export interface RunOrder {
  /** The step can run at all (the first step, or reachable from it). */
  reachable(step: string): boolean;
  /** `before` can have run (completed) at some point before `step` runs. */
  canRunBefore(before: string, step: string): boolean;
  /** The steps that can run immediately before `step` (its `previousStep`). */
  previousSteps(step: string): string[];
}

/** Precomputes reachability; with a dynamic graph nothing is known, so every question answers "maybe". */
export function runOrder(graph: TransitionGraph): RunOrder {
  const fromFirst = reachableFrom(graph, graph.first);
  fromFirst.add(graph.first);
  const reach = new Map<string, Set<string>>();
  const reachOf = (step: string): Set<string> => {
    let r = reach.get(step);
    if (!r) reach.set(step, (r = reachableFrom(graph, step)));
    return r;
  };
  return {
    reachable: (step) => graph.dynamic || fromFirst.has(step),
    canRunBefore: (before, step) => graph.dynamic || (fromFirst.has(before) && reachOf(before).has(step)),
    previousSteps: (step) =>
      [...graph.successors.entries()].filter(([from, next]) => fromFirst.has(from) && next.has(step)).map(([from]) => from),
  };
}
