/**
 * The test side of the fake far end (test/fakes/servers.ts): a real HTTP server on loopback that
 * the Worker calls. Tests script its replies and read back what it received.
 */
import { inject } from "vitest";
import { unique } from "../../helpers/client";
import type { Reply, SeenRequest } from "../../fakes/servers";

export type { Reply, SeenRequest };

/** `http://127.0.0.1:<port>` of the fake far end. */
export function fakeOrigin(): string {
  return `http://127.0.0.1:${inject("fakePort")}`;
}

/** A fresh scenario id with its replies scripted (the last reply repeats; none: echo the request body). */
export async function scenario(prefix: string, replies: Reply[] = [{ echo: true }]): Promise<string> {
  const id = unique(prefix);
  const res = await fetch(`${fakeOrigin()}/__scenario/${encodeURIComponent(id)}`, { method: "PUT", body: JSON.stringify({ replies }) });
  if (!res.ok) throw new Error(`scripting the fake failed: ${res.status}`);
  return id;
}

/** Every request scenario `id` received, in arrival order. */
export async function seen(id: string): Promise<SeenRequest[]> {
  const res = await fetch(`${fakeOrigin()}/__log/${encodeURIComponent(id)}`);
  return ((await res.json()) as { requests: SeenRequest[] }).requests;
}
