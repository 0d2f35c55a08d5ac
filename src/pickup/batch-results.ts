// pickup/done/<name>: what the server did with each request of a batch file, written (temp
// file, rename) before the batch file is removed, so whoever dropped it — `mailspool replay`
// and `cancel` wait for it — finds a verdict per mail once the file is gone. The reader
// removes the result it read; whatever is left is pruned: older than a day, or beyond the
// newest 1,000. A result lists at most maxBatchRequests short entries, so it stays small.
import fs from "node:fs";
import path from "node:path";

export type BatchOutcome =
  | { id: string; action: "replay"; outcome: "replayed"; recipients: number }
  | { id: string; action: "cancel"; outcome: "cancelled" | "already-cancelled" }
  /** Done by an earlier ingestion of this very file (a crash or I/O error came between). */
  | { id: string; action: "replay" | "cancel"; outcome: "done-before" }
  | { id: string; action: "replay" | "cancel"; outcome: "refused"; reason: string };

export interface BatchResult {
  file: string;
  finishedAt: string;
  results: BatchOutcome[];
}

export const resultsDir = (pickupDir: string): string => path.join(pickupDir, "done");
export const resultFile = (pickupDir: string, name: string): string => path.join(resultsDir(pickupDir), name);

const keepMs = 24 * 3600 * 1000;
const keepCount = 1_000;

export async function writeBatchResult(pickupDir: string, result: BatchResult): Promise<void> {
  const dir = resultsDir(pickupDir);
  await fs.promises.mkdir(dir, { recursive: true });
  const temp = path.join(dir, `.${result.file}.tmp`);
  await fs.promises.writeFile(temp, `${JSON.stringify(result)}\n`);
  await fs.promises.rename(temp, resultFile(pickupDir, result.file));
}

/** Removes results (and stray temp files) older than a day, then the oldest beyond the newest 1,000. */
export async function pruneBatchResults(pickupDir: string, now = Date.now()): Promise<number> {
  const dir = resultsDir(pickupDir);
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw error;
  }
  const entries: { file: string; mtimeMs: number }[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    const stats = await fs.promises.lstat(file).catch(() => null);
    if (stats?.isFile()) entries.push({ file, mtimeMs: stats.mtimeMs });
  }
  entries.sort((a, b) => b.mtimeMs - a.mtimeMs);
  const stale = entries.filter((e, at) => at >= keepCount || now - e.mtimeMs > keepMs);
  await Promise.all(stale.map((e) => fs.promises.rm(e.file, { force: true })));
  return stale.length;
}
