// The append-only segment writer, the only code that writes spool lines. Concurrent
// appends share one write and one fdatasync (group commit). A failed write or fdatasync
// truncates back to the last good offset, fails that batch, and abandons the file: its
// fd's later fsync cannot be trusted (fsyncgate), so the next batch opens a new segment.
// An append may ask to linger: when no commit is under way, its commit waits at most that
// long for company (more lines, one fdatasync). An append that does not linger ends the
// wait at once, so it is never delayed by another's linger.
import fs from "node:fs";
import path from "node:path";
import { spoolIoError } from "../errors.js";
import type { Logger } from "../log.js";
import { fdatasync, fsyncDirSync } from "./fsync.js";
import { segmentName } from "./segment-files.js";

export interface Location {
  segment: number;
  offset: number;
  length: number;
  /** In archive/ rather than spool/ (only readers load archived segments). */
  archived?: boolean;
}

/** The two calls a commit makes; tests swap them to inject faults. */
export interface SegmentIo {
  write(fd: number, data: Buffer, position: number): number;
  fdatasync(fd: number): Promise<void>;
}

export const nodeSegmentIo: SegmentIo = {
  write: (fd, data, position) => fs.writeSync(fd, data, 0, data.length, position),
  fdatasync,
};

interface PendingLine {
  data: Buffer;
  resolve(location: Location): void;
  reject(error: unknown): void;
}

export interface CommitStats {
  batches: number;
  lines: number;
}

export class SegmentWriter {
  private fd = -1;
  private pending: PendingLine[] = [];
  private flushing: Promise<void> | null = null;
  /** Ends a linger early; set only while a flush waits out its linger. */
  private endLinger: (() => void) | null = null;
  readonly stats: CommitStats = { batches: 0, lines: 0 };

  constructor(
    private readonly dir: string,
    private number: number,
    private size: number,
    private readonly options: {
      maxBytes: number;
      log: Logger;
      io?: SegmentIo;
      onCommit?: (lines: number, seconds: number) => void;
    },
  ) {}

  get currentSegment(): number {
    return this.number;
  }

  /**
   * Resolves once the line (text or its UTF-8 bytes) is on disk (fdatasync'd), with where it
   * landed. `lingerMs`: how long its commit may wait for other lines when none is under way.
   */
  append(line: string | Buffer, lingerMs = 0): Promise<Location> {
    const landed = this.queue(typeof line === "string" ? Buffer.from(line) : line);
    this.startFlush(lingerMs);
    return landed;
  }

  /**
   * Resolves once every line is on disk, in the order given, all in one commit (one write, one
   * fdatasync) or all failed together: they are queued before a flush can take the queue, and
   * a commit takes the whole queue.
   */
  appendAll(lines: Buffer[], lingerMs = 0): Promise<Location[]> {
    const landed = lines.map((line) => this.queue(line));
    this.startFlush(lingerMs);
    return Promise.all(landed);
  }

  private startFlush(lingerMs: number): void {
    if (!this.flushing) this.flushing = this.flush(lingerMs);
    else if (lingerMs <= 0) this.endLinger?.();
  }

  private queue(data: Buffer): Promise<Location> {
    return new Promise((resolve, reject) => this.pending.push({ data, resolve, reject }));
  }

  /** Waits until every line appended so far is committed or failed. */
  async drain(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  /** The next append opens a new segment (an idle segment can then be archived). */
  async startNewSegment(): Promise<void> {
    await this.drain();
    if (this.size > 0) this.rotate();
  }

  async close(): Promise<void> {
    await this.drain();
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }

  private async flush(lingerMs: number): Promise<void> {
    try {
      if (lingerMs > 0) await this.linger(lingerMs);
      while (this.pending.length > 0) {
        const batch = this.pending;
        this.pending = [];
        await this.commit(batch);
      }
    } finally {
      this.flushing = null;
    }
  }

  private linger(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.endLinger?.(), ms);
      this.endLinger = () => {
        clearTimeout(timer);
        this.endLinger = null;
        resolve();
      };
    });
  }

  private async commit(batch: PendingLine[]): Promise<void> {
    const io = this.options.io ?? nodeSegmentIo;
    const data = batch.length === 1 ? batch[0]!.data : Buffer.concat(batch.map((p) => p.data));
    const start = this.size;
    const began = performance.now();
    try {
      this.ensureOpen();
      const written = io.write(this.fd, data, start);
      if (written !== data.length) throw shortWrite(written, data.length);
      await io.fdatasync(this.fd);
    } catch (error) {
      this.abandon(start, error);
      const failure = spoolIoError(error);
      for (const line of batch) line.reject(failure);
      return;
    }
    this.size += data.length;
    this.stats.batches += 1;
    this.stats.lines += batch.length;
    this.options.onCommit?.(batch.length, (performance.now() - began) / 1000);
    let offset = start;
    for (const line of batch) {
      line.resolve({ segment: this.number, offset, length: line.data.length });
      offset += line.data.length;
    }
    if (this.size >= this.options.maxBytes) this.rotate();
  }

  private ensureOpen(): void {
    if (this.fd >= 0) return;
    const file = path.join(this.dir, segmentName(this.number));
    this.fd = fs.openSync(file, fs.existsSync(file) ? "r+" : "wx");
    if (this.size === 0) fsyncDirSync(this.dir);
  }

  private abandon(goodSize: number, error: unknown): void {
    this.options.log.error(
      { err: error, segment: this.number, offset: goodSize },
      "spool write failed; truncating and rotating",
    );
    if (this.fd < 0) return;
    try {
      fs.ftruncateSync(this.fd, goodSize);
    } catch (truncateError) {
      this.options.log.error(
        { err: truncateError, segment: this.number },
        "truncate after failed write failed; recovery will handle the tail",
      );
    }
    this.rotate();
  }

  private rotate(): void {
    if (this.fd >= 0) {
      try {
        fs.closeSync(this.fd);
      } catch {
        // the fd is abandoned either way
      }
    }
    this.fd = -1;
    this.number += 1;
    this.size = 0;
  }
}

function shortWrite(written: number, expected: number): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`short write: ${written} of ${expected} bytes`);
  error.code = "ENOSPC";
  return error;
}
