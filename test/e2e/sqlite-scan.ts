/**
 * Looks for strings (job ids) in every SQLite file of a `npm start` state directory, two ways:
 * - raw: the bytes of each file (`.sqlite`, `-wal`, `-shm`), so a deleted row whose bytes SQLite
 *   left in a free page or the write-ahead log is found too;
 * - live: every row of every table of each database (copied first, with its log, and opened
 *   read-only through node:sqlite), so what a query could still return is found.
 * Each file is put in the store it belongs to, by the directory miniflare keeps it in.
 *
 * Three are the local runtime's, not Canopy's: each Durable Object class's `metadata.sqlite`
 * (workerd's alarm index, `_cf_ALARM`: every set alarm with its object's NAME, here a job id); a
 * database that holds nothing but miniflare's `__miniflare_do_name` (any object asked for by name,
 * even one that was deleted or never existed, records its name so; a GetJob of a deleted job makes
 * one); and wrangler's trace and log store (v3/observability). The audit log (AuditLog objects)
 * is Canopy's but keeps its entries after the jobs they name are deleted (docs/security.md#audit-log),
 * so it is a store of its own too.
 */
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, relative } from "node:path";
import { DatabaseSync } from "node:sqlite";

export type Store = "JobObject" | "JobIndex" | "AuditLog" | "D1" | "alarmIndex" | "objectName" | "localObservability" | "other";

/** Every SQLite file (with its write-ahead log, rollback journal and shared memory) under `dir`. */
export function sqliteFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (/\.sqlite(-wal|-shm|-journal)?$/.test(entry.name)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** A file's size, 0 once it is gone (a journal comes and goes while the engine runs). */
function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** A file's bytes, empty once it is gone. */
function bytesOf(file: string): string {
  try {
    return readFileSync(file).toString("latin1");
  } catch {
    return "";
  }
}

/** Tables miniflare writes into every object's database it opens by name. */
const RUNTIME_TABLES = new Set(["__miniflare_do_name", "_cf_METADATA"]);

/** Whether a Durable Object database holds nothing but the runtime's own tables (its name). */
function nameOnly(file: string): boolean {
  const base = file.replace(/-(wal|shm|journal)$/, "");
  const work = mkdtempSync(join(tmpdir(), "canopy-name-"));
  try {
    const copy = join(work, "db.sqlite");
    copyFileSync(base, copy);
    for (const suffix of ["-wal", "-journal"]) if (existsSync(base + suffix)) copyFileSync(base + suffix, copy + suffix);
    const db = new DatabaseSync(copy);
    try {
      const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[]).map((t) => t.name);
      return tables.length > 0 && tables.every((t) => RUNTIME_TABLES.has(t));
    } finally {
      db.close();
    }
  } catch {
    return false;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The store a file belongs to by its place alone. */
function placeOf(file: string): Store {
  if (/\/do\/[^/]+\/metadata\.sqlite/.test(file)) return "alarmIndex";
  if (file.includes("/do/canopy-JobObject/")) return "JobObject";
  if (file.includes("/do/canopy-JobIndex/")) return "JobIndex";
  // The audit log keeps its own history of actions on jobs (by id) after the jobs are gone, by design.
  if (file.includes("/do/canopy-AuditLog/")) return "AuditLog";
  if (file.includes("/d1/")) return "D1";
  if (file.includes("/observability/")) return "localObservability";
  return "other";
}

/** The store a file belongs to (see the header): a Durable Object's database that holds only its name is the runtime's. */
export function storeOf(file: string): Store {
  const place = placeOf(file);
  return (place === "JobObject" || place === "JobIndex") && nameOnly(file) ? "objectName" : place;
}

export interface Hit {
  file: string;
  store: Store;
  id: string;
  /** The table holding a live row with the id (live scan only). */
  table?: string;
}

/**
 * How many databases of a store hold anything (more than an empty 4 KiB database and an empty log):
 * a stat per file, quick enough to poll while a sweep runs.
 */
export function nonEmptyDatabases(dir: string, store: Store): number {
  let n = 0;
  for (const file of sqliteFiles(dir)) {
    if (!file.endsWith(".sqlite") || placeOf(file) !== store) continue;
    if (sizeOf(file) > 4096 || sizeOf(`${file}-wal`) > 0) n++;
  }
  return n;
}

/** Ids found in the bytes of each file (of one store only, if given: a quicker look). */
export function rawHits(dir: string, ids: string[], only?: Store): Hit[] {
  const hits: Hit[] = [];
  for (const file of sqliteFiles(dir)) {
    const place = placeOf(file);
    if (only !== undefined && place !== only && !(only === "objectName" && (place === "JobObject" || place === "JobIndex"))) continue;
    const bytes = bytesOf(file);
    const found = ids.filter((id) => bytes.includes(id));
    if (found.length === 0) continue;
    // Only a file that holds an id is opened to tell an object's own rows from its name alone.
    const store = storeOf(file);
    if (only !== undefined && store !== only) continue;
    for (const id of found) hits.push({ file: relative(dir, file), store, id });
  }
  return hits;
}

/** Ids found in any live row of any table of each database. */
export function liveHits(dir: string, ids: string[]): Hit[] {
  const hits: Hit[] = [];
  const work = mkdtempSync(join(tmpdir(), "canopy-scan-"));
  try {
    for (const file of sqliteFiles(dir).filter((f) => f.endsWith(".sqlite"))) {
      const copy = join(work, basename(file));
      copyFileSync(file, copy);
      for (const suffix of ["-wal", "-shm", "-journal"]) if (existsSync(file + suffix)) copyFileSync(file + suffix, copy + suffix);
      const db = new DatabaseSync(copy);
      // The alarm index keeps times in nanoseconds: past what a JavaScript number holds exactly.
      const json = (rows: unknown[]) => JSON.stringify(rows, (_k, v) => (typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString("latin1") : v));
      try {
        const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[];
        for (const { name } of tables) {
          const statement = db.prepare(`SELECT * FROM "${name.replaceAll('"', '""')}"`);
          statement.setReadBigInts(true);
          const text = json(statement.all());
          for (const id of ids) if (text.includes(id)) hits.push({ file: relative(dir, file), store: storeOf(file), id, table: name });
        }
      } finally {
        db.close();
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return hits;
}
