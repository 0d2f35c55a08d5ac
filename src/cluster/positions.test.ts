import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { positionAfter, positionOf, splitPosition } from "./positions.js";
import { delayLevelFor, delayLevels } from "./topology.js";

describe("positions", () => {
  it("split back into segment and offset, and order records across segments as the spool does", () => {
    const location = fc.record({
      segment: fc.integer({ min: 1, max: 999_999 }),
      offset: fc.integer({ min: 0, max: 2 ** 31 }),
      length: fc.integer({ min: 1, max: 2 ** 26 }),
    });
    fc.assert(
      fc.property(location, location, (a, b) => {
        const end = a.offset + a.length;
        expect(splitPosition(positionAfter(a))).toEqual({ segment: a.segment, offset: end });
        expect(positionOf(a.segment, end)).toBe(positionAfter(a));
        expect(Number.isSafeInteger(positionAfter(a))).toBe(true);
        const spoolOrder = a.segment - b.segment || end - (b.offset + b.length);
        expect(Math.sign(positionAfter(a) - positionAfter(b))).toBe(Math.sign(spoolOrder));
      }),
    );
  });
});

describe("delayLevelFor", () => {
  it("picks the longest level not past the wait (at least 1 s), so a mail never comes back late", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 60 * 86_400_000 }), (ms) => {
        const level = delayLevelFor(ms);
        expect(delayLevels).toContain(level);
        if (ms >= 1000) expect(level * 1000).toBeLessThanOrEqual(ms);
        const next = delayLevels.find((l) => l > level);
        if (next !== undefined) expect(next * 1000).toBeGreaterThan(Math.max(ms, 999));
      }),
    );
  });
});
