// Shared pieces of the reliability suite (test/reliability/): the run size (CI-sized in
// `npm test`, full with MAILSPOOL_RELIABILITY=full, which `npm run test:reliability`
// sets), a reader that decodes every spool line with the relay's own decoder, the one
// figure line each test prints, and bounded concurrent load.
import fs from "node:fs";
import path from "node:path";
import { decodeRecord, type SpoolRecord } from "../../src/spool/record.js";

export const full = process.env.MAILSPOOL_RELIABILITY === "full";

/** The CI size unless the full run was asked for. */
export function sized<T>(ci: T, fullSize: T): T {
  return full ? fullSize : ci;
}

/** Prints the test's figure line (one per test), prefixed so it is easy to grep from CI logs. */
export function figure(line: string): void {
  console.log(`[reliability${full ? " full" : ""}] ${line}`);
}

export interface SpoolScan {
  /** Every decoded record, in segment order. */
  records: SpoolRecord[];
  /** Lines that are terminated but do not decode (crc, syntax, shape). */
  torn: { segment: string; offset: number; reason: string }[];
  /** Bytes after the last newline of a segment (an unterminated tail). */
  tails: { segment: string; bytes: number }[];
  segments: string[];
  /** accepted records by mail id. */
  accepted: Map<string, SpoolRecord>;
}

/** Reads data/spool (and archive/ when present) line by line with src/spool/record.ts decodeRecord. */
export function scanSpool(dataDir: string): SpoolScan {
  const scan: SpoolScan = { records: [], torn: [], tails: [], segments: [], accepted: new Map() };
  for (const sub of ["archive", "spool"]) {
    const dir = path.join(dataDir, sub);
    if (!fs.existsSync(dir)) continue;
    for (const name of fs
      .readdirSync(dir)
      .filter((n) => /^\d{6,}\.jsonl$/.test(n))
      .sort()) {
      const file = path.join(dir, name);
      scan.segments.push(`${sub}/${name}`);
      const data = fs.readFileSync(file);
      let offset = 0;
      while (offset < data.length) {
        const end = data.indexOf(0x0a, offset);
        if (end < 0) {
          scan.tails.push({ segment: `${sub}/${name}`, bytes: data.length - offset });
          break;
        }
        const decoded = decodeRecord(data.toString("utf8", offset, end));
        if (decoded.ok) {
          scan.records.push(decoded.record);
          if (decoded.record.type === "accepted") scan.accepted.set(decoded.record.id, decoded.record);
        } else {
          scan.torn.push({ segment: `${sub}/${name}`, offset, reason: `${decoded.reason}: ${decoded.detail}` });
        }
        offset = end + 1;
      }
    }
  }
  return scan;
}

/** Total bytes of every file under dir (recursively); 0 when it does not exist. */
export function treeBytes(dir: string): number {
  if (!fs.existsSync(dir)) return 0;
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    total += entry.isDirectory() ? treeBytes(full) : fs.statSync(full).size;
  }
  return total;
}

/** Names of the files in dir (not recursive); [] when it does not exist. */
export function filesIn(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
}

/**
 * Runs `workers` loops calling `task(n)` until `stop()` says so, `count` tasks were
 * started or `timeMs` passed — every load loop in the suite is bounded in both.
 */
export async function boundedLoad(
  options: { workers: number; count: number; timeMs: number; stop?: () => boolean },
  task: (n: number) => Promise<void>,
): Promise<{ started: number; elapsedMs: number }> {
  const started = Date.now();
  let n = 0;
  const loop = async () => {
    while (n < options.count && Date.now() - started < options.timeMs && !options.stop?.()) {
      n += 1;
      await task(n);
    }
  };
  await Promise.all(Array.from({ length: options.workers }, loop));
  return { started: n, elapsedMs: Date.now() - started };
}

/** Mail id from a delivered message's Message-ID header (`<id>@domain`). */
export function messageIdOf(raw: Buffer | string): string | undefined {
  return /Message-ID: <([0-9A-Z]{26})@/i.exec(raw.toString())?.[1];
}

/** /proc figures of a running process (Linux). */
export function procStats(pid: number): { rssKiB: number; fds: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const rss = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? NaN);
  return { rssKiB: rss, fds: fs.readdirSync(`/proc/${pid}/fd`).length };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
