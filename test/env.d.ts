// Bindings only the workerd test pool provides (see vitest.config.ts).
interface CanopyTestBindings {
  TEST_MIGRATIONS: import("@cloudflare/vitest-plugin").D1Migration[];
}
interface Env extends CanopyTestBindings {}
declare namespace Cloudflare {
  interface Env extends CanopyTestBindings {}
}
