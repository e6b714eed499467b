/**
 * A real HTTP endpoint for end-to-end tests: the far end that `/canopy/http` steps of
 * the test workflows call, on a loopback port (`npm start` allows private egress). Each path answers
 * one way, the way a payment service having a bad day would:
 * - `POST /charge`: 200 with an answer that breaks the step's output schema;
 * - `POST /declined`: 503 with a JSON body that echoes the caller's Authorization header (a secret);
 * - `POST /item`: 402 with a JSON body for the SKUs in `failingSkus`, 200 for the others;
 * - `POST /down`: 503 forever (a step that waits to retry);
 * - `POST /echo`: 200 with the body it was sent (a step whose calls a test counts as they arrive).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export class FarEnd {
  private server?: Server;
  port = 0;
  /** Every request, as it arrived (`at`: ms since the epoch). */
  readonly seen: { path: string; body: string; at: number }[] = [];

  constructor(readonly failingSkus: ReadonlySet<string> = new Set()) {}

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => this.answer(req, res, body));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  private answer(req: IncomingMessage, res: ServerResponse, body: string): void {
    const path = (req.url ?? "/").split("?")[0]!;
    this.seen.push({ path, body, at: Date.now() });
    const send = (status: number, value: unknown) => {
      // No connection is kept for another call: Node closes an idle one after 5 s, and workerd then
      // sends the next call on it and fails it with "Network connection lost" (254 of 2,000 calls
      // after the engine's alarms sat idle for minutes in test/e2e/fanout-crash.test.ts).
      res.writeHead(status, { "content-type": "application/json", connection: "close" });
      res.end(JSON.stringify(value));
    };
    switch (path) {
      case "/charge":
        return send(200, { charged: "yes", amount: "twelve" });
      case "/declined":
        return send(503, { error: "card processor unavailable", echoedAuthorization: req.headers.authorization ?? null });
      case "/item": {
        const sku = (JSON.parse(body || "{}") as { sku?: string }).sku ?? "";
        return this.failingSkus.has(sku) ? send(402, { error: "payment required", sku }) : send(200, { sku, charged: true });
      }
      case "/down":
        return send(503, { error: "maintenance" });
      case "/echo":
        return send(200, JSON.parse(body || "null"));
      default:
        return send(404, { error: `no such path ${path}` });
    }
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
