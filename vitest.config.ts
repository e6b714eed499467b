import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { buildConsole, consoleIsStale } from "./scripts/build-console.mjs";

export default defineConfig(async () => {
  // wrangler.toml serves dist/ as static assets: workerd, `wrangler deploy --dry-run` and `npm start`
  // all need it, and a fresh clone has none. Built once here, before any project starts.
  if (consoleIsStale()) await buildConsole();
  const migrations = await readD1Migrations("./migrations");
  return {
    test: {
      // Jobs log a JSON line per event; show those only for a test that failed.
      silent: "passed-only" as const,
      projects: [
        { test: { name: "unit", include: ["test/unit/**/*.test.ts"], environment: "node" } },
        {
          // Against a real `npm start` (wrangler dev). Each file runs its own server; one file at a time.
          test: {
            name: "e2e",
            include: ["test/e2e/**/*.test.ts"],
            environment: "node",
            fileParallelism: false,
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
