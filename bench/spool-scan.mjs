// Incremental, read-only count of a live spool's records: reads only the bytes appended to
// data/spool/*.jsonl since the last scan and counts complete lines by record type (a torn,
// still-being-written last line waits for the next scan). A record line starts with
// {"v":1,"type":"<type>" (SPEC.md), and a quote inside a field value is always escaped,
// so matching the type in the line's first bytes cannot be fooled by mail content.
import fs from "node:fs";
import path from "node:path";

const chunkBytes = 8 * 1024 * 1024;
const acceptedTag = Buffer.from('"type":"accepted"');
const attemptTag = Buffer.from('"type":"attempt"');

export class SpoolScanner {
  constructor(dir) {
    this.dir = dir;
    this.files = new Map(); // name → { offset, rest }
    this.accepted = 0;
    this.attempts = 0;
    this.lines = 0;
  }

  scan() {
    let names;
    try {
      names = fs
        .readdirSync(this.dir)
        .filter((n) => n.endsWith(".jsonl"))
        .sort();
    } catch {
      return this;
    }
    for (const name of names) {
      const state = this.files.get(name) ?? { offset: 0, rest: Buffer.alloc(0) };
      this.files.set(name, state);
      const fd = fs.openSync(path.join(this.dir, name), "r");
      try {
        const size = fs.fstatSync(fd).size;
        while (state.offset < size) {
          const buffer = Buffer.allocUnsafe(Math.min(chunkBytes, size - state.offset));
          const read = fs.readSync(fd, buffer, 0, buffer.length, state.offset);
          if (read <= 0) break;
          state.offset += read;
          state.rest = this.countLines(Buffer.concat([state.rest, buffer.subarray(0, read)]));
        }
      } finally {
        fs.closeSync(fd);
      }
    }
    return this;
  }

  /** Counts the complete lines in `data`; returns the unterminated remainder. */
  countLines(data) {
    let start = 0;
    for (;;) {
      const end = data.indexOf(0x0a, start);
      if (end < 0) return Buffer.from(data.subarray(start));
      const head = data.subarray(start, Math.min(end, start + 48));
      this.lines += 1;
      if (head.includes(acceptedTag)) this.accepted += 1;
      else if (head.includes(attemptTag)) this.attempts += 1;
      start = end + 1;
    }
  }

  snapshot() {
    return { accepted: this.accepted, attempts: this.attempts, lines: this.lines };
  }
}
