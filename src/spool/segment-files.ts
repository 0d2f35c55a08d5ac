// Naming and listing of spool segments: 000001.jsonl, 000002.jsonl, …
import { readdirSync } from "node:fs";

const segmentPattern = /^(\d{6,})\.jsonl$/;

export function segmentName(number: number): string {
  return `${String(number).padStart(6, "0")}.jsonl`;
}

/** The number of a segment file's name, or null for another file. */
export function segmentNumber(name: string): number | null {
  const match = segmentPattern.exec(name);
  return match ? Number(match[1]) : null;
}

/** Segment numbers present in `dir`, ascending. */
export function listSegments(dir: string): number[] {
  return readdirSync(dir)
    .map((name) => segmentPattern.exec(name)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

export interface SegmentLine {
  line: string;
  offset: number;
  /** Offset just past the line's newline. */
  next: number;
}

/** The newline-terminated lines of a segment's bytes; an unterminated tail is not one. */
export function* terminatedLines(data: Buffer): Generator<SegmentLine> {
  let offset = 0;
  for (let end = data.indexOf(0x0a); end >= 0; end = data.indexOf(0x0a, offset)) {
    yield { line: data.toString("utf8", offset, end), offset, next: end + 1 };
    offset = end + 1;
  }
}
