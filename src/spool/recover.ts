// Reads every segment into the index. A torn (unterminated) tail is truncated when the
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

export interface RecoveryOptions {
  spoolDir: string;
  corruptDir: string;
  /** serve owns the spool and truncates torn tails; readers only skip them. */
  repair: boolean;
  /** Reading archive/: locations are marked archived. */
  archived?: boolean;
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
  for (const segment of listSegments(options.spoolDir)) {
    const file = path.join(options.spoolDir, segmentName(segment));
    const goodSize = readSegment(file, segment, options, result);
    result.lastSegment = segment;
    result.lastSize = goodSize;
  }
  return result;
}

function readSegment(file: string, segment: number, options: RecoveryOptions, result: RecoveryResult): number {
  const data = fs.readFileSync(file);
  let offset = 0;
  for (const { line, offset: at, next } of terminatedLines(data)) {
    offset = at;
    const decoded = decodeRecord(line);
    const location = { segment, offset, length: next - offset, ...(options.archived ? { archived: true } : {}) };
    if (decoded.ok) {
      options.onRecord(decoded.record, location);
      result.records += 1;
    } else if (decoded.reason === "version") {
      throw new NewerSpoolVersionError(`${file} at offset ${offset}: ${decoded.detail}; refusing to read it`);
    } else {
      result.corruptLines += 1;
      quarantine(options, segment, offset, data.subarray(offset, next), decoded.detail);
    }
    offset = next;
  }
  if (offset < data.length) {
    result.tornTails += 1;
    const torn = data.length - offset;
    if (options.repair) {
      quarantine(options, segment, offset, data.subarray(offset), "torn tail");
      fs.truncateSync(file, offset);
      options.log.warn(
        { segment: segmentName(segment), offset, bytes: torn },
        "truncated a torn last line (it was never acknowledged)",
      );
    } else {
      options.log.debug({ segment: segmentName(segment), offset, bytes: torn }, "skipping a torn last line");
    }
  }
  return offset;
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
