// archive/totals.json: the event totals (totals.ts) of every mail archived so far, and the
// segments they came from. Writing it is the commit point of archiving: the compactor
// writes the archive copies first, then this file, then removes the live copies. So a
// segment found in both spool/ and archive/ at start is settled by it — listed: archived,
// the live copy is dropped; not listed: not archived, the archive copy is dropped — and
// every mail is counted exactly once, in the index or here, whenever the process stopped.
import fs from "node:fs";
import path from "node:path";
import type { Logger } from "../log.js";
import { fsyncDirSync, writeFileDurablySync } from "./fsync.js";
import { listSegments, segmentName } from "./segment-files.js";
import { emptyTotals, totalKeys, type Totals } from "./totals.js";

export interface ArchiveTotals extends Totals {
  /** Segment numbers archived (their files may since have been removed by retention). */
  segments: number[];
  /**
   * Mails with records both in archived segments and in live ones (split-mails.ts), by id:
   * the archived segments holding their records. Start-up folds such a mail from both.
   */
  split: Record<string, number[]>;
}

export function totalsFile(archiveDir: string): string {
  return path.join(archiveDir, "totals.json");
}

/** A missing file counts as nothing archived, an unreadable one too (with a warning); a file from before `segments` lists none. */
export function readArchiveTotals(archiveDir: string, log?: Logger): ArchiveTotals {
  const empty: ArchiveTotals = { ...emptyTotals(), segments: [], split: {} };
  const file = totalsFile(archiveDir);
  if (!fs.existsSync(file)) return empty;
  let parsed: Partial<ArchiveTotals>;
  try {
    parsed = JSON.parse(fs.readFileSync(file, "utf8"));
    if (typeof parsed !== "object" || parsed === null) throw new Error("not a JSON object");
  } catch (error) {
    log?.warn({ file, err: error }, "archive/totals.json is unreadable: archived mails are not counted in the totals");
    return empty;
  }
  const totals = { ...empty };
  for (const key of totalKeys) if (typeof parsed[key] === "number") totals[key] = parsed[key];
  if (Array.isArray(parsed.segments)) totals.segments = parsed.segments.filter(Number.isInteger);
  if (typeof parsed.split === "object" && parsed.split !== null && !Array.isArray(parsed.split))
    for (const [id, segments] of Object.entries(parsed.split))
      if (Array.isArray(segments)) totals.split[id] = segments.filter(Number.isInteger);
  return totals;
}

export function writeArchiveTotals(archiveDir: string, totals: ArchiveTotals): void {
  writeFileDurablySync(totalsFile(archiveDir), JSON.stringify(totals));
}

/** At start, before the live spool is read: finishes or undoes an archiving a stop interrupted. */
export function settleInterruptedArchiving(
  dirs: { spool: string; archive: string },
  totals: ArchiveTotals,
  log: Logger,
): void {
  const archived = new Set(listSegments(dirs.archive));
  const committed = new Set(totals.segments);
  for (const segment of listSegments(dirs.spool)) {
    if (!archived.has(segment)) continue;
    const done = committed.has(segment);
    const dir = done ? dirs.spool : dirs.archive;
    fs.rmSync(path.join(dir, segmentName(segment)));
    fsyncDirSync(dir);
    log.warn(
      { segment: segmentName(segment) },
      done
        ? "finished archiving a segment a stop interrupted (removed its live copy)"
        : "undid archiving a segment a stop interrupted (removed its archive copy)",
    );
  }
}
