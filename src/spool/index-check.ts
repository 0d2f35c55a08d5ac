// fsck's check of the spool index (index-db.ts): the entries it holds must be what the
// segments fold to up to the index's position — the same fold a rebuild makes. Read in
// one SQLite read transaction, so a running server's writes do not skew it.
import { Database } from "bun:sqlite";
import fs from "node:fs";
import { createLogger } from "../log.js";
import { getMeta } from "./index-db.js";
import { MailIndex, type IndexPosition, type MailEntry } from "./mail-index.js";
import { recoverSegments } from "./recover.js";
import type { SpoolPaths } from "./spool.js";

export interface IndexCheck {
  /** Mails in the index. */
  mails: number;
  /** Mails whose stored entry differs from the fold, or that only one side has. */
  differing: string[];
}

/** null when there is no index file (serve builds one at its next start). */
export function checkIndexFile(paths: SpoolPaths, file: string): IndexCheck | null {
  if (!fs.existsSync(file)) return null;
  const db = new Database(file, { readonly: true });
  try {
    db.exec("BEGIN");
    const position = getMeta(db, "position");
    const stored = new Map<string, string>();
    for (const row of db.query<{ id: string; entry: string }, []>("SELECT id, entry FROM mails").all())
      stored.set(row.id, row.entry);
    db.exec("COMMIT");
    const mails = stored.size;
    const folded = foldUntil(paths, position ? (JSON.parse(position) as IndexPosition) : { segment: 0, offset: 0 });
    const differing = new Set<string>();
    for (const entry of folded) {
      const mine = stored.get(entry.id);
      // both sides build an entry in the same steps, so equal entries serialise alike
      if (mine !== JSON.stringify(entry)) differing.add(entry.id);
      stored.delete(entry.id);
    }
    for (const id of stored.keys()) differing.add(id);
    return { mails, differing: [...differing] };
  } finally {
    db.close();
  }
}

/** Every mail the segments hold, folded from archive/ and spool/ up to `until` in spool/. */
function foldUntil(paths: SpoolPaths, until: IndexPosition): MailEntry[] {
  const index = new MailIndex();
  const ids: string[] = [];
  const seen = new Set<string>();
  recoverSegments({
    spoolDir: paths.spool,
    ...(fs.existsSync(paths.archive) ? { archiveDir: paths.archive } : {}),
    corruptDir: paths.corrupt,
    repair: false,
    log: createLogger("silent"),
    onRecord(record, location) {
      const past =
        !location.archived &&
        (location.segment > until.segment ||
          (location.segment === until.segment && location.offset + location.length > until.offset));
      if (past) return;
      index.apply(record, location);
      if (!seen.has(record.id)) [seen.add(record.id), ids.push(record.id)];
    },
  });
  index.releaseArchivedBlobs();
  const entries = ids.map((id) => index.get(id)).filter((e): e is MailEntry => e !== undefined);
  index.close();
  return entries;
}
