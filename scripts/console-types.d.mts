/** scripts/console-types.mjs, as test/unit/console/api-types.test.ts imports it. */
export const CONSOLE_TYPES_FILE: string;
export function openApiDocument(): Promise<unknown>;
export function consoleTypes(): Promise<string>;
