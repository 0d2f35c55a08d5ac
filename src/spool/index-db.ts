// The spool index's file: data/index.sqlite through Bun's built-in SQLite. Derived from the
// segments and never the source of truth: a missing, unreadable, cut-short or foreign file
// (another format, a position past the spool's end) is dropped and rebuilt from the segments.
// WAL with synchronous=OFF: no fsync ever blocks the event loop for a derived file. A crash
// of the process never corrupts it (lost commits are folded again from the position on);
// a power loss may, so the first open after the machine rebooted runs SQLite's quick_check
// (its cost grows with the index, paid once per boot) and a failing file is rebuilt.
import { constants, Database } from "bun:sqlite";
import fs from "node:fs";

/** Bump when the schema or the stored entry's shape changes: an older file is rebuilt. */
export const indexFormat = "4";

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
CREATE INDEX IF NOT EXISTS mails_scheduled ON mails (next_attempt_at, id) WHERE state = 'scheduled';
CREATE TABLE IF NOT EXISTS tags (tag TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (tag, id)) WITHOUT ROWID;
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
    if (!fresh && problemOf(db, file, "check")) throw new Error("unusable");
    db.exec(schema);
    if (fresh) setMeta(db, "format", indexFormat);
    setMeta(db, "boot", bootId());
    return { db, fresh };
  } catch {
    db?.close();
    return null;
  }
}

/**
 * Why the index file cannot be used as it is, or null. After the machine restarted, a
 * power loss may have torn it: serve runs quick_check (`check`); a reader, which must not
 * pay what grows with history, does not trust it (`refuse`).
 */
function problemOf(db: Database, file: string, afterReboot: "check" | "refuse"): string | null {
  if (getMeta(db, "format") !== indexFormat) return "is of another format";
  // written once a start-up's fold is done: a build killed half-way is not resumed
  if (getMeta(db, "complete") !== "1") return "is a build that did not finish";
  if (getMeta(db, "boot") !== bootId()) {
    if (afterReboot === "refuse")
      return "has not been checked since the machine restarted (serve checks it at its start)";
    const check = db.query<{ quick_check: string }, []>("PRAGMA quick_check").get();
    if (check?.quick_check !== "ok") return "is damaged (quick_check failed)";
  }
  // a file cut short (no WAL holds the missing pages): cheaper than a full check, which grows with history
  const pages = db
    .query<{ n: number }, []>("SELECT page_count * page_size AS n FROM pragma_page_count, pragma_page_size")
    .get();
  if (!walHolds(file) && fs.statSync(file).size < (pages?.n ?? 0)) return "is cut short";
  return null;
}

/** Whether the file's WAL holds changes not yet in the file itself. */
function walHolds(file: string): boolean {
  return (fs.statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0) > 0;
}

export interface IndexSnapshot {
  db: IndexDb;
  /** False when the file changed while it was read without a lock (a server started and wrote it): read again. */
  unchanged(): boolean;
}

/**
 * The index file for a reader that never locks and never writes, in one read transaction
 * (so what it reads is one point of the server's history), or why it cannot be used.
 * While a server runs, a read-only connection shares its WAL. With none running, the file
 * is opened immutable — no -wal or -shm is created or touched — which is sound only when
 * the last server's WAL holds nothing (it checkpoints at its stop); one left holding
 * changes (a crash) would have to be recovered, a write, so it is not used.
 */
export function openIndexForReading(file: string, serverRunning: boolean): IndexSnapshot | { problem: string } {
  const before = fs.statSync(file, { throwIfNoEntry: false, bigint: true });
  if (!before) return { problem: "is missing" };
  if (!serverRunning && walHolds(file))
    return { problem: "has changes in its WAL that a server which did not stop cleanly left" };
  let db: Database | null = null;
  try {
    db = serverRunning
      ? new Database(file, { readonly: true })
      : new Database(`file:${encodeURI(file).replace(/[?#]/g, encodeURIComponent)}?immutable=1`, immutableFlags);
    if (serverRunning) db.exec("PRAGMA busy_timeout = 5000");
    db.exec("BEGIN");
    const problem = problemOf(db, file, "refuse");
    if (problem) {
      db.close();
      return { problem };
    }
    const unchanged = () => {
      const now = fs.statSync(file, { throwIfNoEntry: false, bigint: true });
      return serverRunning || (now?.ino === before.ino && now.size === before.size && now.mtimeNs === before.mtimeNs);
    };
    return { db, unchanged };
  } catch (error) {
    db?.close();
    return { problem: `is unreadable (${(error as Error).message})` };
  }
}

const immutableFlags = constants.SQLITE_OPEN_READONLY | constants.SQLITE_OPEN_URI;

/** Writes what the WAL holds into the file and empties it: a reader finds a stopped server's index whole. */
export function closeIndexFile(db: IndexDb): void {
  try {
    db.query("PRAGMA wal_checkpoint(TRUNCATE)").get();
  } catch {
    // a checkpoint that cannot be written (a full disk) only sends readers to the full fold
  }
  db.close();
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
