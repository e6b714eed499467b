/**
 * The README and the guides in docs/ point at each other and at the code. A guide that names a file
 * that moved, or a heading that was renamed, sends the next reader nowhere; this test fails instead.
 * For every Markdown file it checks that:
 * - a relative link names a file that exists (links into src/, test/… included);
 * - a link's #fragment names a heading of its target (GitHub's slugs);
 * - a repository path in backticks that starts with src/, test/, scripts/, migrations/, console/,
 *   bench/ or docs/ exists. Paths git ignores (generated ones) may not.
 * Fenced code blocks are skipped: their `#` lines are comments, not headings.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../../..");
const CHECKED_DIRS = /^(src|test|scripts|migrations|console|bench|docs)\//;

function markdownFiles(): string[] {
  const docs = readdirSync(join(root, "docs"), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".md"))
    .map((f) => join(root, "docs", f));
  return [join(root, "README.md"), ...docs];
}

/** The file's text without its fenced code blocks. */
function prose(file: string): string {
  return readFileSync(file, "utf8").replace(/^```[^\n]*\n[\s\S]*?^```$/gm, "");
}

/** GitHub's anchor for a heading: lower case, punctuation dropped except `-`, spaces to `-`. */
function slug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}_\- ]/gu, "")
    .replace(/ /g, "-");
}

function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const [, text] of prose(file).matchAll(/^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$/gm)) {
    const base = slug(text!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    result.add(n === 0 ? base : `${base}-${n}`); // a repeated heading gets -1, -2…
  }
  return result;
}

/** Paths .gitignore lists (`dist/`, `test/e2e/.screenshots/`…): generated, so they need not exist. */
const ignored = readFileSync(join(root, ".gitignore"), "utf8")
  .split("\n")
  .map((line) => line.trim())
  .filter((line) => line.includes("/") && !line.startsWith("#"));

function problemsOf(file: string): string[] {
  const text = prose(file);
  const problems: string[] = [];
  const exists = (path: string) => existsSync(resolve(root, path)) || ignored.some((g) => path.startsWith(g));

  for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    if (/^[a-z]+:/i.test(target!)) continue; // https:, mailto:
    const [path, fragment] = target!.split("#") as [string, string | undefined];
    const targetFile = path === "" ? file : resolve(dirname(file), path);
    if (!existsSync(targetFile)) problems.push(`link to a missing file: ${target}`);
    else if (fragment !== undefined && !anchors(targetFile).has(fragment)) problems.push(`link to a missing heading: ${target}`);
  }

  for (const [, span] of text.matchAll(/`([^`\n]+)`/g)) {
    if (CHECKED_DIRS.test(span!) && !exists(span!)) problems.push(`missing path in backticks: ${span}`);
  }
  return problems;
}

describe("links in the README and docs/", () => {
  it.each(markdownFiles().map((f) => relative(root, f)))("%s points only at what exists", (file) => {
    expect(problemsOf(join(root, file))).toEqual([]);
  });
});
