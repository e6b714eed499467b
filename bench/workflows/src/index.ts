// The Cloudflare Workflows side of `npm run bench`: the same three workloads as bench/canopy.mjs.
//   POST /linear  {steps, notifyUrl?}     -> {id}   a LinearWorkflow doing `steps` sequential no-op step.do calls
//   POST /linear/batch {count, steps}     -> {ids}  `count` LinearWorkflows through createBatch, 100 per call
//   POST /fanout  {children, notifyUrl?}  -> {id}   a ParentWorkflow starting `children` ChildWorkflows and collecting them
//   GET  /status?wf=linear|parent&id=ID -> {status, output, error}
// "Done" is the same as on Canopy's side: the instance's status reaches "complete" (or a terminal failure).
import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from "cloudflare:workers";

interface BenchEnv {
  LINEAR: Workflow<LinearParams>;
  PARENT: Workflow<ParentParams>;
  CHILD: Workflow<ChildParams>;
}
interface LinearParams {
  steps: number;
  /** Where to report the end of the run (see notify()). */
  notifyUrl?: string;
}
interface ParentParams {
  children: number;
  notifyUrl?: string;
}
interface ChildParams {
  parentId: string;
  i: number;
}

/** createBatch takes at most 100 instances per call on Cloudflare. */
const BATCH = 100;
const childDone = (i: number) => `child_done_${i}`;

/**
 * Tells the benchmark client that the run has ended, so that it starts polling the status only then. Locally,
 * a large run keeps workerd's one thread busy for seconds at a time, and wrangler 4.124's dev server exits when
 * a request waits that long (see bench/README.md). It is not a step, so the workflow has exactly the steps the
 * workload asks for; the client still waits for the status "complete".
 */
async function notify(url: string | undefined, body: unknown): Promise<void> {
  if (url) await fetch(url, { method: "POST", body: JSON.stringify(body) }).catch(() => {});
}

export class LinearWorkflow extends WorkflowEntrypoint<BenchEnv, LinearParams> {
  override async run(event: Readonly<WorkflowEvent<LinearParams>>, step: WorkflowStep) {
    const steps = event.payload.steps;
    for (let i = 0; i < steps; i++) await step.do(`s${i}`, async () => i);
    const result = { steps, createdAt: event.timestamp.getTime(), finishedAt: Date.now() };
    await notify(event.payload.notifyUrl, result);
    return result;
  }
}

export class ChildWorkflow extends WorkflowEntrypoint<BenchEnv, ChildParams> {
  override async run(event: Readonly<WorkflowEvent<ChildParams>>, step: WorkflowStep) {
    const { parentId, i } = event.payload;
    await step.do("only", async () => i);
    // The notification is a step of its own so that it is retried like any durable side effect.
    await step.do("notify parent", async () => {
      const parent = await this.env.PARENT.get(parentId);
      await parent.sendEvent({ type: childDone(i), payload: { i } });
      return true;
    });
    return { i };
  }
}

export class ParentWorkflow extends WorkflowEntrypoint<BenchEnv, ParentParams> {
  override async run(event: Readonly<WorkflowEvent<ParentParams>>, step: WorkflowStep) {
    const { children } = event.payload;
    const parentId = event.instanceId;
    await step.do("spawn children", async () => {
      for (let from = 0; from < children; from += BATCH) {
        const batch = Array.from({ length: Math.min(BATCH, children - from) }, (_, k) => ({
          id: `${parentId}-${from + k}`, // deterministic: a retried spawn does not start a child twice
          params: { parentId, i: from + k },
        }));
        await this.env.CHILD.createBatch(batch);
      }
      return children;
    });
    // One waitForEvent per child, each on its own event type: a notification that arrives before its wait
    // is queued by the engine and consumed when the wait is reached.
    let sum = 0;
    for (let i = 0; i < children; i++) {
      const ev = await step.waitForEvent<{ i: number }>(`child ${i}`, { type: childDone(i), timeout: "1 hour" });
      if (ev.payload.i !== i) throw new Error(`child ${i} reported as ${ev.payload.i}`);
      sum += ev.payload.i;
    }
    if (sum !== (children * (children - 1)) / 2) throw new Error(`collected sum ${sum}`);
    const result = { children, collected: children, createdAt: event.timestamp.getTime(), finishedAt: Date.now() };
    await notify(event.payload.notifyUrl, result);
    return result;
  }
}

const json = (body: unknown, status = 200) => Response.json(body, { status });

export default {
  async fetch(request: Request, env: BenchEnv): Promise<Response> {
    const url = new URL(request.url);
    try {
      if (request.method === "POST" && url.pathname === "/linear") {
        const { steps, notifyUrl } = await request.json<LinearParams>();
        return json({ id: (await env.LINEAR.create({ params: { steps, ...(notifyUrl ? { notifyUrl } : {}) } })).id });
      }
      if (request.method === "POST" && url.pathname === "/linear/batch") {
        // createBatch takes at most 100 instances a call (the platform's limit): a batch of `count` is ceil(count/100) calls.
        const { count, steps } = await request.json<{ count: number; steps: number }>();
        const ids: string[] = [];
        for (let i = 0; i < count; i += 100) {
          const chunk = Array.from({ length: Math.min(100, count - i) }, () => ({ params: { steps } }));
          ids.push(...(await env.LINEAR.createBatch(chunk)).map((x) => x.id));
        }
        return json({ ids });
      }
      if (request.method === "POST" && url.pathname === "/fanout") {
        const { children, notifyUrl } = await request.json<ParentParams>();
        return json({ id: (await env.PARENT.create({ params: { children, ...(notifyUrl ? { notifyUrl } : {}) } })).id });
      }
      if (request.method === "GET" && url.pathname === "/status") {
        const binding = url.searchParams.get("wf") === "parent" ? env.PARENT : env.LINEAR;
        const s = await (await binding.get(url.searchParams.get("id") ?? "")).status();
        return json({ status: s.status, output: s.output ?? null, error: s.error ?? null });
      }
      if (url.pathname === "/healthz") return new Response("ok");
      return json({ error: "not found" }, 404);
    } catch (e) {
      return json({ error: String(e) }, 500);
    }
  },
};
