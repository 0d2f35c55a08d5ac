// fsck --repair: corrupt and torn lines move out of their segment into corrupt/ (with a
// .reason.txt) and the segment is rewritten without them (temp file, fsync, rename, dir
// fsync); leftover temp files are removed; blobs nothing refers to move to corrupt/blobs/;
// an index that differs from the segments is removed (the next start rebuilds it).
// Never drops a line that decodes, never touches a referenced blob. The caller holds the lock.
import fs from "node:fs";
import path from "node:path";
import { blobTempPrefix } from "./blobs.js";
import { scanSegments, type Problem } from "./fsck.js";
import { fsyncDirSync, writeFileDurablySync } from "./fsync.js";
import { removeIndexFile } from "./index-db.js";
import { decodeRecord } from "./record.js";
import type { SpoolPaths } from "./spool.js";

export interface Repair {
  problem: Problem;
  /** What was done, e.g. "quarantined to corrupt/000001.jsonl@1234". */
  action: string;
}

export function repairDataDir(paths: SpoolPaths, problems: Problem[]): Repair[] {
  const repairs: Repair[] = [];
  const bySegment = new Map<string, Problem[]>();
  for (const p of problems) {
    if (p.kind !== "corrupt-line" && p.kind !== "unterminated-line") continue;
    bySegment.set(p.file, [...(bySegment.get(p.file) ?? []), p]);
  }
  for (const [file, lines] of bySegment) repairs.push(...rewriteSegment(paths, file, lines));

  for (const p of problems.filter((q) => q.kind === "temp-file")) {
    const file = path.join(paths.data, p.file);
    if (!isTempFile(paths, file) || !fs.existsSync(file)) continue;
    fs.rmSync(file, { force: true });
    repairs.push({ problem: p, action: "removed" });
  }

  for (const p of problems.filter((q) => q.kind === "index-mismatch")) {
    removeIndexFile(path.join(paths.data, p.file));
    repairs.push({ problem: p, action: "removed: the next start rebuilds it from the segments" });
  }

  const orphans = problems.filter((q) => q.kind === "orphan-blob");
  if (orphans.length > 0) {
    // the segments again, after the rewrite: a blob any accepted record names is never moved
    const scan = scanSegments(paths);
    const target = path.join(paths.corrupt, "blobs");
    for (const p of orphans) {
      const file = path.join(paths.data, p.file);
      const name = path.basename(file);
      if (
        path.dirname(file) !== paths.blobs ||
        scan.blobRefs.has(name) ||
        scan.maybeReferenced.has(name) ||
        !fs.existsSync(file)
      )
        continue;
      fs.mkdirSync(target, { recursive: true });
      const moved = freeName(target, name);
      fs.renameSync(file, moved);
      repairs.push({ problem: p, action: `moved to ${path.relative(paths.data, moved)}` });
    }
    if (repairs.some((r) => r.problem.kind === "orphan-blob")) {
      fsyncDirSync(target);
      fsyncDirSync(paths.blobs);
    }
  }
  return repairs;
}

/** Rewrites one segment without the named lines, each copied to corrupt/ first. */
function rewriteSegment(paths: SpoolPaths, relFile: string, problems: Problem[]): Repair[] {
  const file = path.join(paths.data, relFile);
  const dir = path.dirname(file);
  if ((dir !== paths.spool && dir !== paths.archive) || !fs.existsSync(file)) return [];
  const data = fs.readFileSync(file);
  const wanted = new Map(problems.map((p) => [p.offset, p]));
  const kept: Buffer[] = [];
  const repairs: Repair[] = [];
  const prefix = dir === paths.archive ? "archive-" : "";
  fs.mkdirSync(paths.corrupt, { recursive: true });
  let offset = 0;
  while (offset < data.length) {
    const newline = data.indexOf(0x0a, offset);
    const end = newline < 0 ? data.length : newline + 1;
    const bytes = data.subarray(offset, end);
    const problem = wanted.get(offset);
    // only what still fails to decode goes (a newer-version line is not corrupt)
    const decoded = newline < 0 ? null : decodeRecord(data.toString("utf8", offset, newline));
    const bad = problem !== undefined && (decoded === null || (!decoded.ok && decoded.reason !== "version"));
    if (bad) {
      const target = quarantine(
        paths.corrupt,
        `${prefix}${path.basename(file)}@${offset}`,
        bytes,
        `fsck --repair: ${problem.kind}: ${problem.detail} (${relFile} at offset ${offset})\n`,
      );
      repairs.push({ problem, action: `quarantined to ${path.relative(paths.data, target)}` });
    } else {
      kept.push(bytes);
    }
    offset = end;
  }
  if (repairs.length === 0) return [];
  fsyncDirSync(paths.corrupt);
  // retention of archive/ goes by mtime: the rewritten segment keeps its times
  writeFileDurablySync(file, Buffer.concat(kept), fs.statSync(file));
  return repairs;
}

/** Writes (and fsyncs) bytes to corrupt/<name>, or reuses it when recovery already copied the same bytes there. */
function quarantine(corruptDir: string, name: string, bytes: Buffer, reason: string): string {
  let target = path.join(corruptDir, name);
  for (let n = 1; fs.existsSync(target); n += 1) {
    if (fs.readFileSync(target).equals(bytes)) break;
    target = path.join(corruptDir, `${name}.${n}`);
  }
  const fd = fs.openSync(target, "w");
  try {
    fs.writeSync(fd, bytes);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.writeFileSync(`${target}.reason.txt`, reason);
  return target;
}

function freeName(dir: string, name: string): string {
  let target = path.join(dir, name);
  for (let n = 1; fs.existsSync(target); n += 1) target = path.join(dir, `${name}.${n}`);
  return target;
}

function isTempFile(paths: SpoolPaths, file: string): boolean {
  const dir = path.dirname(file);
  const name = path.basename(file);
  if (dir === paths.blobs) return name.startsWith(blobTempPrefix);
  return [paths.spool, paths.archive, paths.outbox, paths.failed].includes(dir) && name.endsWith(".tmp");
}
