/**
 * A real Chromium for the console's tests: playwright-core drives the browser that the
 * @sparticuz/chromium package ships (no system packages needed), or the one CHROMIUM_PATH names.
 * Screenshots go to test/e2e/.screenshots/ (git-ignored); axe-core checks accessibility.
 */
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import axe from "axe-core";
import { chromium as playwright, type Browser, type Page } from "playwright-core";

export const SCREENSHOTS = resolve(import.meta.dirname, ".screenshots");

/** Launches headless Chromium. */
export async function launchChromium(): Promise<Browser> {
  if (process.env.CHROMIUM_PATH) return playwright.launch({ executablePath: process.env.CHROMIUM_PATH, headless: true });
  const { default: chromium } = await import("@sparticuz/chromium");
  return playwright.launch({ executablePath: await chromium.executablePath(), args: chromium.args, headless: true });
}

/** Saves a full-page screenshot as `<name>.png` and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = resolve(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

export interface Violation {
  id: string;
  impact: string;
  help: string;
  nodes: string[];
}

/** Runs axe-core on the page as it is; returns the serious and critical violations. */
export async function seriousViolations(page: Page): Promise<Violation[]> {
  // Evaluated through the debugging protocol, not added as a <script>: the console's
  // Content-Security-Policy refuses inline scripts (and the suite fails on any violation).
  if (!(await page.evaluate(() => "axe" in globalThis))) await page.evaluate(axe.source);
  return page.evaluate(async () => {
    // This runs in the page (the tests' tsconfig has no DOM types).
    const w = globalThis as unknown as { axe: typeof axe; document: Parameters<typeof axe.run>[0] };
    const result = await w.axe.run(w.document, { resultTypes: ["violations"] });
    return result.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => ({ id: v.id, impact: v.impact ?? "", help: v.help, nodes: v.nodes.slice(0, 5).map((n) => n.html.slice(0, 200)) }));
  });
}

/**
 * Collects the Content-Security-Policy violations of every page `page` loads from now on: each
 * `securitypolicyviolation` event (reported through the console by a script added to every page
 * before its own) and every console error the browser writes for a blocked load ("Refused to …").
 */
export function collectCspViolations(page: Page): string[] {
  const found: string[] = [];
  page.on("console", (msg) => {
    const text = msg.text();
    if (msg.type() === "error" && /securitypolicyviolation|Content Security Policy|Refused to/i.test(text)) found.push(`${page.url()}: ${text}`);
  });
  void page.addInitScript({
    content: `document.addEventListener("securitypolicyviolation", (e) =>
      console.error("securitypolicyviolation: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline") + " at " + e.sourceFile + ":" + e.lineNumber));`,
  });
  return found;
}
