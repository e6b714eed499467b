/**
 * The console's API types (console/src/api/openapi.d.ts) are generated from the Worker's own
 * /openapi.json: regenerated here in memory, they must equal the committed file, so an API change
 * that the console has not been checked against fails `npm test` rather than a user's screen.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CONSOLE_TYPES_FILE, consoleTypes } from "../../../scripts/console-types.mjs";

describe("console API types", () => {
  it("are generated from the current /openapi.json (else: run npm run types:console)", async () => {
    const fresh = await consoleTypes();
    const committed = readFileSync(CONSOLE_TYPES_FILE, "utf8");
    expect(committed === fresh, "console/src/api/openapi.d.ts is stale: run npm run types:console").toBe(true);
  }, 30_000);
});
