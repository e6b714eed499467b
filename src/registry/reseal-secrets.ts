/**
 * ResealSecrets: after a key rotation, seals every stored value again under the current key, a
 * bounded batch per call, so that the previous key can be dropped. Stateless: each call finds the
 * values still under an old key by their indexed `sealed_key_id` (migrations/0014_sealed_key_ids.sql).
 *
 * - A value is rewritten only if it is still the one read (compare-and-set in the same statement):
 *   a secret changed meanwhile was sealed under the current key by its own write, and is left alone.
 * - A value that no key of the deployment opens (sealed under a key it no longer has, or damaged)
 *   cannot be resealed. A v1 value of that kind is rewritten to name UNKNOWN_KEY_ID (its iv and
 *   ciphertext kept), so that later calls move past it; it is counted in `unreadable`, logged as
 *   `secrets.unreadable` with where it is (never a value), and its secret must be set again.
 */
import { RESEAL_BATCH, RESEAL_MAX_BYTES } from "../limits";
import { logEvent } from "../log";
import { SEALED_NOTIFICATION_SECRETS } from "../notifications/store";
import { SEALED_TRIGGER_SECRETS } from "../webhooks/triggers";
import { open, seal, sealingKeys, UNKNOWN_KEY_ID, type SealedColumn, type SealingKeys } from "../crypto/seal";
import { SEALED_SECRET_VALUES } from "./secrets";

/** Every stored sealed column. A new table of sealed values is added here, or a rotation leaves it behind. */
export const SEALED_COLUMNS: readonly SealedColumn[] = [SEALED_SECRET_VALUES, SEALED_TRIGGER_SECRETS, SEALED_NOTIFICATION_SECRETS];

export interface ResealResult {
  /** Values this call sealed again under the current key. */
  resealed: number;
  /** Values still under a key other than the current one that this deployment can open: call again until 0. */
  remainingUnderOldKeys: number;
  /** Values under a key this deployment does not have: they stay as they are, and their secrets must be set again. */
  unreadable: number;
  /** The id of the key values are sealed under now. */
  keyId: string;
}

/** `?, ?, …` for `n` parameters. */
const params = (n: number) => Array.from({ length: n }, () => "?").join(", ");

/** Seals one batch of values under old keys again; see the module's comment. */
export async function resealSecrets(env: Pick<Env, "DB"> & SealingKeys): Promise<ResealResult> {
  const db = env.DB;
  const { current, previous } = await sealingKeys(env);
  // '' is a v1 value: it names no key, and may open under any.
  const openable = ["", ...previous.map((k) => k.id)];
  let budget = RESEAL_BATCH;
  let bytes = 0;
  let resealed = 0;
  let markedUnreadable = 0;
  const writes: D1PreparedStatement[] = [];
  for (const col of SEALED_COLUMNS) {
    if (budget <= 0 || bytes >= RESEAL_MAX_BYTES) break;
    const { results } = await db
      .prepare(`SELECT ${col.keys.join(", ")}, ${col.column} AS sealed FROM ${col.table} WHERE sealed_key_id IN (${params(openable.length)}) LIMIT ?`)
      .bind(...openable, budget)
      .all<Record<string, string>>();
    const changes: string[][] = [];
    for (const row of results) {
      if (bytes >= RESEAL_MAX_BYTES) break;
      const keys = col.keys.map((k) => row[k]!);
      const sealed = row.sealed!;
      let next: string;
      try {
        next = await seal(env, await open(env, sealed, col.associatedData(keys)), col.associatedData(keys));
        resealed++;
      } catch (e) {
        const [, ...rest] = sealed.split(".");
        next = `v2.${UNKNOWN_KEY_ID}.${(sealed.startsWith("v2.") ? rest.slice(1) : rest).join(".")}`;
        markedUnreadable++;
        logEvent("secrets.unreadable", { table: col.table, row: Object.fromEntries(col.keys.map((k, i) => [k, keys[i]])), error: String((e as Error).message ?? e) });
      }
      bytes += sealed.length + next.length;
      budget--;
      changes.push([...keys, sealed, next]);
    }
    if (changes.length > 0) writes.push(updateStatement(db, col, changes));
  }
  if (writes.length > 0) await db.batch(writes);
  const counts = await countUnderOldKeys(db, current.id, openable);
  if (resealed > 0 || markedUnreadable > 0) {
    logEvent("secrets.resealed", { resealed, markedUnreadable, keyId: current.id, ...counts });
  }
  return { resealed, ...counts, keyId: current.id };
}

/**
 * One UPDATE for a table's batch: `changes` rows are [...keys, old value, new value], sent as one
 * JSON parameter. A row is rewritten only while it still holds the old value.
 */
function updateStatement(db: D1Database, col: SealedColumn, changes: string[][]): D1PreparedStatement {
  const n = col.keys.length;
  const match = col.keys.map((k, i) => `${col.table}.${k} = c.value ->> ${i}`).join(" AND ");
  return db
    .prepare(
      `UPDATE ${col.table} SET ${col.column} = c.value ->> ${n + 1}
       FROM json_each(?) AS c WHERE ${match} AND ${col.table}.${col.column} = c.value ->> ${n}`,
    )
    .bind(JSON.stringify(changes));
}

/** How many values are still under old keys this deployment has, and how many under keys it has not. */
async function countUnderOldKeys(db: D1Database, currentId: string, openable: string[]): Promise<{ remainingUnderOldKeys: number; unreadable: number }> {
  const known = [currentId, ...openable];
  const remaining = SEALED_COLUMNS.map((c) => `(SELECT count(*) FROM ${c.table} WHERE sealed_key_id IN (${params(openable.length)}))`).join(" + ");
  const unreadable = SEALED_COLUMNS.map((c) => `(SELECT count(*) FROM ${c.table} WHERE sealed_key_id NOT IN (${params(known.length)}))`).join(" + ");
  const row = await db
    .prepare(`SELECT ${remaining} AS remaining, ${unreadable} AS unreadable`)
    .bind(...SEALED_COLUMNS.flatMap(() => openable), ...SEALED_COLUMNS.flatMap(() => known))
    .first<{ remaining: number; unreadable: number }>();
  return { remainingUnderOldKeys: row?.remaining ?? 0, unreadable: row?.unreadable ?? 0 };
}
