// A record's position as one number, comparable across segments: the segment number in
// the high bits, the offset just past the record's line in the low 32 (a segment never
// reaches 4 GiB). The journal orders a host's own records by it.
import type { Location } from "../spool/segment.js";

const segmentUnit = 2 ** 32;

/** The position just past the record at `location`. */
export function positionAfter(location: Pick<Location, "segment" | "offset" | "length">): number {
  return location.segment * segmentUnit + location.offset + location.length;
}

export function positionOf(segment: number, offset: number): number {
  return segment * segmentUnit + offset;
}

export function splitPosition(pos: number): { segment: number; offset: number } {
  return { segment: Math.floor(pos / segmentUnit), offset: pos % segmentUnit };
}
