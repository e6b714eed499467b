/** scripts/build-console.mjs, as vitest.config.ts imports it. */
export function consoleIsStale(): boolean;
export function buildConsole(): Promise<void>;
