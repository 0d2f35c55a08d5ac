// Counts a spool's complete lines by record type, and "attempt" records by their state
// (the `grep '"type":"attempt"' | grep '"state":"sent"'` of the README, without grep).
// A record line starts {"v":1,"type":"<type>","id":"<26>","ts":"<24>", then for an attempt
// ,"attempt":<n>,"state":"<state>": all within its first 160 bytes, before any free text.
import fs from "node:fs";
import path from "node:path";

const chunkBytes = 8 * 1024 * 1024;
const typeRe = /^\{"v":\d+,"type":"([a-z]+)"/;
const stateRe = /"state":"([a-z-]+)"/;

export function countSpool(spoolDir) {
  const counts = { lines: 0, byType: {}, attemptStates: {}, bytes: 0 };
  let names = [];
  try {
    names = fs
      .readdirSync(spoolDir)
      .filter((n) => /^\d{6}\.jsonl$/.test(n))
      .sort();
  } catch {
    return counts;
  }
  for (const name of names) {
    const fd = fs.openSync(path.join(spoolDir, name), "r");
    try {
      let rest = Buffer.alloc(0);
      let position = 0;
      for (;;) {
        const buffer = Buffer.allocUnsafe(chunkBytes);
        const read = fs.readSync(fd, buffer, 0, chunkBytes, position);
        if (read <= 0) break;
        position += read;
        const data = rest.length ? Buffer.concat([rest, buffer.subarray(0, read)]) : buffer.subarray(0, read);
        let start = 0;
        for (;;) {
          const end = data.indexOf(0x0a, start);
          if (end < 0) break;
          const head = data.toString("latin1", start, Math.min(end, start + 160));
          counts.lines += 1;
          const type = typeRe.exec(head)?.[1] ?? "?";
          counts.byType[type] = (counts.byType[type] ?? 0) + 1;
          if (type === "attempt") {
            const state = stateRe.exec(head)?.[1] ?? "?";
            counts.attemptStates[state] = (counts.attemptStates[state] ?? 0) + 1;
          }
          start = end + 1;
        }
        rest = Buffer.from(data.subarray(start));
      }
      counts.bytes += position;
    } finally {
      fs.closeSync(fd);
    }
  }
  return counts;
}
