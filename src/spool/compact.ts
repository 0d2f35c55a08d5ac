// Keeps the live spool small: a closed segment whose mails are all finished — sent or
// cancelled, or partial/failed and older than spool.retentionDays — and whose newest
// record is over a day old (idempotency keys, quota and daily-limit windows need a day)
// moves to archive/ with attachment bytes dropped; blobs no live mail refers to are
// removed; archive/ and outbox/ files past retentionDays are deleted (archive/totals.json
// stays: it keeps the archived mails' counts).
import fs from "node:fs";
import path from "node:path";
import type { Logger } from "../log.js";
import type { MailId } from "../types.js";
import { decodeRecord, encodeRecord, type SpoolRecord } from "./record.js";
import { fsyncDir } from "./fsync.js";
import { blobTempPrefix } from "./blobs.js";
import { segmentName, segmentNumber } from "./segment-files.js";
import type { Spool } from "./spool.js";
import { writeArchiveTotals } from "./archive-totals.js";
import { addTotals } from "./totals.js";
import type { Location } from "./segment.js";

export interface CompactOptions {
  retentionDays: number;
  log: Logger;
  now?: () => number;
  /** Cluster mode: a segment whose records the broker has not all confirmed yet stays live (it is read again to publish them). */
  keep?: (segment: number) => boolean;
}

export interface CompactResult {
  archivedSegments: number;
  archivedMails: number;
  removedBlobs: number;
  removedFiles: number;
}

const dayMs = 86_400_000;
/** A blob younger than this may belong to a request whose record is not appended yet. */
const blobGraceMs = 10 * 60_000;

export async function compactSpool(spool: Spool, options: CompactOptions): Promise<CompactResult> {
  const now = (options.now ?? Date.now)();
  const result: CompactResult = { archivedSegments: 0, archivedMails: 0, removedBlobs: 0, removedFiles: 0 };
  const dayAgo = new Date(now - dayMs).toISOString();
  const retentionEdge = options.retentionDays > 0 ? new Date(now - options.retentionDays * dayMs).toISOString() : "";
  const allFinished = (segment: number) => spool.index.unfinishedIn(segment, retentionEdge) === 0;

  const current = spool.segments.newestRecord(spool.currentSegment);
  if (current && current < dayAgo && allFinished(spool.currentSegment)) await spool.closeCurrentSegment();
  for (const segment of spool.segments.segments()) {
    if (segment >= spool.currentSegment || spool.segments.newestRecord(segment) >= dayAgo) continue;
    if (!allFinished(segment) || options.keep?.(segment)) continue;
    const moved = await writeArchiveCopy(spool, segment, new Set(splitBy(spool, segment)));
    // a mail replayed while the copy was written keeps its segment live
    if (!allFinished(segment)) {
      await fs.promises.rm(path.join(spool.paths.archive, segmentName(segment)), { force: true });
      continue;
    }
    result.archivedMails += commitArchived(spool, segment, moved);
    result.archivedSegments += 1;
    await fs.promises.rm(path.join(spool.paths.spool, segmentName(segment)));
    await fsyncDir(spool.paths.spool);
  }
  spool.index.forgetKeysBefore(new Date(now - 2 * dayMs).toISOString());
  result.removedBlobs = await removeUnreferencedBlobs(spool, now);
  if (options.retentionDays > 0)
    result.removedFiles =
      (await removeOlderThan(spool.paths.archive, now - options.retentionDays * dayMs, (name) => {
        const segment = segmentNumber(name);
        if (segment !== null) spool.index.forgetArchivedSegment(segment);
      })) + (await removeOlderThan(spool.paths.outbox, now - options.retentionDays * dayMs));
  if (result.archivedSegments || result.removedBlobs || result.removedFiles)
    options.log.info(result, "spool compacted");
  return result;
}

/**
 * The commit of archiving a segment (archive-totals.ts): archive/totals.json takes the
 * segment's counts and number, then — in the same synchronous step, so no reader sees a
 * total dip — the index lets go of them and of the mails with no live segment left.
 * Returns the number of mails that left the index.
 */
function commitArchived(spool: Spool, segment: number, moved: Map<MailId, Location>): number {
  const split = { ...spool.archived.split };
  const staying = new Set(splitBy(spool, segment));
  for (const id of spool.segments.mails(segment)) {
    if (staying.has(id)) split[id] = [...(split[id] ?? []), segment];
    else delete split[id];
  }
  const archived = { ...spool.archived, segments: [...spool.archived.segments, segment], split };
  addTotals(archived, spool.index.totals.of(segment));
  writeArchiveTotals(spool.paths.archive, archived);
  spool.archived = archived;
  spool.index.totals.take(segment);
  const gone = spool.segments.remove(segment);
  // the status of an archived mail stays in the index (until retention deletes its segment);
  // its blobs are let go once no live segment holds its records
  for (const id of gone) spool.index.markArchived(id, segment, false, moved.get(id));
  for (const id of staying) spool.index.markArchived(id, segment, true, moved.get(id));
  return gone.length;
}

/** The mails of `segment` that also have records in other live segments: archiving it splits them. */
function splitBy(spool: Spool, segment: number): MailId[] {
  return spool.segments.mails(segment).filter((id) => spool.segments.segmentsOf(id).some((s) => s !== segment));
}

/**
 * Rewrites the segment into archive/ without attachment bytes, durably; spool/ keeps its copy
 * until the commit. A mail that stays live elsewhere keeps its bytes: it may still be replayed.
 */
async function writeArchiveCopy(spool: Spool, segment: number, split: Set<MailId>): Promise<Map<MailId, Location>> {
  const source = path.join(spool.paths.spool, segmentName(segment));
  const target = path.join(spool.paths.archive, segmentName(segment));
  const lines = (await fs.promises.readFile(source, "utf8")).split("\n").filter((line) => line.length > 0);
  const moved = new Map<MailId, Location>();
  let offset = 0;
  const archived = lines.map((line) => {
    const decoded = decodeRecord(line);
    const copy = !decoded.ok
      ? `${line}\n`
      : encodeRecord(split.has(decoded.record.id) ? decoded.record : withoutAttachmentBytes(decoded.record));
    const length = Buffer.byteLength(copy);
    if (decoded.ok && decoded.record.type === "accepted")
      moved.set(decoded.record.id, { segment, offset, length, archived: true });
    offset += length;
    return copy;
  });
  const temp = `${target}.tmp`;
  const handle = await fs.promises.open(temp, "w");
  try {
    await handle.writeFile(archived.join(""));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.promises.rename(temp, target);
  await fsyncDir(spool.paths.archive);
  return moved;
}

function withoutAttachmentBytes(record: SpoolRecord): SpoolRecord {
  if (record.type !== "accepted" || (record.mail.attachments.length === 0 && !record.mail.raw)) return record;
  const attachments = record.mail.attachments.map(({ inline: _inline, ...a }) => ({ ...a, archived: true as const }));
  const raw = record.mail.raw ? { raw: { ...record.mail.raw, archived: true as const } } : {};
  return { ...record, mail: { ...record.mail, attachments, ...raw } };
}

async function removeUnreferencedBlobs(spool: Spool, now: number): Promise<number> {
  const referenced = spool.index.referencedBlobs();
  let removed = 0;
  for (const name of await fs.promises.readdir(spool.paths.blobs)) {
    if (referenced.has(name)) continue;
    const file = path.join(spool.paths.blobs, name);
    const stat = await fs.promises.stat(file);
    const grace = name.startsWith(blobTempPrefix) ? dayMs : blobGraceMs;
    if (now - stat.mtimeMs < grace) continue;
    await fs.promises.rm(file, { force: true });
    removed += 1;
  }
  return removed;
}

async function removeOlderThan(dir: string, edge: number, onRemoved?: (name: string) => void): Promise<number> {
  let removed = 0;
  for (const name of await fs.promises.readdir(dir)) {
    if (name === "totals.json") continue;
    const file = path.join(dir, name);
    const stat = await fs.promises.stat(file);
    if (!stat.isFile() || stat.mtimeMs >= edge) continue;
    await fs.promises.rm(file, { force: true });
    onRemoved?.(name);
    removed += 1;
  }
  return removed;
}
