import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { buildConsole, consoleIsStale } from "./scripts/build-console.mjs";
import { OwnServersFirst } from "./test/e2e/sequencer";

/** How many files of a project run at once (measured on 2 cores: docs/testing.md#how-long-it-takes). */
const INTEGRATION_FILES_AT_ONCE = 2;
const E2E_FILES_AT_ONCE = 3;

export default defineConfig(async () => {
  // wrangler.toml serves dist/ as static assets: workerd, `wrangler deploy --dry-run` and `npm start`
  // all need it, and a fresh clone has none. Built once here, before any project starts.
  if (consoleIsStale()) await buildConsole();
  const migrations = await readD1Migrations("./migrations");
  return {
    test: {
      // Jobs log a JSON line per event; show those only for a test that failed.
      silent: "passed-only" as const,
      // Each file's and each test's time: `npm test` prints the slowest (scripts/test-timings.mjs).
      reporters: ["default", "./scripts/test-timings.mjs"],
      // e2e files with a server of their own start first: they hold the longest waits.
      sequence: { sequencer: OwnServersFirst },
      // `npm test` runs the projects at once, each in a vitest process of its own (scripts/test.mjs);
      // one `vitest run` of several projects runs them one after another, in this order.
      projects: [
        { test: { name: "unit", include: ["test/unit/**/*.test.ts"], environment: "node", sequence: { groupOrder: 0 } } },
        {
          // Against a real `npm start` (wrangler dev): one shared by the files that never kill or
          // restart it (test/e2e/shared-server.ts), one of its own for each file that does. Most of
          // an e2e file's time is waiting (for a restart, a timer, a schedule), so files run side by side.
          test: {
            name: "e2e",
            include: ["test/e2e/**/*.test.ts"],
            environment: "node",
            globalSetup: ["./test/e2e/global-setup.ts"],
            maxWorkers: E2E_FILES_AT_ONCE,
            sequence: { groupOrder: 2 },
            testTimeout: 300_000,
            hookTimeout: 120_000,
          },
        },
        {
          plugins: [
            // ALLOW_PRIVATE_EGRESS: the fake far end is on loopback. The deployed policy is tested by
            // handing the guarded fetch a policy of its own (test/integration/integrations/egress.test.ts).
            cloudflareTest({
              wrangler: { configPath: "./wrangler.toml" },
              miniflare: { bindings: { TEST_MIGRATIONS: migrations, ADMIN_TOKEN: "test-admin-token", HISTORY_ROLLOVER_THRESHOLD: "100", DEFAULT_CALL_TIMEOUT_MS: "1500", SECRETS_KEY: "dGVzdC1zZWNyZXRzLWtleS0zMi1ieXRlcy1sb25nISE=", ALLOW_PRIVATE_EGRESS: "true" } },
            }),
          ],
          test: {
            name: "integration",
            include: ["test/integration/**/*.test.ts"],
            // Each file runs in a workerd of its own, with its own storage: files cannot see each other.
            maxWorkers: INTEGRATION_FILES_AT_ONCE,
            sequence: { groupOrder: 1 },
            // Speed belongs to `npm run bench`: on a busy 2-core machine a fan-out may take many
            // times its usual time, and a test must not fail for it.
            testTimeout: 120_000,
            hookTimeout: 120_000,
            setupFiles: ["./test/integration/setup.ts"],
            // Real HTTP servers on loopback that executors call (HTTP, Lambda, Google); tests inject their port.
            globalSetup: ["./test/fakes/servers.ts"],
          },
        },
      ],
    },
  };
});
