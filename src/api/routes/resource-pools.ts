/** Resource pools (JustWorkflowIt's concurrency limits): configuration in D1, leases in each pool's Durable Object. */
import { createRoute, z } from "@hono/zod-openapi";
import { newId, isoTime } from "../../ids";
import { MAX_POOL_TARGETED_WORKFLOWS, MAX_POOL_WORKER_LIMIT } from "../../limits";
import { resourcePoolStub } from "../../pools/resource-pool";
import { getOrganization } from "../../registry/organizations";
import { createResourcePool, deleteResourcePool, getResourcePool, listResourcePools, updateResourcePool } from "../../registry/resource-pools";
import { NotFoundError } from "../../errors";
import { logEvent } from "../../log";
import { requireOrganization } from "../auth";
import type { App } from "../context";
import { OrgParams, errorResponses, json, jsonBody } from "../schemas";

const Name = z.string().min(1).max(200);
const WorkerLimit = z
  .number()
  .int()
  .min(1)
  .max(MAX_POOL_WORKER_LIMIT)
  .openapi({ description: "At most this many jobs of the pool's workflows run at once across the organization; the others wait, first come first served." });
const TargetedWorkflowIds = z
  .array(z.string().min(1).max(100))
  .max(MAX_POOL_TARGETED_WORKFLOWS)
  .openapi({ description: "Workflows whose jobs (children included) the pool limits." });

const PoolSchema = z
  .object({
    poolId: z.string(),
    name: z.string(),
    workerLimit: z.number().int(),
    targetsAllWorkflows: z.boolean(),
    targetedWorkflowIds: z.array(z.string()),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("ResourcePoolSummary");

const PoolDetailSchema = PoolSchema.extend({
  runningJobs: z.number().int().openapi({ description: "Extension: jobs holding a lease now (more than workerLimit after it was lowered, until they end)." }),
  queuedJobs: z.number().int().openapi({ description: "Extension: jobs waiting for a lease." }),
  oldestQueuedAt: z.string().optional().openapi({ description: "Extension: when the job waiting longest began to wait." }),
  oldestQueuedWaitSeconds: z.number().int().optional().openapi({ description: "Extension: how long the job waiting longest has waited." }),
}).openapi("ResourcePoolDetail");

const CreateBody = z
  .object({ name: Name, workerLimit: WorkerLimit, targetsAllWorkflows: z.boolean().optional(), targetedWorkflowIds: TargetedWorkflowIds.optional() })
  .strict()
  .openapi("CreateResourcePoolRequest");

const UpdateBody = z
  .object({ name: Name.optional(), workerLimit: WorkerLimit.optional(), targetsAllWorkflows: z.boolean().optional(), targetedWorkflowIds: TargetedWorkflowIds.optional() })
  .strict()
  .refine((b) => Object.values(b).some((v) => v !== undefined), "Name at least one of name, workerLimit, targetsAllWorkflows, targetedWorkflowIds.")
  .openapi("UpdateResourcePoolRequest");

const PoolParams = OrgParams.extend({
  poolId: z.string().min(1).max(100).openapi({ param: { name: "poolId", in: "path" } }),
});

const PoolIdSchema = z.object({ poolId: z.string() });

const security = [{ Bearer: [] }];
const errors = ["AuthenticationError", "AuthorizationError", "NotFoundError"] as const;

/** Registers the resource pool routes. */

/**
 * Configures the pool's object with what D1 holds (after an update that failed past configuring
 * it), or removes it when D1 no longer has the pool (deleted meanwhile). Best effort: a failure is
 * logged, and the caller's retry of the update configures the object again.
 */
async function reconcilePool(env: Env, organizationId: string, poolId: string): Promise<void> {
  const pool = resourcePoolStub(env, poolId);
  try {
    const stored = await getResourcePool(env.DB, organizationId, poolId);
    await pool.configure({ organizationId, poolId, workerLimit: stored.workerLimit });
  } catch (e) {
    if (e instanceof NotFoundError) await pool.remove().catch(() => undefined);
    else logEvent("pool.reconcileFailed", { poolId, error: String((e as Error)?.message ?? e) });
  }
}

export function registerResourcePoolRoutes(app: App): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/organizations/{organizationId}/resource-pools",
      operationId: "CreateResourcePool",
      description: "Creates a pool; jobs submitted from now on (and children created from now on) of its workflows take a lease in it before they run.",
      security,
      request: { params: OrgParams, ...jsonBody(CreateBody) },
      responses: { 200: json(PoolIdSchema), ...errorResponses("ValidationError", ...errors, "ConflictError") },
    }),
    async (c) => {
      const { organizationId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      await getOrganization(c.env.DB, organizationId);
      const body = c.req.valid("json");
      const poolId = newId();
      // The object knows its limit before any job can find the pool in D1.
      const configure = () => resourcePoolStub(c.env, poolId).configure({ organizationId, poolId, workerLimit: body.workerLimit });
      await createResourcePool(c.env.DB, organizationId, body, Date.now(), poolId, configure);
      return c.json({ poolId }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/organizations/{organizationId}/resource-pools",
      operationId: "ListResourcePools",
      security,
      request: { params: OrgParams },
      responses: { 200: json(z.object({ resourcePools: z.array(PoolSchema) })), ...errorResponses(...errors) },
    }),
    async (c) => {
      const { organizationId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      await getOrganization(c.env.DB, organizationId);
      return c.json({ resourcePools: await listResourcePools(c.env.DB, organizationId) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/organizations/{organizationId}/resource-pools/{poolId}",
      operationId: "GetResourcePool",
      description: "The pool, and (extensions) how many jobs hold a lease, how many wait, and since when the oldest waits.",
      security,
      request: { params: PoolParams },
      responses: { 200: json(z.object({ resourcePool: PoolDetailSchema })), ...errorResponses(...errors) },
    }),
    async (c) => {
      const { organizationId, poolId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      const pool = await getResourcePool(c.env.DB, organizationId, poolId);
      const status = await resourcePoolStub(c.env, poolId).status();
      const now = Date.now();
      return c.json(
        {
          resourcePool: {
            ...pool,
            runningJobs: status.runningJobs,
            queuedJobs: status.queuedJobs,
            ...(status.oldestQueuedAt !== undefined
              ? { oldestQueuedAt: isoTime(status.oldestQueuedAt), oldestQueuedWaitSeconds: Math.max(0, Math.floor((now - status.oldestQueuedAt) / 1000)) }
              : {}),
          },
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/organizations/{organizationId}/resource-pools/{poolId}",
      operationId: "UpdateResourcePool",
      description:
        "Changes the fields given. A raised workerLimit starts waiting jobs at once; a lowered one lets running jobs finish and starts no more until fewer run. " +
        "New targets apply to jobs created from now on.",
      security,
      request: { params: PoolParams, ...jsonBody(UpdateBody) },
      responses: { 200: json(PoolIdSchema), ...errorResponses("ValidationError", ...errors, "ConflictError") },
    }),
    async (c) => {
      const { organizationId, poolId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      const pool = resourcePoolStub(c.env, poolId);
      let configured = false;
      try {
        // The object first, once the change is valid: configuring is idempotent, so should it fail,
        // D1 still holds the limit the object enforces, and the caller's retry does both.
        await updateResourcePool(c.env.DB, organizationId, poolId, c.req.valid("json"), Date.now(), (workerLimit) => {
          configured = true;
          return pool.configure({ organizationId, poolId, workerLimit });
        });
      } catch (e) {
        // The object may now hold a limit D1 refused (or never got): it goes back to what D1 holds.
        if (configured) await reconcilePool(c.env, organizationId, poolId);
        throw e;
      }
      return c.json({ poolId }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/organizations/{organizationId}/resource-pools/{poolId}",
      operationId: "DeleteResourcePool",
      description: "Deletes the pool: jobs waiting for it start, and it limits nothing from now on.",
      security,
      request: { params: PoolParams },
      responses: { 200: json(PoolIdSchema), ...errorResponses(...errors) },
    }),
    async (c) => {
      const { organizationId, poolId } = c.req.valid("param");
      requireOrganization(c, organizationId);
      await getResourcePool(c.env.DB, organizationId, poolId);
      // The object stops limiting first: should the D1 delete then fail, a retry finishes it.
      await resourcePoolStub(c.env, poolId).remove();
      await deleteResourcePool(c.env.DB, organizationId, poolId);
      return c.json({ poolId }, 200);
    },
  );
}
