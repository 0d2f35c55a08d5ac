// Waiting for the server's verdict on the files `replay` and `cancel` wrote: a file gone from
// pickup/ was ingested, and its result (pickup/done/<name>, written before the file is
// removed) says what happened to each mail; a refused file is in pickup/rejected/ with its
// reason (written before it is moved). The wait ends when every file has a verdict, when no
// verdict came for `idleMs` (a busy or stuck server: the files stay and are still ingested),
// or when the server stops.
import fs from "node:fs";
import path from "node:path";
import { resultFile, type BatchOutcome, type BatchResult } from "../pickup/batch-results.js";
import { lockHolder } from "../spool/lock.js";
import type { Submitted } from "./pickup-submit.js";

export type FileVerdict =
  | { file: Submitted; kind: "done"; results: BatchOutcome[] }
  | { file: Submitted; kind: "rejected"; reason: string }
  /** Gone without a result or a reason: removed by someone else. */
  | { file: Submitted; kind: "vanished" };

export interface WaitOutcome {
  verdicts: FileVerdict[];
  /** Files still in pickup/ when the wait ended. */
  pending: Submitted[];
  serverStopped: boolean;
}

export interface WaitOptions {
  pickupDir: string;
  lockFile: string;
  idleMs: number;
  pollMs?: number;
  /** Requests with a verdict so far. */
  onProgress?: (requestsDone: number) => void;
}

const readIfThere = (file: string): string | null => {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return null;
    throw error;
  }
};

/** The verdict on a file, or null while it waits in pickup/. The reader removes the result it read. */
function verdictOn(file: Submitted, pickupDir: string): FileVerdict | null {
  if (fs.existsSync(path.join(pickupDir, file.name))) return null;
  const resultPath = resultFile(pickupDir, file.name);
  const result = readIfThere(resultPath);
  if (result !== null) {
    fs.rmSync(resultPath, { force: true });
    return { file, kind: "done", results: (JSON.parse(result) as BatchResult).results };
  }
  const reason = readIfThere(path.join(pickupDir, "rejected", `${file.name}.reason.txt`));
  return reason === null ? { file, kind: "vanished" } : { file, kind: "rejected", reason: reason.trim() };
}

export async function waitForVerdicts(files: Submitted[], options: WaitOptions): Promise<WaitOutcome> {
  const verdicts: FileVerdict[] = [];
  let pending = files;
  let lastVerdictAt = Date.now();
  let requestsDone = 0;
  for (let last = false; ;) {
    // after the server stopped, one more look: it may have ingested files since the last one
    if (!last && lockHolder(options.lockFile) === null) last = true;
    const still: Submitted[] = [];
    for (const file of pending) {
      const verdict = verdictOn(file, options.pickupDir);
      if (!verdict) still.push(file);
      else {
        verdicts.push(verdict);
        requestsDone += file.requests.length;
        lastVerdictAt = Date.now();
      }
    }
    pending = still;
    options.onProgress?.(requestsDone);
    if (pending.length === 0) return { verdicts, pending, serverStopped: false };
    if (last) return { verdicts, pending, serverStopped: true };
    if (Date.now() - lastVerdictAt >= options.idleMs) return { verdicts, pending, serverStopped: false };
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 100));
  }
}
