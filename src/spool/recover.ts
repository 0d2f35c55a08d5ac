// Reads segments into the index: every one (a rebuild, or a reader), or only what lies
// past the index's position (serve's start-up, so its time does not grow with history). A torn (unterminated) tail is truncated when the
// caller owns the spool (serve) and skipped otherwise; a corrupt terminated line is
// copied to corrupt/ with its segment and offset and skipped. A record from a newer
// mailspool stops start-up rather than being misread.
import fs from "node:fs";
import path from "node:path";
import type { Logger } from "../log.js";
import { decodeRecord, type SpoolRecord } from "./record.js";
import type { Location } from "./segment.js";
import { listSegments, segmentName, terminatedLines } from "./segment-files.js";

export class NewerSpoolVersionError extends Error {}

/** The index's position does not fit the segments (restored from elsewhere, or the spool was changed): rebuild it. */
export class IndexPositionError extends Error {}

export interface RecoveryOptions {
  spoolDir: string;
  corruptDir: string;
  /** serve owns the spool and truncates torn tails; readers only skip them. */
  repair: boolean;
  /** Reading archive/: locations are marked archived. */
  archived?: boolean;
  /** Also fold archive/ (its locations marked archived), every segment in number order: the order records were written in. */
  archiveDir?: string;
  /** Fold only what lies past this point of spool/ (the index has folded the rest). */
  from?: { segment: number; offset: number };
  log: Logger;
  onRecord(record: SpoolRecord, location: Location): void;
}

export interface RecoveryResult {
  lastSegment: number;
  lastSize: number;
  records: number;
  tornTails: number;
  corruptLines: number;
}

export function recoverSegments(options: RecoveryOptions): RecoveryResult {
  const result: RecoveryResult = { lastSegment: 1, lastSize: 0, records: 0, tornTails: 0, corruptLines: 0 };
  const live = listSegments(options.spoolDir);
  const sources = live.map((segment) => ({ segment, dir: options.spoolDir, archived: options.archived === true }));
  if (options.archiveDir) {
    const liveSet = new Set(live);
    for (const segment of listSegments(options.archiveDir))
      if (!liveSet.has(segment)) sources.push({ segment, dir: options.archiveDir, archived: true });
    sources.sort((a, b) => a.segment - b.segment);
  }
  const { from } = options;
  if (from && from.offset > 0 && from.segment > (live.at(-1) ?? 0))
    throw new IndexPositionError(`the index has folded ${segmentName(from.segment)}, which spool/ does not hold`);
  for (const source of sources) {
    const file = path.join(source.dir, segmentName(source.segment));
    if (from && source.segment < from.segment) {
      if (!source.archived) [result.lastSegment, result.lastSize] = [source.segment, fs.statSync(file).size];
      continue;
    }
    const start = from && source.segment === from.segment ? from.offset : 0;
    const goodSize = readSegment(file, source.segment, { ...options, archived: source.archived }, result, start);
    if (!source.archived) [result.lastSegment, result.lastSize] = [source.segment, goodSize];
  }
  return result;
}

function readSegment(
  file: string,
  segment: number,
  options: RecoveryOptions,
  result: RecoveryResult,
  start: number,
): number {
  const data = readFrom(file, start);
  if (!data) throw new IndexPositionError(`${file}: the index ends at offset ${start}, which is not a record's end`);
  let offset = 0;
  for (const { line, offset: at, next } of terminatedLines(data)) {
    offset = at;
    const decoded = decodeRecord(line);
    const location = {
      segment,
      offset: start + offset,
      length: next - offset,
      ...(options.archived ? { archived: true } : {}),
    };
    if (decoded.ok) {
      options.onRecord(decoded.record, location);
      result.records += 1;
    } else if (decoded.reason === "version") {
      throw new NewerSpoolVersionError(`${file} at offset ${start + offset}: ${decoded.detail}; refusing to read it`);
    } else {
      result.corruptLines += 1;
      quarantine(options, segment, start + offset, data.subarray(offset, next), decoded.detail);
    }
    offset = next;
  }
  if (offset < data.length) {
    result.tornTails += 1;
    const torn = data.length - offset;
    if (options.repair && !options.archived) {
      quarantine(options, segment, start + offset, data.subarray(offset), "torn tail");
      fs.truncateSync(file, start + offset);
      options.log.warn(
        { segment: segmentName(segment), offset: start + offset, bytes: torn },
        "truncated a torn last line (it was never acknowledged)",
      );
    } else {
      options.log.debug(
        { segment: segmentName(segment), offset: start + offset, bytes: torn },
        "skipping a torn last line",
      );
    }
  }
  return start + offset;
}

/** The bytes of `file` from `start` on (only those: the part before it may be most of a segment), or null when `start` is not just past a newline. */
function readFrom(file: string, start: number): Buffer | null {
  const fd = fs.openSync(file, "r");
  try {
    const from = Math.max(0, start - 1);
    const size = fs.fstatSync(fd).size;
    if (start > size) return null;
    const bytes = Buffer.allocUnsafe(size - from);
    let read = 0;
    for (let n = 1; n > 0 && read < bytes.length; read += n)
      n = fs.readSync(fd, bytes, read, bytes.length - read, from + read);
    if (start > 0 && bytes[0] !== 0x0a) return null;
    return bytes.subarray(start - from, read);
  } finally {
    fs.closeSync(fd);
  }
}

function quarantine(options: RecoveryOptions, segment: number, offset: number, bytes: Buffer, reason: string): void {
  const name = `${segmentName(segment)}@${offset}`;
  options.log.warn({ segment: segmentName(segment), offset, reason }, "corrupt spool line skipped");
  if (!options.repair) return;
  const target = path.join(options.corruptDir, name);
  if (fs.existsSync(target)) return;
  fs.writeFileSync(target, bytes);
  fs.writeFileSync(`${target}.reason.txt`, `${reason}\n`);
}
