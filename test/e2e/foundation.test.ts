// The README's run command works: `npm start` serves the API, and state survives a restart.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deployWorkflow, newTenant } from "../helpers/client";
import orderItem from "../fixtures/order-item.json";
import { EngineServer } from "./server";

describe("npm start", () => {
  const server = new EngineServer();
  beforeAll(() => server.start());
  afterAll(() => server.dispose());

  it("serves health, auth and the registry over real HTTP, and keeps them across a restart", async () => {
    const health = await fetch(`${server.baseUrl}/healthz`);
    expect(await health.json()).toEqual({ ok: true });
    expect((await server.admin.as("wrong").get("/organizations")).status).toBe(401);

    const { orgId, client } = await newTenant(server.admin);
    const { workflowId, versionId } = await deployWorkflow(client, orgId, orderItem);
    const tagged = await client.expect(200, client.get(`/organizations/${orgId}/workflows/${workflowId}/tags/$LIVE`));
    expect(tagged).toEqual({ versionId, versionNumber: 1 });

    await server.kill();
    await server.start();
    const again = await client.expect(200, client.get(`/organizations/${orgId}/workflows/${workflowId}/tags/$LIVE`));
    expect(again).toEqual({ versionId, versionNumber: 1 });
  });
});
