// Bytes the data directory holds where they matter to an operator: live segments in spool/,
// archive/, and blobs/ (attachment bodies and raw messages). Regular files only, one level
// deep, as the spool writes them; read-only.
import fs from "node:fs";
import path from "node:path";
import { listSegments } from "./segment-files.js";
import type { SpoolPaths } from "./spool.js";

export interface DirUsage {
  bytes: number;
  files: number;
}

export interface DiskUsage {
  /** Live segments (*.jsonl) in spool/. */
  spool: DirUsage & { segments: number };
  /** Everything in archive/: its segments and their totals. */
  archive: DirUsage & { segments: number };
  blobs: DirUsage;
}

function usageOf(dir: string): DirUsage {
  const usage = { bytes: 0, files: 0 };
  let names: fs.Dirent[];
  try {
    names = fs.readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return usage;
    throw error;
  }
  for (const entry of names) {
    if (!entry.isFile()) continue;
    try {
      usage.bytes += fs.statSync(path.join(dir, entry.name)).size;
      usage.files += 1;
    } catch (error) {
      // removed since it was listed (compaction, an upload's temp file): not there any more
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }
  return usage;
}

const segmentsIn = (dir: string) => (fs.existsSync(dir) ? listSegments(dir).length : 0);

export function diskUsage(paths: SpoolPaths): DiskUsage {
  return {
    spool: { ...usageOf(paths.spool), segments: segmentsIn(paths.spool) },
    archive: { ...usageOf(paths.archive), segments: segmentsIn(paths.archive) },
    blobs: usageOf(paths.blobs),
  };
}
