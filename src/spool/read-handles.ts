// Read-only file descriptors of spool segments, kept open briefly between reads. Delivery
// reads one accepted record per mail; opening and closing the segment around every read
// cost two more trips through the runtime's I/O threads than the read itself. A handle
// nobody used for `idleMs` is closed (so a segment the compactor replaced or removed is not
// held open for long), and at most `max` stay open. Segments are append-only and a record
// never moves within its file, so a handle opened before a rename still reads the same bytes.
// readNear() reads ahead: mails are mostly delivered in the order they were accepted, so
// one read of 64 KiB from a record serves the records after it too. Bytes once written
// never change (a failed commit's are cut off and its file is written no more), so a
// window serves only what it read, however old.
import fs from "node:fs";

const readAheadBytes = 64 * 1024;
const maxWindows = 4;

interface Window {
  file: string;
  offset: number;
  bytes: Promise<Buffer>;
}

interface Handle {
  fd: Promise<number>;
  reads: number;
  usedAt: number;
}

export class ReadHandles {
  private readonly handles = new Map<string, Handle>();
  /** The latest read-ahead windows, newest last. */
  private windows: Window[] = [];
  private sweeper: NodeJS.Timeout | null = null;

  constructor(
    private readonly idleMs = 2_000,
    private readonly max = 8,
  ) {}

  /** Reads exactly `length` bytes of `file` at `offset` (fewer only if the file is shorter). */
  async read(file: string, offset: number, length: number): Promise<Buffer> {
    const handle = this.acquire(file);
    try {
      const fd = await handle.fd;
      const buffer = Buffer.allocUnsafe(length);
      let done = 0;
      while (done < length) {
        const n = await readAt(fd, buffer, done, length - done, offset + done);
        if (n === 0) break;
        done += n;
      }
      return done === length ? buffer : buffer.subarray(0, done);
    } catch (error) {
      // an unopenable file is not cached: the next read tries again
      if (this.handles.get(file) === handle) this.handles.delete(file);
      throw error;
    } finally {
      handle.reads -= 1;
      handle.usedAt = performance.now();
      // evicted or dropped while this read ran: the last reader closes it
      if (this.handles.get(file) !== handle && handle.reads === 0) closeHandle(handle);
    }
  }

  /** Reads `length` bytes of `file` at `offset`, like read(), through a window read ahead from there. */
  async readNear(file: string, offset: number, length: number): Promise<Buffer> {
    const window = [...this.windows]
      .reverse()
      .find((w) => w.file === file && w.offset <= offset && offset + length <= w.offset + readAheadBytes);
    if (window) {
      const bytes = await window.bytes;
      const start = offset - window.offset;
      if (start + length <= bytes.length) return bytes.subarray(start, start + length);
    }
    if (length >= readAheadBytes) return this.read(file, offset, length);
    const opened: Window = { file, offset, bytes: this.read(file, offset, readAheadBytes) };
    this.windows.push(opened);
    if (this.windows.length > maxWindows) this.windows.shift();
    opened.bytes.catch(() => (this.windows = this.windows.filter((w) => w !== opened)));
    const bytes = await opened.bytes;
    return bytes.subarray(0, Math.min(length, bytes.length));
  }

  /** Closes every handle not in use now; those in use close after their read. */
  close(): void {
    this.windows = [];
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
    for (const [file, handle] of [...this.handles]) {
      this.handles.delete(file);
      if (handle.reads === 0) closeHandle(handle);
    }
  }

  private acquire(file: string): Handle {
    let handle = this.handles.get(file);
    if (!handle) {
      // counted as in use before evicting, so the eviction cannot pick the handle being opened
      handle = { fd: openRead(file), reads: 1, usedAt: performance.now() };
      handle.fd.catch(() => undefined); // awaited by the read that opened it
      this.handles.set(file, handle);
      if (this.handles.size > this.max) this.evict(this.max);
      this.sweeper ??= setInterval(() => this.evictIdle(), this.idleMs).unref();
      return handle;
    }
    handle.reads += 1;
    return handle;
  }

  private evictIdle(): void {
    const before = performance.now() - this.idleMs;
    for (const [file, handle] of [...this.handles])
      if (handle.reads === 0 && handle.usedAt < before) {
        this.handles.delete(file);
        closeHandle(handle);
      }
    if (this.handles.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = null;
    }
  }

  /** Least recently used first, only handles not in use. */
  private evict(keep: number): void {
    const idle = [...this.handles].filter(([, h]) => h.reads === 0).sort((a, b) => a[1].usedAt - b[1].usedAt);
    for (const [file, handle] of idle) {
      if (this.handles.size <= keep) break;
      this.handles.delete(file);
      closeHandle(handle);
    }
  }
}

function openRead(file: string): Promise<number> {
  return new Promise((resolve, reject) => fs.open(file, "r", (error, fd) => (error ? reject(error) : resolve(fd))));
}

function readAt(fd: number, buffer: Buffer, at: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) =>
    fs.read(fd, buffer, at, length, position, (error, n) => (error ? reject(error) : resolve(n))),
  );
}

function closeHandle(handle: Handle): void {
  handle.fd.then(
    (fd) => fs.close(fd, () => undefined),
    () => undefined,
  );
}
