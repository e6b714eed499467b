import { env, runInDurableObject } from "cloudflare:test";
import { it, expect } from "vitest";
it("pings", async () => {
  const stub = env.JOBS.get(env.JOBS.idFromName("x"));
  expect(await stub.ping()).toBe("pong");
  expect(await runInDurableObject(stub, (_i, s) => s.storage.sql.exec("select 1 as a").one().a)).toBe(1);
});
