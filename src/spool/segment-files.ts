// Naming and listing of spool segments: 000001.jsonl, 000002.jsonl, …
import { readdirSync } from "node:fs";

const segmentPattern = /^(\d{6,})\.jsonl$/;

export function segmentName(number: number): string {
  return `${String(number).padStart(6, "0")}.jsonl`;
}

/** Segment numbers present in `dir`, ascending. */
export function listSegments(dir: string): number[] {
  return readdirSync(dir)
    .map((name) => segmentPattern.exec(name)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}
