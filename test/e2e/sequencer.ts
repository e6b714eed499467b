/**
 * The order files start in. Vitest's own (kept within each group): a file that failed last time
 * first, then the longest by the last run's times, and without them (a fresh clone, as in CI)
 * the largest first. Among e2e files, those that run their own server (kill, restart, or need it
 * to themselves) start before those that share one: they hold the suite's longest waits (a crash
 * and its restarts, ten seconds of downtime), so starting them last would leave the suite waiting
 * on them alone at the end.
 */
import { readFileSync } from "node:fs";
import { BaseSequencer, type TestSpecification } from "vitest/node";

const ownsServer = (spec: TestSpecification) => /new EngineServer\(/.test(readFileSync(spec.moduleId, "utf8"));

export class OwnServersFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const first = sorted.filter((f) => f.project.name === "e2e" && ownsServer(f));
    return [...first, ...sorted.filter((f) => !first.includes(f))];
  }
}
