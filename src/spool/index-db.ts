// The spool index's file: data/index.sqlite through Bun's built-in SQLite. Derived from the
// segments and never the source of truth: a missing, unreadable, cut-short or foreign file
// (another format, a position past the spool's end) is dropped and rebuilt from the segments.
// WAL with synchronous=OFF: no fsync ever blocks the event loop for a derived file. A crash
// of the process never corrupts it (lost commits are folded again from the position on);
// a power loss may, so the first open after the machine rebooted runs SQLite's quick_check
// (its cost grows with the index, paid once per boot) and a failing file is rebuilt.
import { Database } from "bun:sqlite";
import fs from "node:fs";

/** Bump when the schema or the stored entry's shape changes: an older file is rebuilt. */
export const indexFormat = "3";

const schema = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS mails (
  id TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  state TEXT NOT NULL,
  accepted_at TEXT NOT NULL,
  client TEXT NOT NULL,
  subject_fold TEXT NOT NULL,
  segment INTEGER NOT NULL,
  archived INTEGER NOT NULL,
  next_attempt_at TEXT,
  open_attempt INTEGER NOT NULL,
  blobs TEXT,
  entry TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS mails_seq ON mails (seq);
CREATE INDEX IF NOT EXISTS mails_state ON mails (state, seq);
CREATE INDEX IF NOT EXISTS mails_location ON mails (archived, segment);
CREATE INDEX IF NOT EXISTS mails_blobs ON mails (id) WHERE blobs IS NOT NULL;
CREATE TABLE IF NOT EXISTS recipients (address TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (address, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS keys (key TEXT PRIMARY KEY, id TEXT NOT NULL, ts TEXT NOT NULL, request_hash TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS segment_mails (segment INTEGER NOT NULL, id TEXT NOT NULL, PRIMARY KEY (segment, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS segment_mails_id ON segment_mails (id, segment);
CREATE TABLE IF NOT EXISTS attempt_ends (ended_at TEXT NOT NULL, failed INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS attempt_ends_at ON attempt_ends (ended_at);
CREATE TABLE IF NOT EXISTS segments (segment INTEGER PRIMARY KEY, newest TEXT NOT NULL, totals TEXT NOT NULL);
`;

export type IndexDb = Database;

/** An index that lives only as long as the process: readers and tests. */
export function memoryIndexDb(): IndexDb {
  const db = new Database(":memory:");
  db.exec(schema);
  setMeta(db, "format", indexFormat);
  return db;
}

/** The index file at `file`, created when missing; null when it cannot be used as it is (caller rebuilds). */
export function openIndexFile(file: string): { db: IndexDb; fresh: boolean } | null {
  const fresh = !fs.existsSync(file);
  let db: Database | null = null;
  try {
    db = new Database(file, { create: true });
    db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; PRAGMA busy_timeout = 5000;");
    if (!fresh) {
      if (getMeta(db, "format") !== indexFormat) throw new Error("another format");
      // written once a start-up's fold is done: a build killed half-way is not resumed
      if (getMeta(db, "complete") !== "1") throw new Error("a build that did not finish");
      if (getMeta(db, "boot") !== bootId()) {
        const check = db.query<{ quick_check: string }, []>("PRAGMA quick_check").get();
        if (check?.quick_check !== "ok") throw new Error("quick_check failed");
      }
      // a file cut short (no WAL holds the missing pages): cheaper than a full check, which grows with history
      const pages = db
        .query<{ n: number }, []>("SELECT page_count * page_size AS n FROM pragma_page_count, pragma_page_size")
        .get();
      if (!fs.existsSync(`${file}-wal`) && fs.statSync(file).size < (pages?.n ?? 0)) throw new Error("cut short");
    }
    db.exec(schema);
    if (fresh) setMeta(db, "format", indexFormat);
    setMeta(db, "boot", bootId());
    return { db, fresh };
  } catch {
    db?.close();
    return null;
  }
}

/** This boot of the machine (Linux); "" where there is none to read. */
function bootId(): string {
  try {
    return fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return "";
  }
}

/** Deletes the index file and its WAL companions. */
export function removeIndexFile(file: string): void {
  if (fs.lstatSync(file, { throwIfNoEntry: false })?.isDirectory())
    throw new Error(`${file} is a directory, not the spool index; move it away and start again`);
  for (const suffix of ["", "-wal", "-shm"]) fs.rmSync(`${file}${suffix}`, { force: true });
}

export function getMeta(db: IndexDb, key: string): string | undefined {
  return db.query<{ value: string }, [string]>("SELECT value FROM meta WHERE key = ?").get(key)?.value;
}

export function setMeta(db: IndexDb, key: string, value: string): void {
  db.query<unknown, [string, string]>("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)").run(key, value);
}
