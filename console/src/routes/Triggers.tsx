/** Webhook triggers: create one (its secret is shown once), list them, delete one. */
import { useState, type FormEvent } from "react";
import { useParams } from "react-router";
import { client, ok } from "../api/client";
import { useGet, useHashTarget, useTitle } from "../api/hooks";
import { useCan } from "../api/caller";
import type { Answer, WebhookTrigger } from "../api/types";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { time } from "../components/format";
import { Empty, ErrorBox, Loading } from "../components/States";

function versionText(v: WebhookTrigger["workflowVersion"]): string {
  if ("tag" in v) return v.tag;
  if ("versionNumber" in v) return `v${v.versionNumber}`;
  return v.versionId.slice(0, 8);
}

export function Triggers() {
  const { org = "" } = useParams();
  const orgParams = { params: { path: { organizationId: org } } };
  const list = useGet("/organizations/{organizationId}/webhook-triggers", orgParams);
  const workflows = useGet("/organizations/{organizationId}/workflows", orgParams);
  const [created, setCreated] = useState<Answer<"CreateWebhookTrigger">>();
  const [error, setError] = useState<Error>();
  const [deleting, setDeleting] = useState<WebhookTrigger>();
  const names = new Map((workflows.data?.workflows ?? []).map((w) => [w.workflowId, w.name]));
  const can = useCan();
  const canChange = can("job:submit");
  useTitle("Webhook triggers");
  const target = useHashTarget(!!list.data);

  async function create(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = e.currentTarget;
    const f = new FormData(form);
    setError(undefined);
    try {
      const field = (name: string) => String(f.get(name) ?? "");
      const body = {
        name: field("name"),
        workflowId: field("workflowId"),
        workflowVersion: { tag: field("tag") },
        scheme: field("scheme") === "github" ? ("github" as const) : ("standard-webhooks" as const),
      };
      const trigger = await ok(client.POST("/organizations/{organizationId}/webhook-triggers", { ...orgParams, body }));
      setCreated(trigger);
      form.reset();
      list.reload();
    } catch (err) {
      setError(err as Error);
    }
  }

  async function remove(t: WebhookTrigger) {
    setDeleting(undefined);
    setError(undefined);
    try {
      await ok(client.DELETE("/organizations/{organizationId}/webhook-triggers/{triggerId}", { params: { path: { organizationId: org, triggerId: t.triggerId } } }));
      if (created?.triggerId === t.triggerId) setCreated(undefined);
      list.reload();
    } catch (err) {
      setError(err as Error);
    }
  }

  return (
    <section>
      <h1>Webhook triggers</h1>
      {canChange && (
      <form className="panel create-trigger" onSubmit={create} aria-labelledby="create-h">
        <h2 id="create-h">New trigger</h2>
        <label>
          Name
          <input name="name" required maxLength={200} />
        </label>
        <label>
          Workflow
          <select name="workflowId" required>
            {(workflows.data?.workflows ?? []).map((w) => (
              <option key={w.workflowId} value={w.workflowId}>
                {w.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Version tag
          <input name="tag" defaultValue="$LIVE" required pattern="\$[A-Z_]+" />
        </label>
        <label>
          Signature scheme
          <select name="scheme" defaultValue="standard-webhooks">
            <option value="standard-webhooks">Standard Webhooks</option>
            <option value="github">GitHub</option>
          </select>
        </label>
        <button type="submit" disabled={!workflows.data || workflows.data.workflows.length === 0}>
          Create trigger
        </button>
      </form>
      )}
      {error && <ErrorBox error={error} title="The trigger could not be changed" />}
      {created && (
        <div className="panel secret" role="status">
          <h2>Trigger {created.name} created</h2>
          <p>
            Its signing secret is shown <strong>only now</strong>; keep it where the sender can use it:
          </p>
          <pre data-testid="trigger-secret">{created.secret}</pre>
          <p>
            Deliveries go to <code>{created.url}</code>
          </p>
          <button type="button" onClick={() => setCreated(undefined)}>
            I have kept it
          </button>
        </div>
      )}
      {list.loading && <Loading what="triggers" />}
      {list.error && <ErrorBox error={list.error} title="Could not list triggers" />}
      {list.data && list.data.webhookTriggers.length === 0 && <Empty>No webhook triggers yet.</Empty>}
      {list.data && list.data.webhookTriggers.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Workflow</th>
                <th scope="col">Scheme</th>
                <th scope="col">URL</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.data.webhookTriggers.map((t) => (
                <tr key={t.triggerId} data-trigger={t.name} id={`trigger-${t.triggerId}`} className={target === `trigger-${t.triggerId}` ? "targeted" : undefined}>
                  <td>{t.name}</td>
                  <td>
                    {names.get(t.workflowId) ?? t.workflowId.slice(0, 8)} <span className="muted">{versionText(t.workflowVersion)}</span>
                  </td>
                  <td>{t.scheme}</td>
                  <td>
                    <code>{t.url}</code>
                  </td>
                  <td>{time(t.createdAt)}</td>
                  <td>
                    {canChange && (
                      <button type="button" className="danger" onClick={() => setDeleting(t)} aria-label={`Delete ${t.name}`}>
                        Delete
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <ConfirmDialog
        open={deleting !== undefined}
        title="Delete this trigger?"
        body={`Deliveries to ${deleting?.name ?? ""} will be refused from now on.`}
        confirmLabel="Yes, delete it"
        onConfirm={() => deleting && void remove(deleting)}
        onCancel={() => setDeleting(undefined)}
      />
    </section>
  );
}
