// Reads back the spool's lines from a position up to another (the journal publisher's
// catch-up): through the one segment line reader, moving on to the next segment when a
// segment ends. Only live segments: the compactor keeps every segment the publisher has
// not passed (an archived copy would have other offsets, its attachment bytes dropped).
import fs from "node:fs";
import path from "node:path";
import { decodeRecord, type SpoolRecord } from "../spool/record.js";
import { listSegments, segmentName, terminatedLines } from "../spool/segment-files.js";
import type { SpoolPaths } from "../spool/spool.js";
import { positionOf, splitPosition } from "./positions.js";

export interface StoredLine {
  record: SpoolRecord;
  /** The line as stored, newline included. */
  bytes: Buffer;
  /** Position just past the line. */
  next: number;
}

const chunkBytes = 4 * 1024 * 1024;

/**
 * The lines between `from` and `to`, about 4 MiB of them per call (more when one line is
 * longer: a line is always read whole); `reached` is where to go on.
 */
export function readLines(paths: SpoolPaths, from: number, to: number): { lines: StoredLine[]; reached: number } {
  let { segment, offset } = splitPosition(from);
  const end = splitPosition(to);
  if (segment < end.segment && offset >= sizeOf(paths, segment)) {
    segment = listSegments(paths.spool).find((s) => s > segment) ?? end.segment;
    offset = 0;
  }
  const limit = segment === end.segment ? end.offset : sizeOf(paths, segment);
  if (limit <= offset) return { lines: [], reached: positionOf(segment, offset) };
  let data = readRange(paths, segment, offset, Math.min(limit, offset + chunkBytes));
  // one line longer than the chunk: read on to its end
  for (let size = chunkBytes * 2; data.indexOf(0x0a) < 0 && offset + data.length < limit; size *= 2)
    data = readRange(paths, segment, offset, Math.min(limit, offset + size));
  const lines: StoredLine[] = [];
  let reached = offset;
  for (const line of terminatedLines(data)) {
    reached = offset + line.next;
    const decoded = decodeRecord(line.line);
    if (decoded.ok)
      lines.push({
        record: decoded.record,
        bytes: data.subarray(line.offset, line.next),
        next: positionOf(segment, reached),
      });
  }
  return { lines, reached: positionOf(segment, reached) };
}

function fileOf(paths: SpoolPaths, segment: number): string {
  return path.join(paths.spool, segmentName(segment));
}

function sizeOf(paths: SpoolPaths, segment: number): number {
  try {
    return fs.statSync(fileOf(paths, segment)).size;
  } catch {
    return 0;
  }
}

function readRange(paths: SpoolPaths, segment: number, start: number, end: number): Buffer {
  const fd = fs.openSync(fileOf(paths, segment), "r");
  try {
    const buffer = Buffer.allocUnsafe(end - start);
    const read = fs.readSync(fd, buffer, 0, buffer.length, start);
    return buffer.subarray(0, read);
  } finally {
    fs.closeSync(fd);
  }
}
