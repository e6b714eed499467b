/**
 * A small API client for tests, usable inside workerd (through SELF.fetch) and against a real
 * `wrangler dev` (through global fetch).
 */
export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export type Fetcher = (url: string, init?: RequestInit) => Promise<Response>;

export class TestClient {
  constructor(
    private readonly fetcher: Fetcher,
    readonly baseUrl: string,
    readonly token?: string,
  ) {}

  /** The same client acting with another token. */
  as(token: string | undefined): TestClient {
    return new TestClient(this.fetcher, this.baseUrl, token);
  }

  async call<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse<T>> {
    const init: RequestInit = { method, headers: { ...headers } };
    if (this.token) (init.headers as Record<string, string>).authorization = `Bearer ${this.token}`;
    if (body !== undefined) {
      (init.headers as Record<string, string>)["content-type"] = "application/json";
      init.body = typeof body === "string" ? body : JSON.stringify(body);
    }
    const res = await this.fetcher(this.baseUrl + path, init);
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON: keep the text */
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  get<T = any>(path: string) {
    return this.call<T>("GET", path);
  }
  post<T = any>(path: string, body?: unknown) {
    return this.call<T>("POST", path, body ?? {});
  }
  put<T = any>(path: string, body?: unknown) {
    return this.call<T>("PUT", path, body ?? {});
  }
  delete<T = any>(path: string) {
    return this.call<T>("DELETE", path);
  }

  /** Asserts a status and returns the body; the message shows the body on mismatch. */
  async expect<T = any>(status: number, res: Promise<ApiResponse<T>>): Promise<T> {
    const r = await res;
    if (r.status !== status) {
      throw new Error(`expected HTTP ${status}, got ${r.status}: ${JSON.stringify(r.body)}`);
    }
    return r.body;
  }
}

let counter = 0;
/** A unique suffix for names within one test run. */
export function unique(prefix: string): string {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${counter}-${Math.random().toString(36).slice(2, 6)}`;
}

/** Creates an organization and a token for it; returns a client acting as that organization. */
export async function newTenant(admin: TestClient): Promise<{ orgId: string; client: TestClient; token: string }> {
  const key = unique("org").toLowerCase().replace(/[^a-z0-9-]/g, "");
  const org = await admin.expect(200, admin.post("/organizations", { name: key, key, displayName: `Org ${key}` }));
  const tok = await admin.expect(200, admin.post(`/organizations/${org.organizationId}/api-auth-tokens`, { name: "tests" }));
  return { orgId: org.organizationId, client: admin.as(tok.token), token: tok.token };
}

/** Registers a workflow with one version of `definition`, tags it $LIVE, and returns the ids. */
export async function deployWorkflow(
  client: TestClient,
  orgId: string,
  definition: { workflowName: string } & Record<string, unknown>,
): Promise<{ workflowId: string; versionId: string; versionNumber: number }> {
  const existing = await client.expect(200, client.get(`/organizations/${orgId}/workflows`));
  let workflowId: string | undefined = existing.workflows.find((w: any) => w.name === definition.workflowName)?.workflowId;
  if (!workflowId) {
    workflowId = (await client.expect(200, client.post(`/organizations/${orgId}/workflows`, { name: definition.workflowName }))).workflowId;
  }
  const v = await client.expect(
    200,
    client.post(`/organizations/${orgId}/workflows/${workflowId}/versions`, { definition: JSON.stringify(definition) }),
  );
  await client.expect(200, client.put(`/organizations/${orgId}/workflows/${workflowId}/tags/$LIVE`, { versionId: v.versionId }));
  return { workflowId: workflowId!, versionId: v.versionId, versionNumber: v.versionNumber };
}

/** A new organization with these workflows deployed ($LIVE); `ids` maps each workflow name to its id. */
export async function tenantWith(admin: TestClient, ...defs: ({ workflowName: string } & Record<string, unknown>)[]) {
  const t = await newTenant(admin);
  const ids: Record<string, string> = {};
  for (const d of defs) ids[d.workflowName] = (await deployWorkflow(t.client, t.orgId, d)).workflowId;
  return { ...t, ids };
}
