// fsck of a data directory: every segment line (terminated, checksummed, parsed, known
// version), every blob an accepted record in spool/ names (present, size, sha256), blobs
// nothing names, leftover temp files, records whose mail has no accepted record, and the
// index against the segments.
// Read-only; `repairDataDir` (fsck-repair.ts) acts on what this finds.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { blobTempPrefix } from "./blobs.js";
import { decodeRecord } from "./record.js";
import { listSegments, segmentName, terminatedLines } from "./segment-files.js";
import { checkIndexFile } from "./index-check.js";
import { indexFile, type SpoolPaths } from "./spool.js";

export { repairDataDir, type Repair } from "./fsck-repair.js";

export const problemKinds = [
  "unterminated-line",
  "corrupt-line",
  "newer-version",
  "missing-blob",
  "blob-size",
  "blob-sha256",
  "orphan-blob",
  "temp-file",
  "orphan-record",
  "index-mismatch",
] as const;
export type ProblemKind = (typeof problemKinds)[number];

export interface Problem {
  kind: ProblemKind;
  /** Relative to the data directory: spool/000001.jsonl, blobs/<sha256>, … */
  file: string;
  /** Byte offset of the line in a segment. */
  offset?: number;
  detail: string;
}

/** Kinds that are reported but are not failures (exit 0 when only these remain). */
const warningKinds: ReadonlySet<ProblemKind> = new Set<ProblemKind>(["orphan-record"]);
export const severityOf = (kind: ProblemKind): "error" | "warning" => (warningKinds.has(kind) ? "warning" : "error");

export interface CheckOptions {
  /** A server holds the lock: skip files a request may still be writing (young temp files and
   *  unreferenced blobs, the newest segment's unterminated tail). */
  live?: boolean;
  now?: number;
  /** Called as segments are read and blobs checked: files done of about `total` (segments + blobs). */
  onProgress?: (done: number, total: number) => void;
}

export interface CheckStats {
  segments: number;
  records: number;
  blobs: number;
}

/** What the segments say: used by the checker and, to stay safe, again by the repair. */
export interface SegmentScan {
  problems: Problem[];
  records: number;
  /** Ids with an accepted record, in spool/ or archive/. */
  accepted: Set<string>;
  /** sha256 → who references it (accepted records in spool/ only; archived attachments carry no bytes). */
  blobRefs: Map<string, { id: string; filename: string; size: number }[]>;
  /** 64-hex strings inside records of a newer version: possibly blob references, never orphaned. */
  maybeReferenced: Set<string>;
  /** 64-hex strings inside corrupt or torn lines → where: a hint for whoever restores that mail. */
  namedByDamaged: Map<string, string>;
}

/** Files younger than this may belong to a request in flight (as in compact.ts). */
export const liveGraceMs = 10 * 60_000;
const shaPattern = /^[0-9a-f]{64}$/;

export function checkDataDir(paths: SpoolPaths, options: CheckOptions = {}): Problem[] {
  return scanDataDir(paths, options).problems;
}

export function scanDataDir(paths: SpoolPaths, options: CheckOptions = {}): { problems: Problem[]; stats: CheckStats } {
  const now = options.now ?? Date.now();
  const young = (file: string) => options.live === true && now - statOf(file).mtimeMs < liveGraceMs;
  const blobNames = readdir(paths.blobs);
  const total = listSegmentsIn(paths.spool).length + listSegmentsIn(paths.archive).length + blobNames.length;
  let done = 0;
  const tick = () => options.onProgress?.(Math.min((done += 1), total), total);
  const scan = scanSegments(paths, options.live === true, tick);
  const problems = [...scan.problems];
  const rel = (file: string) => path.relative(paths.data, file);

  for (const [sha, refs] of scan.blobRefs) {
    problems.push(...checkBlob(paths, sha, refs));
    tick();
  }
  for (const name of blobNames) {
    const file = path.join(paths.blobs, name);
    if (name.startsWith(blobTempPrefix)) {
      if (!young(file))
        problems.push({ kind: "temp-file", file: rel(file), detail: "an attachment upload that never completed" });
    } else if (!scan.blobRefs.has(name) && !scan.maybeReferenced.has(name) && !young(file)) {
      const damaged = scan.namedByDamaged.get(name);
      problems.push({
        kind: "orphan-blob",
        file: rel(file),
        detail: `no accepted record in spool/ refers to it${damaged ? ` (the damaged line ${damaged} names it)` : ""}`,
      });
    }
  }
  for (const dir of [paths.spool, paths.archive, paths.outbox, paths.failed]) {
    for (const name of readdir(dir)) {
      const file = path.join(dir, name);
      if (name.endsWith(".tmp") && !young(file))
        problems.push({ kind: "temp-file", file: rel(file), detail: "a write that was never renamed into place" });
    }
  }
  problems.push(...checkIndex(paths));
  const segments = listSegmentsIn(paths.spool).length + listSegmentsIn(paths.archive).length;
  return {
    problems,
    stats: { segments, records: scan.records, blobs: blobNames.filter((n) => !n.startsWith(blobTempPrefix)).length },
  };
}

/** The index must hold what the segments fold to (index-check.ts); a missing one is built at the next start. */
function checkIndex(paths: SpoolPaths): Problem[] {
  const file = indexFile(paths.data);
  const problem = (detail: string): Problem[] => [{ kind: "index-mismatch", file: path.basename(file), detail }];
  const fix = "mailspool reindex (or fsck --repair) rebuilds it from the segments";
  try {
    const check = checkIndexFile(paths, file);
    if (!check || check.differing.length === 0) return [];
    return problem(
      `${check.differing.length} mail(s) differ from what the segments say (first: ${check.differing[0]}); ${fix}`,
    );
  } catch (error) {
    return problem(`unreadable (${(error as Error).message}); ${fix}`);
  }
}

/** Reads spool/ then archive/ line by line. `live`: the newest spool segment's unterminated tail is a write in flight. */
export function scanSegments(paths: SpoolPaths, live = false, onSegment?: () => void): SegmentScan {
  const scan: SegmentScan = {
    problems: [],
    records: 0,
    accepted: new Set(),
    blobRefs: new Map(),
    maybeReferenced: new Set(),
    namedByDamaged: new Map(),
  };
  const followers: { id: string; type: string; file: string; offset: number }[] = [];
  const liveSegments = listSegmentsIn(paths.spool);
  for (const [dir, archived] of [
    [paths.spool, false],
    [paths.archive, true],
  ] as const) {
    for (const segment of listSegmentsIn(dir)) {
      const file = path.join(dir, segmentName(segment));
      const name = path.relative(paths.data, file);
      let data: Buffer;
      try {
        data = fs.readFileSync(file);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") continue; // archived while we read
        throw error;
      }
      let offset = 0;
      for (const { line, offset: at, next } of terminatedLines(data)) {
        offset = at;
        const decoded = decodeRecord(line);
        if (!decoded.ok && decoded.reason === "version") {
          scan.problems.push({ kind: "newer-version", file: name, offset, detail: decoded.detail });
          for (const hex of line.match(/[0-9a-f]{64}/g) ?? []) scan.maybeReferenced.add(hex);
        } else if (!decoded.ok) {
          scan.problems.push({
            kind: "corrupt-line",
            file: name,
            offset,
            detail: `${decoded.reason}: ${decoded.detail}`,
          });
          for (const hex of line.match(/[0-9a-f]{64}/g) ?? []) scan.namedByDamaged.set(hex, `${name}@${offset}`);
        } else {
          scan.records += 1;
          const record = decoded.record;
          if (record.type === "accepted") {
            scan.accepted.add(record.id);
            const raw =
              record.mail?.raw && !record.mail.raw.archived
                ? [{ filename: "(raw SMTP message)", ...record.mail.raw }]
                : [];
            if (!archived) addBlobRefs(scan, record.id, [...(record.mail?.attachments ?? []), ...raw]);
          } else {
            followers.push({ id: record.id, type: record.type, file: name, offset });
          }
        }
        offset = next;
      }
      onSegment?.();
      const newest = !archived && segment === liveSegments[liveSegments.length - 1];
      if (offset < data.length && !(live && newest)) {
        for (const hex of data.toString("utf8", offset).match(/[0-9a-f]{64}/g) ?? [])
          scan.namedByDamaged.set(hex, `${name}@${offset}`);
        scan.problems.push({
          kind: "unterminated-line",
          file: name,
          offset,
          detail: `${data.length - offset} byte(s) without a newline at the end (a write cut short; never acknowledged)`,
        });
      }
    }
  }
  for (const f of followers) {
    if (!scan.accepted.has(f.id))
      scan.problems.push({
        kind: "orphan-record",
        file: f.file,
        offset: f.offset,
        detail: `${f.type} record of mail ${f.id}, which has no accepted record in spool/ or archive/`,
      });
  }
  return scan;
}

function addBlobRefs(scan: SegmentScan, id: string, attachments: unknown): void {
  if (!Array.isArray(attachments)) return;
  for (const a of attachments as {
    filename?: string;
    size?: number;
    sha256?: string;
    inline?: string;
    archived?: boolean;
  }[]) {
    if (a.inline !== undefined || a.archived === true) continue;
    const sha = String(a.sha256);
    const refs = scan.blobRefs.get(sha) ?? [];
    refs.push({ id, filename: String(a.filename), size: Number(a.size) });
    scan.blobRefs.set(sha, refs);
  }
}

function checkBlob(paths: SpoolPaths, sha: string, refs: { id: string; filename: string; size: number }[]): Problem[] {
  const first = refs[0]!;
  const who = `attachment "${first.filename}" of mail ${first.id}${refs.length > 1 ? ` (and ${refs.length - 1} more reference(s))` : ""}`;
  if (!shaPattern.test(sha))
    return [
      {
        kind: "missing-blob",
        file: "blobs/",
        detail: `${who} names no valid sha256 (${JSON.stringify(sha).slice(0, 80)})`,
      },
    ];
  const file = path.join(paths.blobs, sha);
  const rel = path.relative(paths.data, file);
  let size: number;
  try {
    size = fs.statSync(file).size;
  } catch {
    return [{ kind: "missing-blob", file: rel, detail: `${who} (${first.size} bytes) is not in blobs/` }];
  }
  if (size !== first.size)
    return [{ kind: "blob-size", file: rel, detail: `is ${size} bytes, ${who} expects ${first.size}` }];
  const actual = sha256OfFile(file);
  if (actual !== sha) return [{ kind: "blob-sha256", file: rel, detail: `content hashes to ${actual}; ${who}` }];
  return [];
}

function sha256OfFile(file: string): string {
  const hash = createHash("sha256");
  const fd = fs.openSync(file, "r");
  try {
    const buffer = Buffer.alloc(1024 * 1024);
    for (let n = fs.readSync(fd, buffer); n > 0; n = fs.readSync(fd, buffer)) hash.update(buffer.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest("hex");
}

function statOf(file: string): { mtimeMs: number } {
  try {
    return fs.statSync(file);
  } catch {
    return { mtimeMs: Date.now() };
  }
}

function readdir(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
}

function listSegmentsIn(dir: string): number[] {
  return fs.existsSync(dir) ? listSegments(dir) : [];
}
