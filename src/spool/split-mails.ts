// Mails split by archiving: the compactor moves whole segments, so a mail can have records
// in an archived segment and in a live one (its accepted record in a segment that stays
// live for another mail's sake while its attempts' segment is archived, or the other way
// round). Start-up reads only spool/, which would see such a mail half: queued again
// although it was sent (and deliver it twice), or not at all. archive/totals.json lists
// them (ArchiveTotals.split); here each is folded again from all its records, archived and
// live, in segment order — the order they were written in.
import fs from "node:fs";
import path from "node:path";
import type { MailId } from "../types.js";
import { MailIndex } from "./mail-index.js";
import { decodeRecord, type SpoolRecord } from "./record.js";
import type { Location } from "./segment.js";
import type { SegmentMap } from "./segment-map.js";
import { segmentName, terminatedLines } from "./segment-files.js";

export interface SplitMailSources {
  spoolDir: string;
  archiveDir: string;
  /** Mail id → archived segments holding its records. */
  split: Record<string, number[]>;
  live: SegmentMap;
}

/** Folds each split mail from every segment that holds its records; returns the entries (mails no segment holds are left out). */
export function foldSplitMails(sources: SplitMailSources): MailIndex {
  const ids = new Set(Object.keys(sources.split));
  const where = new Map<number, { archived: boolean }>();
  for (const id of ids) {
    for (const segment of sources.live.segmentsOf(id)) where.set(segment, { archived: false });
    for (const segment of sources.split[id]!) if (!where.has(segment)) where.set(segment, { archived: true });
  }
  const folded = new MailIndex();
  for (const segment of [...where.keys()].sort((a, b) => a - b)) {
    const { archived } = where.get(segment)!;
    for (const { record, location } of recordsOf(sources, segment, archived, ids)) folded.apply(record, location);
  }
  return folded;
}

function recordsOf(
  sources: SplitMailSources,
  segment: number,
  archived: boolean,
  ids: Set<MailId>,
): { record: SpoolRecord; location: Location }[] {
  const file = path.join(archived ? sources.archiveDir : sources.spoolDir, segmentName(segment));
  // retention may have removed an archived segment: its records are gone for good
  if (!fs.existsSync(file)) return [];
  const found: { record: SpoolRecord; location: Location }[] = [];
  for (const { line, offset, next } of terminatedLines(fs.readFileSync(file))) {
    const decoded = decodeRecord(line);
    if (!decoded.ok || !ids.has(decoded.record.id)) continue;
    const location = { segment, offset, length: next - offset, ...(archived ? { archived: true } : {}) };
    found.push({ record: decoded.record, location });
  }
  return found;
}
