/**
 * The JustWorkflowIt client's wire format, as its generated serializers write it
 * (justworkflowit/JustWorkflowItApiClient, src/protocols/Aws_restJson1.ts): each operation's method
 * and path, path labels and query values encoded with `extendedEncodeURIComponent`, a JSON body of
 * the members it declares (null and undefined members left out, timestamps as RFC 3339 without
 * zero milliseconds, documents as JSON values), `content-type` only on operations with a body, the
 * bare `Authorization: <token>` of its API-key scheme, and errors read from `x-amzn-errortype`.
 * To cover another operation, add its row to OPERATIONS from the client's `se_<Name>Command`.
 */

type Member = "plain" | "json" | "document" | "datetime";

interface Operation {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** With `{label}`s, as in the client's `b.bp(...)`. */
  path: string;
  /** Body members and how the client serializes each; absent: the request has no body. */
  body?: Record<string, Member>;
  /** Query members, in the client's order. */
  query?: string[];
}

export const OPERATIONS = {
  CreateOrganization: { method: "POST", path: "/organizations", body: { displayName: "plain", key: "plain", name: "plain" } },
  GetOrganization: { method: "GET", path: "/organizations/{organizationId}" },
  ListOrganizations: { method: "GET", path: "/organizations" },
  UpdateOrganization: { method: "PATCH", path: "/organizations/{organizationId}", body: { displayName: "plain", marketplaceAllowlistRequired: "plain" } },
  DeleteOrganization: { method: "DELETE", path: "/organizations/{organizationId}" },
  CreateApiAuthToken: {
    method: "POST",
    path: "/organizations/{organizationId}/api-auth-tokens",
    body: { expiresAt: "datetime", name: "plain", permissions: "json" },
  },
  ListApiAuthTokens: { method: "GET", path: "/organizations/{organizationId}/api-auth-tokens" },
  GetApiAuthToken: { method: "GET", path: "/organizations/{organizationId}/api-auth-tokens/{apiAuthTokenId}" },
  UpdateApiAuthToken: {
    method: "PATCH",
    path: "/organizations/{organizationId}/api-auth-tokens/{apiAuthTokenId}",
    body: { expiresAt: "datetime", permissions: "json" },
  },
  RevokeApiAuthToken: { method: "DELETE", path: "/organizations/{organizationId}/api-auth-tokens/{apiAuthTokenId}" },
  GetMyPermissions: { method: "GET", path: "/organizations/{organizationId}/users/me/permissions" },
  CreateOrganizationSecret: { method: "POST", path: "/organizations/{organizationId}/secrets", body: { description: "plain", key: "plain", value: "plain" } },
  ListOrganizationSecrets: { method: "GET", path: "/organizations/{organizationId}/secrets" },
  GetOrganizationSecret: { method: "GET", path: "/organizations/{organizationId}/secrets/{secretId}" },
  UpdateOrganizationSecret: { method: "PUT", path: "/organizations/{organizationId}/secrets/{secretId}", body: { description: "plain", value: "plain" } },
  ResolveOrganizationSecret: { method: "POST", path: "/organizations/{organizationId}/secrets/resolve", body: { key: "plain" } },
  DeleteOrganizationSecret: { method: "DELETE", path: "/organizations/{organizationId}/secrets/{secretId}" },
  RegisterWorkflow: { method: "POST", path: "/organizations/{organizationId}/workflows", body: { name: "plain" } },
  ListWorkflows: { method: "GET", path: "/organizations/{organizationId}/workflows" },
  GetWorkflow: { method: "GET", path: "/organizations/{organizationId}/workflows/{workflowId}" },
  RegisterWorkflowVersion: { method: "POST", path: "/organizations/{organizationId}/workflows/{workflowId}/versions", body: { definition: "plain" } },
  ValidateWorkflowVersion: { method: "POST", path: "/organizations/{organizationId}/workflows/{workflowId}/versions/validate", body: { definition: "plain" } },
  ListWorkflowVersions: { method: "GET", path: "/organizations/{organizationId}/workflows/{workflowId}/versions" },
  GetWorkflowVersion: { method: "GET", path: "/organizations/{organizationId}/workflows/{workflowId}/versions/{versionId}" },
  SetWorkflowVersionTag: { method: "PUT", path: "/organizations/{organizationId}/workflows/{workflowId}/tags/{tag}", body: { versionId: "plain" } },
  GetTaggedWorkflowVersion: { method: "GET", path: "/organizations/{organizationId}/workflows/{workflowId}/tags/{tag}" },
  SubmitJob: { method: "POST", path: "/organizations/{organizationId}/jobs", body: { inputJson: "document", workflowId: "plain", workflowVersion: "json" } },
  GetJob: { method: "GET", path: "/organizations/{organizationId}/jobs/{jobId}" },
  ListJobs: {
    method: "GET",
    path: "/organizations/{organizationId}/jobs",
    query: ["status", "workflowName", "workflowVersionNumber", "createdAfter", "createdBefore", "jobHierarchy", "pageToken", "pageSize"],
  },
  SendJobEvent: { method: "POST", path: "/organizations/{organizationId}/jobs/{jobId}/events", body: { eventId: "plain", payload: "document" } },
  GetWorkflowState: { method: "GET", path: "/organizations/{organizationId}/jobs/{jobId}/state" },
  GetWorkflowStateMetadata: { method: "GET", path: "/organizations/{organizationId}/jobs/{jobId}/state/metadata" },
  CancelJob: { method: "POST", path: "/organizations/{organizationId}/jobs/{jobId}/cancel" },
  ResumeJob: { method: "POST", path: "/organizations/{organizationId}/jobs/{jobId}/resume" },
  CreateResourcePool: {
    method: "POST",
    path: "/organizations/{organizationId}/resource-pools",
    body: { name: "plain", targetedWorkflowIds: "json", targetsAllWorkflows: "plain", workerLimit: "plain" },
  },
  ListResourcePools: { method: "GET", path: "/organizations/{organizationId}/resource-pools" },
  GetResourcePool: { method: "GET", path: "/organizations/{organizationId}/resource-pools/{poolId}" },
  UpdateResourcePool: {
    method: "PUT",
    path: "/organizations/{organizationId}/resource-pools/{poolId}",
    body: { name: "plain", targetedWorkflowIds: "json", targetsAllWorkflows: "plain", workerLimit: "plain" },
  },
  DeleteResourcePool: { method: "DELETE", path: "/organizations/{organizationId}/resource-pools/{poolId}" },
  GetWorkflowMetricTimeSeries: {
    method: "GET",
    path: "/organizations/{organizationId}/workflow-metrics/timeseries",
    query: ["metric", "aggregation", "bucket", "since", "until"],
  },
  ListNotifications: { method: "GET", path: "/organizations/{organizationId}/notifications" },
  MarkAllNotificationsRead: { method: "PUT", path: "/organizations/{organizationId}/notifications/read-all" },
  MarkNotificationRead: { method: "PUT", path: "/organizations/{organizationId}/notifications/{notificationId}/read" },
  // An operation of the client that Canopy does not have (roles are user accounts: out of scope).
  ListRoles: { method: "GET", path: "/organizations/{organizationId}/roles" },
} satisfies Record<string, Operation>;

export type OperationName = keyof typeof OPERATIONS;

/** @smithy/smithy-client's extendedEncodeURIComponent. */
function extendedEncodeURIComponent(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** @smithy/smithy-client's serializeDateTime. */
function serializeDateTime(d: Date): string {
  return d.toISOString().replace(".000Z", "Z");
}

function serialize(kind: Member, value: unknown): unknown {
  if (kind === "datetime") return serializeDateTime(value as Date);
  return value;
}

export interface WireResponse {
  status: number;
  /** The error code the client throws (from `x-amzn-errortype`), or undefined on success. */
  errorType?: string;
  body: any;
  request: { method: string; url: string; headers: Record<string, string>; body?: string };
}

/** Sends operations as the client would. */
export class WireClient {
  constructor(
    readonly baseUrl: string,
    readonly token: string,
  ) {}

  as(token: string): WireClient {
    return new WireClient(this.baseUrl, token);
  }

  async send(name: OperationName, input: Record<string, unknown> = {}): Promise<WireResponse> {
    const op: Operation = OPERATIONS[name];
    const path = op.path.replace(/\{(\w+)\}/g, (_, label: string) => {
      const value = input[label];
      if (typeof value !== "string" || value.length === 0) throw new Error(`${name}: missing path label ${label}`);
      return extendedEncodeURIComponent(value);
    });
    const query = (op.query ?? [])
      .filter((k) => input[k] !== undefined && input[k] !== null)
      .map((k) => `${extendedEncodeURIComponent(k)}=${extendedEncodeURIComponent(String(input[k]))}`)
      .join("&");
    const headers: Record<string, string> = { Authorization: this.token };
    let body: string | undefined;
    if (op.body) {
      headers["content-type"] = "application/json";
      const taken: Record<string, unknown> = {};
      for (const [member, kind] of Object.entries(op.body)) {
        if (input[member] !== undefined && input[member] !== null) taken[member] = serialize(kind, input[member]);
      }
      body = JSON.stringify(taken);
    }
    const url = `${this.baseUrl}${path}${query ? `?${query}` : ""}`;
    const res = await fetch(url, { method: op.method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    const parsed = text ? JSON.parse(text) : undefined;
    const errorHeader = res.headers.get("x-amzn-errortype");
    const ok = res.status === 200 || res.status < 300;
    return {
      status: res.status,
      // loadRestJsonErrorCode: the header, cut at ':' and '#'.
      ...(!ok ? { errorType: errorHeader?.split(":")[0]?.split("#").pop() ?? parsed?.code } : {}),
      body: parsed,
      request: { method: op.method, url, headers, ...(body !== undefined ? { body } : {}) },
    };
  }

  /** Sends and asserts success (2xx), returning the body. */
  async ok(name: OperationName, input: Record<string, unknown> = {}): Promise<any> {
    const res = await this.send(name, input);
    if (res.status >= 300) throw new Error(`${name} answered ${res.status} ${res.errorType}: ${JSON.stringify(res.body)}`);
    return res.body;
  }
}

/** Whether the client's parseRfc3339DateTimeWithOffset accepts a value. */
export function isClientTimestamp(value: unknown): boolean {
  return typeof value === "string" && /^\d{4}-\d{2}-\d{2}[tT]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[zZ]|[-+]\d{2}:\d{2})$/.test(value);
}
