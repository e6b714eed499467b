// `npm run deploy -- --rotate-secrets-key --url <the Worker's URL>`: replaces SECRETS_KEY on a deployed
// Worker without leaving any stored secret unreadable (docs/security.md#rotating-secrets_key). Called by
// scripts/deploy.mjs after its login check, database look-up and deploy config, with its helpers.
//
// The operator gives, in the environment:
//   SECRETS_KEY_PREVIOUS  the key the Worker seals with now (Cloudflare never returns a secret's value,
//                         so this script cannot read it); checked against the Worker before anything changes
//   SECRETS_KEY           the new key (optional: 32 random bytes, printed once, are made otherwise)
//   ADMIN_TOKEN           the Worker's admin token, for its /admin routes
// Then, in order (each step is safe to repeat, and a run that stopped part-way is resumed):
//   1. asks the Worker which key it seals with (GET /admin/secrets-key) and refuses a key that is not it;
//   2. puts SECRETS_KEY_PREVIOUS = the current key, then SECRETS_KEY = the new one: the old key keeps
//      opening what it sealed throughout;
//   3. waits until the Worker seals with the new key, then calls POST /admin/reseal-secrets (with the new
//      key's id, which an isolate still on the old key refuses) until nothing remains under the old key;
//   4. deletes SECRETS_KEY_PREVIOUS.
import { createHmac, randomBytes } from "node:crypto";

/** What a key id is: HMAC-SHA256(key, this label), first 8 bytes in hex (src/crypto/seal.ts). */
export function keyIdOf(base64Key) {
  return createHmac("sha256", Buffer.from(base64Key, "base64")).update("canopy secrets key id").digest("hex").slice(0, 16);
}

/** Calls to the Worker while it takes up a new secret, and between them. */
const PROPAGATION_ATTEMPTS = Number(process.env.CANOPY_ROTATE_ATTEMPTS ?? 60);
const PROPAGATION_WAIT_MS = Number(process.env.CANOPY_ROTATE_WAIT_MS ?? 2000);
/** ResealSecrets calls in a row that reseal nothing while values remain: then something is wrong. */
const MAX_CALLS_WITHOUT_PROGRESS = 5;

const KEY_FORMAT = /^[A-Za-z0-9+/]{43}=$/;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs the rotation. `ctx`: { step, note, capture, die, dryRun, configArgs, workerName, url, env }.
 */
export async function rotateSecretsKey(ctx) {
  const { step, note, capture, die, dryRun, configArgs, workerName } = ctx;
  const oldKey = ctx.env.SECRETS_KEY_PREVIOUS || undefined;
  const adminToken = ctx.env.ADMIN_TOKEN || undefined;
  const url = (ctx.url ?? ctx.env.CANOPY_URL ?? "").replace(/\/+$/, "");
  if (!dryRun) {
    if (!url) die("--rotate-secrets-key needs the Worker's URL: --url https://<worker>.<subdomain>.workers.dev (or CANOPY_URL).");
    if (!adminToken) die("--rotate-secrets-key needs ADMIN_TOKEN: the Worker's admin token, for its /admin routes.");
    if (!oldKey) die("--rotate-secrets-key needs SECRETS_KEY_PREVIOUS: the key the Worker seals with now (Cloudflare never returns it).");
  }
  if (oldKey !== undefined && !KEY_FORMAT.test(oldKey)) die("SECRETS_KEY_PREVIOUS must be one key, the base64 of 32 bytes (44 characters ending in =).");
  let newKey = ctx.env.SECRETS_KEY || undefined;
  if (newKey !== undefined && newKey === oldKey) die("SECRETS_KEY and SECRETS_KEY_PREVIOUS are the same key: give a new SECRETS_KEY, or none to have one made.");

  /** Calls the Worker's admin API; its JSON answer, with the status. */
  const api = async (method, path, body) => {
    let res;
    try {
      res = await fetch(url + path, {
        method,
        headers: { authorization: `Bearer ${adminToken}`, ...(body ? { "content-type": "application/json" } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
    } catch (e) {
      die(`${method} ${url}${path} failed: ${e.message}. Nothing more was changed.`);
    }
    const text = await res.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text };
  };
  const keyIds = async () => {
    const r = await api("GET", "/admin/secrets-key");
    if (r.status !== 200 || typeof r.json?.keyId !== "string") {
      die(`GET ${url}/admin/secrets-key answered ${r.status}: ${r.text.slice(0, 300)}\n  Is the URL the Worker's, ADMIN_TOKEN its admin token, and is the Worker deployed with this version of Canopy?`);
    }
    return r.json;
  };
  const put = (name, value, comment) => {
    const args = ["secret", "put", name, ...configArgs];
    const r = capture(args, { comment, input: value });
    if (r && r.status !== 0) die(`\`wrangler ${args.join(" ")}\` failed (exit ${r.status}):\n${(r.stderr + r.stdout).trim()}`);
  };

  step("Check the key the Worker seals with now (GET /admin/secrets-key)");
  if (dryRun) {
    console.log(`   $ curl -H "authorization: Bearer $ADMIN_TOKEN" ${url || "$CANOPY_URL"}/admin/secrets-key    # must name the key of $SECRETS_KEY_PREVIOUS`);
  }
  let resume = false;
  let newId;
  if (!dryRun) {
    const existing = capture(["secret", "list", ...configArgs], { comment: "the Worker must have SECRETS_KEY" });
    const names = existing.status === 0 ? (JSON.parse(existing.stdout.slice(existing.stdout.search(/^\[/m))) ?? []).map((s) => s.name) : [];
    if (!names.includes("SECRETS_KEY")) die(`The Worker "${workerName}" has no SECRETS_KEY: there is nothing to rotate (a first \`npm run deploy\` puts one).`);
    const oldId = keyIdOf(oldKey);
    const ids = await keyIds();
    if (ids.keyId === oldId) {
      newKey ??= randomBytes(32).toString("base64");
      newId = keyIdOf(newKey);
      note(`The Worker seals with key ${oldId}, the key given as SECRETS_KEY_PREVIOUS. The new key is ${newId}.`);
    } else if ((ids.previousKeyIds ?? []).includes(oldId)) {
      // An earlier run put the new key and stopped: go on from the reseal.
      if (newKey !== undefined && keyIdOf(newKey) !== ids.keyId) {
        die(`A rotation from key ${oldId} is under way to key ${ids.keyId}, not to the SECRETS_KEY given (${keyIdOf(newKey)}). Run again without SECRETS_KEY, or with that key, to finish it.`);
      }
      resume = true;
      newId = ids.keyId;
      note(`A rotation from key ${oldId} to key ${newId} is under way: going on with the reseal.`);
    } else {
      die(
        `The key given as SECRETS_KEY_PREVIOUS (id ${oldId}) is not the one the Worker seals with (id ${ids.keyId}${ids.previousKeyIds?.length ? `; previous: ${ids.previousKeyIds.join(", ")}` : ""}). Nothing was changed.\n` +
          "  Give the key the Worker uses now. Without it, the stored secrets cannot be moved to a new key.",
      );
    }
  }

  step("Put the current key as SECRETS_KEY_PREVIOUS, then the new key as SECRETS_KEY");
  if (dryRun) {
    put("SECRETS_KEY_PREVIOUS", undefined, "value: $SECRETS_KEY_PREVIOUS, the key in use now: it keeps opening what it sealed");
    put("SECRETS_KEY", undefined, `value: ${newKey ? "$SECRETS_KEY" : "32 random bytes, base64, printed once"}`);
  } else if (resume) {
    note("Already done by the earlier run.");
  } else {
    put("SECRETS_KEY_PREVIOUS", oldKey, "value: $SECRETS_KEY_PREVIOUS, the key in use now: it keeps opening what it sealed");
    put("SECRETS_KEY", newKey, ctx.env.SECRETS_KEY ? "value: $SECRETS_KEY" : "value: generated");
    if (!ctx.env.SECRETS_KEY) {
      console.log(`\n   Generated the new SECRETS_KEY (shown once; keep it: the next rotation needs it):\n\n     SECRETS_KEY=${newKey}\n`);
    }
  }

  step("Reseal every stored secret under the new key (POST /admin/reseal-secrets, until 0 remain)");
  if (dryRun) {
    console.log(`   $ curl -X POST -H "authorization: Bearer $ADMIN_TOKEN" ${url || "$CANOPY_URL"}/admin/reseal-secrets    # repeated until remainingUnderOldKeys is 0`);
  } else {
    // A new secret takes moments to reach every isolate; until then one may still seal with the old key.
    let ids = await keyIds();
    for (let i = 1; ids.keyId !== newId; i++) {
      if (i >= PROPAGATION_ATTEMPTS) die(`The Worker still seals with key ${ids.keyId}, not ${newId}, after ${i} checks. Run the same command again to go on.`);
      await sleep(PROPAGATION_WAIT_MS);
      ids = await keyIds();
    }
    let resealed = 0;
    let idle = 0;
    let refused = 0;
    for (;;) {
      const r = await api("POST", "/admin/reseal-secrets", { keyId: newId });
      if (r.status === 409) {
        // An isolate still on the old key: it resealed nothing.
        if (++refused >= PROPAGATION_ATTEMPTS) die(`The Worker kept answering 409 (${r.json?.message}). Run the same command again to go on.`);
        await sleep(PROPAGATION_WAIT_MS);
        continue;
      }
      if (r.status !== 200 || typeof r.json?.remainingUnderOldKeys !== "number") die(`POST ${url}/admin/reseal-secrets answered ${r.status}: ${r.text.slice(0, 300)}`);
      resealed += r.json.resealed;
      note(`resealed ${r.json.resealed} (${resealed} in all); ${r.json.remainingUnderOldKeys} remain under the old key${r.json.unreadable ? `; ${r.json.unreadable} unreadable` : ""}`);
      if (r.json.remainingUnderOldKeys === 0) {
        if (r.json.unreadable > 0) {
          note(`${r.json.unreadable} stored secret(s) are under a key this Worker has never been given, and stay unreadable: their owners must set them again (the Worker logs them as secrets.unreadable).`);
        }
        break;
      }
      idle = r.json.resealed === 0 ? idle + 1 : 0;
      if (idle >= MAX_CALLS_WITHOUT_PROGRESS) die(`ResealSecrets resealed nothing in ${idle} calls while ${r.json.remainingUnderOldKeys} remain. SECRETS_KEY_PREVIOUS is kept; see the Worker's logs (wrangler tail).`);
    }
  }

  step("Delete SECRETS_KEY_PREVIOUS: nothing is sealed with the old key any more");
  {
    const args = ["secret", "delete", "SECRETS_KEY_PREVIOUS", ...configArgs];
    const r = capture(args);
    if (r && r.status !== 0) die(`\`wrangler ${args.join(" ")}\` failed (exit ${r.status}):\n${(r.stderr + r.stdout).trim()}`);
  }
  console.log(dryRun ? "\nDry run done: nothing was run." : `\nRotated: the Worker "${workerName}" seals with key ${newId} and keeps no other.`);
}
