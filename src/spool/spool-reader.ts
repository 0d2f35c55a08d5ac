// What the CLI's read commands read the spool through: never a lock, never a write. The
// index file when it is usable (index-db.ts opens it for reading; index-view.ts adds the
// records past its position), so their time and memory do not grow with history; else
// every segment folded in memory, archive/ included (Spool.read), and `onFallback` says why.
import { SQLiteError } from "bun:sqlite";
import fs from "node:fs";
import type { Logger } from "../log.js";
import type { MailId } from "../types.js";
import { readArchiveTotals } from "./archive-totals.js";
import { openIndexForReading } from "./index-db.js";
import { IndexView } from "./index-view.js";
import { lockHeld } from "./lock.js";
import { MailIndex } from "./mail-index.js";
import type { MailReader } from "./mail-reader.js";
import type { AcceptedRecord, SpoolRecord } from "./record.js";
import { ReadHandles } from "./read-handles.js";
import { IndexPositionError, recoverSegments } from "./recover.js";
import {
  indexFile,
  readAcceptedRecord,
  resumePoint,
  Spool,
  spoolPaths,
  type CountingObserver,
  type SpoolPaths,
} from "./spool.js";

export interface SpoolReaderOptions {
  dataDir: string;
  log: Logger;
  /** Counts the server keeps with its index, by name: restored from it and fed the records past it, or fed every record. */
  counters?: Record<string, CountingObserver>;
  /** The index could not be used (why): every segment is read instead. Called once at most. */
  onFallback?: (reason: string) => void;
}

export interface SpoolReader {
  paths: SpoolPaths;
  mails: MailReader;
  readAccepted(id: MailId): Promise<AcceptedRecord>;
}

interface IndexedReader extends SpoolReader {
  unchanged(): boolean;
  close(): void;
}

/** Opens a reader, lets `use` read through it and closes it; what `use` returns is one moment of the spool. */
export async function readSpool<T>(
  options: SpoolReaderOptions,
  use: (reader: SpoolReader) => T | Promise<T>,
): Promise<T> {
  // an index file read without a lock that changed meanwhile (a server started and wrote it) is read again, once
  for (let attempt = 0; attempt < 2; attempt += 1) {
    const reader = openIndexed(options);
    if ("problem" in reader) return readEverySegment(options, reader.problem, use);
    let failed: SQLiteError | null = null;
    try {
      const value = await use(reader);
      if (reader.unchanged()) return value;
    } catch (error) {
      if (!(error instanceof SQLiteError)) throw error;
      failed = error;
    } finally {
      reader.close();
    }
    if (failed) return readEverySegment(options, `could not be read (${failed.message})`, use);
  }
  return readEverySegment(options, "changed while it was read", use);
}

function openIndexed(options: SpoolReaderOptions): IndexedReader | { problem: string } {
  const paths = spoolPaths(options.dataDir);
  const snapshot = openIndexForReading(indexFile(options.dataDir), lockHeld(paths.lock));
  if ("problem" in snapshot) return snapshot;
  let view: IndexView;
  try {
    const file = new MailIndex(snapshot.db, options.log);
    // an index whose counts were never saved (built by an earlier release's reindex) cannot answer stat
    const missing = Object.keys(options.counters ?? {}).find((name) => file.savedCounter(name) === undefined);
    if (missing) {
      snapshot.db.close();
      return { problem: `holds no ${missing} counts yet (serve keeps them in it)` };
    }
    view = foldTail(paths, file, options);
  } catch (error) {
    snapshot.db.close();
    if (error instanceof IndexPositionError) return { problem: `is ahead of the segments (${error.message})` };
    if (error instanceof SQLiteError) return { problem: `is unreadable (${error.message})` };
    throw error;
  }
  const handles = new ReadHandles();
  return {
    paths,
    mails: view,
    readAccepted: (id) => readAcceptedRecord(paths, handles, id, view.get(id)),
    unchanged: snapshot.unchanged,
    close() {
      handles.close();
      view.close();
      snapshot.db.close();
    },
  };
}

/** The file's view with the records past its position folded in; the counters restored from the file and fed the same records. */
function foldTail(paths: SpoolPaths, file: MailIndex, options: SpoolReaderOptions): IndexView {
  const view = new IndexView(file);
  const counters = Object.entries(options.counters ?? {});
  for (const [name, counter] of counters) counter.restore(file.savedCounter(name));
  if (!fs.existsSync(paths.spool)) return view;
  try {
    recoverSegments({
      spoolDir: paths.spool,
      from: resumePoint(file.position, paths, readArchiveTotals(paths.archive, options.log)) ?? undefined,
      corruptDir: paths.corrupt,
      repair: false,
      log: options.log,
      onRecord(record, location) {
        view.apply(record, location);
        for (const [, counter] of counters) counter.observe(record);
      },
    });
  } catch (error) {
    view.close();
    throw error;
  }
  return view;
}

async function readEverySegment<T>(
  options: SpoolReaderOptions,
  reason: string,
  use: (reader: SpoolReader) => T | Promise<T>,
): Promise<T> {
  options.onFallback?.(reason);
  const counters = Object.values(options.counters ?? {});
  for (const counter of counters) counter.restore(undefined);
  const observers = counters.map((counter) => (record: SpoolRecord) => counter.observe(record));
  const spool = Spool.read({ dataDir: options.dataDir, log: options.log, observers });
  try {
    return await use({ paths: spool.paths, mails: spool.index, readAccepted: (id) => spool.readAccepted(id) });
  } finally {
    await spool.close();
  }
}
