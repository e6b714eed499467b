/**
 * No import cycles in the Worker (src/) or the console (console/src/). Two files that import each
 * other, directly or round a loop, cannot be understood apart; a type both need belongs in a leaf
 * module that both import (src/job/messages.ts, src/engine/types.ts). Type-only imports count:
 * they tie the files together just the same.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../../..");

/** Every .ts/.tsx file under `dir`. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(name) && !name.endsWith(".d.ts") ? [path] : [];
  });
}

const SPECIFIERS = [
  /(?:^|[\s;}])(?:import|export)\s[^;'"]*?\bfrom\s*["']([^"']+)["']/g, // import x from "…", export { y } from "…"
  /(?:^|[\s;])import\s*["']([^"']+)["']/g, // import "…" (side effects)
  /\bimport\(\s*["']([^"']+)["']\s*\)/g, // import("…"), also in type positions
];

/** The project files that `file` imports (relative specifiers only; packages are not ours). */
export function importsOf(file: string, text = readFileSync(file, "utf8")): string[] {
  const found = new Set<string>();
  for (const pattern of SPECIFIERS) {
    for (const m of text.matchAll(pattern)) {
      const spec = m[1]!;
      if (!spec.startsWith(".")) continue;
      const base = resolve(dirname(file), spec);
      const target = [base, `${base}.ts`, `${base}.tsx`, join(base, "index.ts"), join(base, "index.tsx")].find((p) => existsSync(p) && statSync(p).isFile());
      if (target && /\.tsx?$/.test(target)) found.add(target);
    }
  }
  return [...found];
}

/** The strongly connected components of more than one file, or of a file importing itself (Tarjan). */
export function cyclesOf(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    for (let w = stack.pop()!; ; w = stack.pop()!) {
      onStack.delete(w);
      component.push(w);
      if (w === v) break;
    }
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

describe("import cycles", () => {
  it.each(["src", "console/src"])("%s has none", (dir) => {
    const files = sourceFiles(join(ROOT, dir));
    const graph = new Map(files.map((f) => [f, importsOf(f)]));
    const cycles = cyclesOf(graph).map((c) => c.map((f) => relative(ROOT, f)).join(" <-> "));
    expect(cycles).toEqual([]);
  });

  it("finds a cycle when there is one, through a type-only import too", () => {
    const a = join(ROOT, "src/a.ts");
    const b = join(ROOT, "src/b.ts");
    const c = join(ROOT, "src/c.ts");
    const graph = new Map([
      [a, [b]],
      [b, [c]],
      [c, [a]],
    ]);
    expect(cyclesOf(graph)).toEqual([[a, b, c]]);
    expect(cyclesOf(new Map([[a, [b]], [b, []]]))).toEqual([]);
    // The scanner reads every import form, type positions included.
    const scanned = importsOf(join(ROOT, "src/job/naming.ts"), `import type { X } from "./messages";\nexport const y: import("./store").Z = 1;\nexport { w } from "./work";\nimport "./views";`);
    expect(scanned.map((f) => relative(ROOT, f)).sort()).toEqual(["src/job/messages.ts", "src/job/store.ts", "src/job/views.ts", "src/job/work.ts"]);
  });
});
