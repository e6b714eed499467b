import { DurableObject } from "cloudflare:workers";
export class JobObject extends DurableObject<Env> {
  async ping(): Promise<string> { return "pong"; }
}
export default { async fetch(): Promise<Response> { return new Response("ok"); } } satisfies ExportedHandler<Env>;
