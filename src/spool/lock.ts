// data/lock: one serve per data directory. The file holds the owner's pid; a lock whose
// pid is gone (or is our own, as after a container restart) is stale and taken over.
import fs from "node:fs";
import path from "node:path";

export class LockHeldError extends Error {}

/** Locks this process holds: a lock file with our own pid is stale only if it is not one of them. */
const heldHere = new Set<string>();

export function acquireLock(file: string): () => void {
  const key = path.resolve(file);
  if (heldHere.has(key)) throw new LockHeldError(`this process already holds ${file}`);
  for (let tries = 0; tries < 2; tries += 1) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: "wx" });
      heldHere.add(key);
      return () => {
        heldHere.delete(key);
        releaseLock(file);
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const holder = lockHolder(file);
    if (holder !== null) throw new LockHeldError(`another mailspool (pid ${holder}) holds ${file}`);
    fs.rmSync(file, { force: true });
  }
  throw new LockHeldError(`could not take ${file}`);
}

/** The pid of a live process holding the lock, or null when it is free or stale. */
export function lockHolder(file: string): number | null {
  let pid: number;
  try {
    pid = Number.parseInt(fs.readFileSync(file, "utf8"), 10);
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM" ? pid : null;
  }
}

/** Whether a serve holds the lock: a live process named in it, or this very process (a test running the relay in-process). */
export function lockHeld(file: string): boolean {
  return heldHere.has(path.resolve(file)) || lockHolder(file) !== null;
}

function releaseLock(file: string): void {
  if (lockHolder(file) === null) fs.rmSync(file, { force: true });
}
