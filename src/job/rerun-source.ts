/**
 * The source job's side of a rerun (src/job/rerun.ts), run inside the source run's object: it picks
 * the step to begin at, rebuilds the execution data as it stood when that step last began, checks
 * that data against the chosen version's schemas with the checks registration and run time use, and
 * answers a plan that names where every value is (the values themselves travel later, in pages).
 * Nothing here writes: the source is untouched.
 */
import { validateWorkflowInput } from "../definition/json-schema";
import type { WorkflowDefinition } from "../definition/schema";
import { payloadTooLargeToRead, TooLargeToRead } from "../engine/payload";
import { dataAt, rerunPoint, type DataCell } from "../engine/rerun-point";
import { isTerminal } from "../engine/status";
import { validateStepValue } from "../engine/step-data";
import type { JobState } from "../engine/types";
import { ConflictError, PayloadTooLargeError, ValidationError } from "../errors";
import { MAX_PAYLOAD_BYTES, RERUN_COPY_PAGE_BYTES, RERUN_COPY_PAGE_ROWS, RERUN_MAX_COPY_PAGES } from "../limits";
import { parsedDefinition } from "./definition-cache";
import type { CopyPage, RerunAnswer, RerunPlan, RerunRequest } from "./rerun-types";
import { StateReader } from "./state-reader";
import type { JobStore } from "./store";
import type { TimeTravelRows } from "./time-travel-rows";

/** The source run, as its object holds it. */
export interface RerunSource {
  state: JobState;
  definition: WorkflowDefinition;
  store: JobStore;
  rows: TimeTravelRows;
}

/** Plans a rerun of this run; throws the ApiError the caller answers when the rerun cannot be. */
export function planRerun(src: RerunSource, req: RerunRequest): RerunAnswer {
  const s = src.state;
  const jobId = s.identity.jobId;
  if (!isTerminal(s.status)) {
    throw new ConflictError(`Job ${jobId} is ${s.status}; only a job that has ended can be rerun (pause or cancel it first).`);
  }
  const fromStep = req.fromStep ?? defaultFromStep(src);
  const target = parsedDefinition(req.target.versionId, req.target.definition);
  const version = `version ${req.target.versionNumber}`;
  if (!target.steps.some((step) => step.name === fromStep)) {
    throw new ValidationError(`Step "${fromStep}" is not a step of ${version} of workflow ${s.identity.workflowName}.`, [`fromStep: ${version} has no step "${fromStep}"`], {
      fromStep: `${version} has no step "${fromStep}"`,
    });
  }

  const made = src.rows.rerunMade();
  if (req.onlyLatest && made) {
    if (made.versionId === req.target.versionId && made.fromStep === fromStep) return { existing: made };
    throw new ConflictError(
      `Job ${jobId} was already rerun as job ${made.jobId} (version ${made.versionNumber}, from step "${made.fromStep}"), which carries it on: rerun that job instead.`,
    );
  }
  const facts = src.rows.historyFacts();
  const ranSomething = facts.some((f) => !f.external);
  // Where the run stopped: the step it failed or was cancelled in, or its first if it ran nothing.
  const stopStep = s.resumeStepName ?? (ranSomething ? undefined : src.definition.steps[0]!.name);
  const point = rerunPoint(facts, fromStep, { ...(stopStep ? { stepName: stopStep } : {}), attempt: s.attemptCounters[fromStep] });
  if (point === null) {
    const lineage = s.identity.rerunOf ? ` It reruns job ${s.identity.rerunOf.jobId} from step "${s.identity.rerunOf.fromStep}": to begin earlier, rerun that job.` : "";
    throw new ValidationError(`Step "${fromStep}" did not run in job ${jobId} (run ${s.identity.runNumber}); a rerun begins at a step the job reached.${lineage}`, [
      `fromStep: step "${fromStep}" did not run in run ${s.identity.runNumber} of job ${jobId}`,
    ]);
  }
  const { data, previousStepName } = dataAt(facts, point, startData(src, facts), src.rows.startPreviousStep());
  if (req.replacesInput) data.delete("workflowInput");
  checkAgainst(src, target, fromStep, data, `Job ${jobId} cannot be rerun from step "${fromStep}" on ${version}: the data it copies does not fit that version's schemas.`);
  const plan: RerunPlan = {
    source: { jobId, runNumber: s.identity.runNumber },
    fromStep,
    ...(previousStepName !== undefined ? { previousStepName } : {}),
    attemptCounters: { ...s.attemptCounters },
    refs: [...data].flatMap(([key, d]) => (d.cell.kind === "ref" ? [{ key, ref: d.cell.ref }] : [])),
    pages: copyPages(data, (stepName, attempt) => src.store.childRows.copyRanges(stepName, attempt, RERUN_COPY_PAGE_BYTES, RERUN_COPY_PAGE_ROWS)),
  };
  return { plan };
}

/** The step a FAILED or CANCELLED job stopped at; a SUCCEEDED one has none, so the caller must say. */
function defaultFromStep(src: RerunSource): string {
  const s = src.state;
  if (s.status === "SUCCEEDED") {
    throw new ValidationError(`Job ${s.identity.jobId} SUCCEEDED: say which step its rerun begins at (fromStep).`, ["fromStep: required to rerun a SUCCEEDED job"], {
      fromStep: "required to rerun a SUCCEEDED job",
    });
  }
  return s.resumeStepName ?? s.error?.stepName ?? src.definition.steps[0]!.name;
}

/**
 * What the run started with. A run that kept it (a rollover carrying everything, a rerun) has it
 * in `start_data`; any other run started with its workflowInput alone, which no step overwrites,
 * so its current row is that start.
 */
function startData(src: RerunSource, facts: ReturnType<TimeTravelRows["historyFacts"]>): Map<string, DataCell> {
  if (src.rows.hasStartData()) return src.rows.dataCells("start_data");
  const written = new Set(facts.flatMap((f) => [`${f.stepName}Input`, `${f.stepName}Output`]));
  // A run from before start rows were kept: its keys that no item wrote are still as it started.
  return new Map([...src.rows.dataCells("data")].filter(([key]) => key === "workflowInput" || !written.has(key)));
}

/**
 * Checks every copied value against the target's schema for it: each step's input and output
 * (except the input `fromStep` computes afresh, and a poll's incomplete result, never checked at
 * run time either), and the workflowInput. Throws one ValidationError naming every mismatch.
 */
function checkAgainst(src: RerunSource, target: WorkflowDefinition, fromStep: string, data: Map<string, DataCell>, message: string): void {
  const problems: string[] = [];
  const reader = new StateReader(src.store);
  // Read only when a schema needs the value, and a step's results only within the payload limit, as the engine reads them.
  const value = (d: DataCell, what: string): unknown => {
    if (d.cell.kind === "ref") {
      const read = reader.resultsWithin(d.cell.ref, MAX_PAYLOAD_BYTES);
      if ("tooLarge" in read) throw new TooLargeToRead(payloadTooLargeToRead(what, read.tooLarge));
      return read.value;
    }
    const json = src.rows.readValue(d.from);
    return json === undefined ? undefined : JSON.parse(json);
  };
  /** The schema problems of one copied value; one over the payload limit is one (the engine could not read it either). */
  const check = (label: string, validate: () => string[]): void => {
    try {
      for (const e of validate()) problems.push(`${label}: ${e}`);
    } catch (e) {
      if (!(e instanceof TooLargeToRead)) throw e;
      problems.push(`${label}: ${e.error.code}: ${e.error.message}`);
    }
  };
  const input = data.get("workflowInput");
  if (input) check("workflowInput", () => validateWorkflowInput(target.definitions, value(input, "workflowInput")));
  for (const step of target.steps) {
    const details = step.integrationDetails;
    const stepInput = data.get(`${step.name}Input`);
    if (stepInput && step.name !== fromStep) {
      const key = `${step.name}Input`;
      check(`step "${step.name}", its input (${key})`, () => validateStepValue(target, details.inputDefinition, () => value(stepInput, key)));
    }
    const stepOutput = data.get(`${step.name}Output`);
    if (stepOutput && !stepOutput.incomplete) {
      const key = `${step.name}Output`;
      check(`step "${step.name}", its output (${key})`, () => validateStepValue(target, details.outputDefinition, () => value(stepOutput, key)));
    }
  }
  if (problems.length > 0) throw new ValidationError(message, problems);
}

/**
 * The copy in RPCs of at most RERUN_COPY_PAGE_BYTES each: values first, then each reference's child
 * rows in the ranges `childRanges` gives. More than RERUN_MAX_COPY_PAGES RPCs is refused (413).
 */
export function copyPages(
  data: Map<string, DataCell>,
  childRanges: (stepName: string, attempt: number) => { fromIndex: number; toIndex: number }[],
): CopyPage[] {
  const pages: CopyPage[] = [];
  let values: { key: string; from: DataCell["from"] }[] = [];
  let bytes = 0;
  for (const [key, d] of data) {
    if (d.cell.kind !== "value") continue;
    if (values.length > 0 && bytes + d.cell.bytes > RERUN_COPY_PAGE_BYTES) {
      pages.push({ values });
      values = [];
      bytes = 0;
    }
    values.push({ key, from: d.from });
    bytes += d.cell.bytes;
  }
  if (values.length > 0) pages.push({ values });
  const sets = new Map<string, { stepName: string; attempt: number }>();
  for (const d of data.values()) if (d.cell.kind === "ref") sets.set(`${d.cell.ref.children.stepName}\u0000${d.cell.ref.children.attempt}`, d.cell.ref.children);
  for (const { stepName, attempt } of sets.values()) {
    for (const range of childRanges(stepName, attempt)) pages.push({ children: { stepName, attempt, ...range } });
  }
  if (pages.length > RERUN_MAX_COPY_PAGES) {
    throw new PayloadTooLargeError(
      `The rerun would copy its execution data and child results in ${pages.length} requests of up to ${RERUN_COPY_PAGE_BYTES} bytes; a rerun copies in at most ${RERUN_MAX_COPY_PAGES}.`,
    );
  }
  return pages;
}
