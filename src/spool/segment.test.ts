import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MailspoolError } from "../errors.js";
import { createLogger } from "../log.js";
import { decodeRecord, encodeRecord } from "./record.js";
import { nodeSegmentIo, SegmentWriter, type Location, type SegmentIo } from "./segment.js";
import { listSegments, segmentName } from "./segment-files.js";

const log = createLogger("silent");
let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "mailspool-segment-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A real spool line; `n` makes each one distinct. */
function line(n: number, note = ""): string {
  return encodeRecord({
    v: 1,
    type: "attempt",
    id: `mail-${String(n).padStart(4, "0")}`,
    ts: "2025-01-15T09:30:00.000Z",
    attempt: 1,
    state: "sent",
    error: `note ${note}`,
  });
}

const segmentFile = (number: number) => path.join(dir, segmentName(number));
const readSegment = (number: number) => fs.readFileSync(segmentFile(number), "utf8");
const sizeOf = (number: number) => fs.statSync(segmentFile(number)).size;

function errnoError(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected`), { code });
}

/** Rejection of `promise`, asserting that it does reject. */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

function expectSpoolError(error: unknown, code: "insufficient_storage" | "unavailable", status: number): void {
  expect(error).toBeInstanceOf(MailspoolError);
  expect((error as MailspoolError).code).toBe(code);
  expect((error as MailspoolError).status).toBe(status);
}

/** The real I/O, with a fault on the chosen call numbers (1-based). */
function faultyIo(faults: {
  write?: Map<number, "short" | "ENOSPC" | "EIO">;
  fdatasync?: Map<number, () => Promise<void>>;
}) {
  const calls = { write: 0, fdatasync: 0 };
  const io: SegmentIo = {
    write(fd, data, position) {
      calls.write += 1;
      const fault = faults.write?.get(calls.write);
      if (fault === "short") return nodeSegmentIo.write(fd, data.subarray(0, Math.floor(data.length / 2)), position);
      if (fault) throw errnoError(fault);
      return nodeSegmentIo.write(fd, data, position);
    },
    fdatasync(fd) {
      calls.fdatasync += 1;
      const fault = faults.fdatasync?.get(calls.fdatasync);
      return fault ? fault() : nodeSegmentIo.fdatasync(fd);
    },
  };
  return { io, calls };
}

describe("SegmentWriter group commit", () => {
  it("commits 500 concurrent appends as contiguous lines in a few fdatasyncs", async () => {
    const writer = new SegmentWriter(dir, 1, 0, { maxBytes: 64 * 1024 * 1024, log });
    const lines = Array.from({ length: 500 }, (_, n) => line(n, "报告 résumé"));
    const locations = await Promise.all(lines.map((l) => writer.append(l)));
    await writer.close();

    const file = fs.readFileSync(segmentFile(1));
    expect(file.toString("utf8")).toBe(lines.join(""));
    expect(locations.every((l) => l.segment === 1)).toBe(true);
    let offset = 0;
    locations.forEach((location, n) => {
      expect(location.offset, `line ${n}`).toBe(offset);
      expect(location.length).toBe(Buffer.byteLength(lines[n]!));
      expect(file.subarray(location.offset, location.offset + location.length).toString("utf8")).toBe(lines[n]);
      offset += location.length;
    });
    expect(offset).toBe(file.length);
    expect(new Set(locations.map((l) => l.offset)).size).toBe(500);

    expect(writer.stats.lines).toBe(500);
    expect(writer.stats.batches).toBeGreaterThanOrEqual(1);
    expect(writer.stats.batches).toBeLessThanOrEqual(10);
    expect(listSegments(dir)).toEqual([1]);
  });

  it("lets a lingering append wait for company, and ends the wait at an append that does not linger", async () => {
    const writer = new SegmentWriter(dir, 1, 0, { maxBytes: 1 << 20, log });
    // lingerers arriving together: one commit
    await Promise.all([
      writer.append(line(1), 20),
      writer.append(line(2), 20),
      writer.appendAll([Buffer.from(line(3))], 20),
    ]);
    expect(writer.stats).toEqual({ batches: 1, lines: 3 });
    // a linger far longer than the test's timeout: the non-lingering append (intake's) ends it at once, in the same commit
    const started = performance.now();
    await Promise.all([writer.append(line(4), 60_000), writer.append(line(5))]);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(writer.stats).toEqual({ batches: 2, lines: 5 });
    await writer.close();
    expect(readSegment(1)).toBe([1, 2, 3, 4, 5].map((n) => line(n)).join(""));
  });

  it("commits the lines of appendAll together, first on an idle writer or queued behind a commit", async () => {
    const writer = new SegmentWriter(dir, 1, 0, { maxBytes: 1 << 20, log });
    const lines = (from: number) => Array.from({ length: 5 }, (_, i) => Buffer.from(line(from + i)));
    const first = writer.appendAll(lines(0));
    const behind = writer.append(line(10));
    const queued = writer.appendAll(lines(20));
    const locations = [...(await first), await behind, ...(await queued)];
    await writer.close();
    expect(writer.stats.lines).toBe(11);
    expect(writer.stats.batches).toBe(2);
    expect(locations.map((l) => readSegment(1).slice(l.offset, l.offset + l.length))).toEqual(
      [...lines(0), Buffer.from(line(10)), ...lines(20)].map(String),
    );
  });

  it("continues an existing segment at its recovered size", async () => {
    const existing = line(1) + line(2);
    fs.writeFileSync(segmentFile(3), existing);
    const writer = new SegmentWriter(dir, 3, Buffer.byteLength(existing), { maxBytes: 1 << 20, log });
    const location = await writer.append(line(3));
    await writer.close();
    expect(location).toEqual({ segment: 3, offset: Buffer.byteLength(existing), length: Buffer.byteLength(line(3)) });
    expect(readSegment(3)).toBe(existing + line(3));
  });

  it("resolves an append only once its line is readable from the file", async () => {
    const writer = new SegmentWriter(dir, 1, 0, { maxBytes: 1 << 20, log });
    const location = await writer.append(line(7));
    const decoded = decodeRecord(readSegment(1).slice(location.offset, location.offset + location.length - 1));
    expect(decoded).toMatchObject({ ok: true, record: { id: "mail-0007" } });
    await writer.close();
  });
});

describe("SegmentWriter faults", () => {
  async function writeGoodLines(writer: SegmentWriter, count: number): Promise<string> {
    let text = "";
    for (let n = 0; n < count; n += 1) {
      await writer.append(line(n));
      text += line(n);
    }
    await writer.drain();
    return text;
  }

  it("short write: 507 for the whole batch, truncated to the last good offset, next append in the next segment", async () => {
    const { io, calls } = faultyIo({ write: new Map([[4, "short"]]) });
    const writer = new SegmentWriter(dir, 1, 0, { maxBytes: 1 << 20, log, io });
    const good = await writeGoodLines(writer, 2);

    // Call 3 commits line 100 alone; 101..103 queue behind its fdatasync and share call 4.
    const results = await Promise.allSettled([100, 101, 102, 103].map((n) => writer.append(line(n))));
    expect(calls.write).toBe(4);
    expect(results[0]!.status).toBe("fulfilled");
    for (const result of results.slice(1)) {
      expect(result.status).toBe("rejected");
      if (result.status === "rejected") expectSpoolError(result.reason, "insufficient_storage", 507);
    }
    const lastGood = good + line(100);
    expect(sizeOf(1)).toBe(Buffer.byteLength(lastGood));
    expect(readSegment(1)).toBe(lastGood);

    const next = await writer.append(line(200));
    await writer.close();
    expect(next).toEqual({ segment: 2, offset: 0, length: Buffer.byteLength(line(200)) });
    expect(writer.currentSegment).toBe(2);
    expect(readSegment(2)).toBe(line(200));
    expect(readSegment(1)).toBe(lastGood);
    expect(listSegments(dir)).toEqual([1, 2]);
    expect(writer.stats).toEqual({ batches: 4, lines: 4 });
  });

  it("ENOSPC from write: 507, the segment keeps only its good lines, next append rotates", async () => {
    const { io } = faultyIo({ write: new Map([[3, "ENOSPC"]]) });
    const writer = new SegmentWriter(dir, 1, 0, { maxBytes: 1 << 20, log, io });
    const good = await writeGoodLines(writer, 2);

    expectSpoolError(await rejectionOf(writer.append(line(50))), "insufficient_storage", 507);
    expect(readSegment(1)).toBe(good);

    expect(await writer.append(line(51))).toMatchObject({ segment: 2, offset: 0 });
    await writer.close();
    expect(readSegment(2)).toBe(line(51));
    expect(readSegment(1)).toBe(good);
  });

  it("EIO from write: 503", async () => {
    const { io } = faultyIo({ write: new Map([[1, "EIO"]]) });
    const writer = new SegmentWriter(dir, 1, 0, { maxBytes: 1 << 20, log, io });
    expectSpoolError(await rejectionOf(writer.append(line(1))), "unavailable", 503);
    expect(sizeOf(1)).toBe(0);
    expect(await writer.append(line(2))).toMatchObject({ segment: 2, offset: 0 });
    await writer.close();
  });

  it("EIO from fdatasync: 503, the written bytes are truncated away, lines queued meanwhile land in a new segment", async () => {
    let failSync!: (error: Error) => void;
    const { io, calls } = faultyIo({
      fdatasync: new Map([[3, () => new Promise<void>((_, reject) => (failSync = reject))]]),
    });
    const writer = new SegmentWriter(dir, 1, 0, { maxBytes: 1 << 20, log, io });
    const good = await writeGoodLines(writer, 2);

    const failing = writer.append(line(60));
    // line 60 is written and waits in fdatasync: the bytes are in the file but not acknowledged.
    expect(calls.fdatasync).toBe(3);
    expect(readSegment(1)).toBe(good + line(60));
    const queued = writer.append(line(61));
    failSync(errnoError("EIO"));

    expectSpoolError(await rejectionOf(failing), "unavailable", 503);
    const location: Location = await queued;
    expect(location).toEqual({ segment: 2, offset: 0, length: Buffer.byteLength(line(61)) });
    expect(readSegment(1)).toBe(good);
    expect(sizeOf(1)).toBe(Buffer.byteLength(good));
    expect(readSegment(2)).toBe(line(61));

    const after = await writer.append(line(62));
    await writer.close();
    expect(after.segment).toBe(2);
    expect(readSegment(2)).toBe(line(61) + line(62));
    expect(writer.stats.lines).toBe(4);
  });

  it("never writes to the failed segment's file again", async () => {
    const inodes: number[] = [];
    const base = faultyIo({ fdatasync: new Map([[2, () => Promise.reject(errnoError("EIO"))]]) });
    const io: SegmentIo = {
      write(fd, data, position) {
        inodes.push(fs.fstatSync(fd).ino);
        return base.io.write(fd, data, position);
      },
      fdatasync: (fd) => base.io.fdatasync(fd),
    };
    const writer = new SegmentWriter(dir, 1, 0, { maxBytes: 1 << 20, log, io });
    await writer.append(line(1));
    await rejectionOf(writer.append(line(2)));
    await writer.append(line(3));
    await writer.append(line(4));
    await writer.close();
    expect(inodes).toHaveLength(4);
    expect(inodes[1]).toBe(inodes[0]);
    expect(inodes[2]).not.toBe(inodes[0]);
    expect(inodes[3]).toBe(inodes[2]);
    expect(inodes[2]).toBe(fs.statSync(segmentFile(2)).ino);
    expect(readSegment(1)).toBe(line(1));
    expect(readSegment(2)).toBe(line(3) + line(4));
  });
});

describe("SegmentWriter rotation", () => {
  it("rotates after the commit that reaches maxBytes", async () => {
    const size = Buffer.byteLength(line(0));
    for (let n = 0; n < 9; n += 1) expect(Buffer.byteLength(line(n))).toBe(size);
    const writer = new SegmentWriter(dir, 1, 0, { maxBytes: Math.floor(size * 2.5), log });
    const locations: Location[] = [];
    for (let n = 0; n < 7; n += 1) locations.push(await writer.append(line(n)));
    await writer.close();

    expect(locations.map((l) => [l.segment, l.offset])).toEqual([
      [1, 0],
      [1, size],
      [1, 2 * size],
      [2, 0],
      [2, size],
      [2, 2 * size],
      [3, 0],
    ]);
    expect(listSegments(dir)).toEqual([1, 2, 3]);
    expect(readSegment(1)).toBe(line(0) + line(1) + line(2));
    expect(readSegment(2)).toBe(line(3) + line(4) + line(5));
    expect(readSegment(3)).toBe(line(6));
    expect(writer.currentSegment).toBe(3);
  });

  it("rotates exactly at maxBytes", async () => {
    const size = Buffer.byteLength(line(0));
    const writer = new SegmentWriter(dir, 1, 0, { maxBytes: size * 2, log });
    for (let n = 0; n < 3; n += 1) await writer.append(line(n));
    await writer.close();
    expect(sizeOf(1)).toBe(size * 2);
    expect(readSegment(2)).toBe(line(2));
  });
});
