// pickup/rejected/: where an unusable pickup entry goes, whatever it is (file, directory,
// FIFO, symlink — rename moves the entry itself, never what a link points to), with
// <name>.reason.txt beside it. An earlier rejection under the same name is kept: the entry
// then gets a time suffix. rejected/ itself must be a real directory (not a symlink), and
// the reason file is created exclusively, so nothing planted there is followed or overwritten.
import fs from "node:fs";
import path from "node:path";

async function exists(file: string): Promise<boolean> {
  try {
    await fs.promises.lstat(file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
}

async function ensureDirectory(dir: string): Promise<void> {
  try {
    if (!(await fs.promises.lstat(dir)).isDirectory()) throw new Error(`${dir} exists and is not a directory`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    await fs.promises.mkdir(dir);
  }
}

/** A free name in rejected/ for the entry and its reason file. */
async function freeName(rejected: string, name: string, now: number): Promise<string> {
  for (const candidate of [name, `${name}.${now}`]) {
    const taken = (await exists(path.join(rejected, candidate))) || (await exists(reasonFile(rejected, candidate)));
    if (!taken) return candidate;
  }
  throw new Error(`rejected/${name} and rejected/${name}.${now} are both taken`);
}

const reasonFile = (dir: string, name: string) => path.join(dir, `${name}.reason.txt`);

/**
 * Moves pickup/<name> into rejected/, its reason written first (so an entry gone from pickup/
 * has its reason beside it), and returns the name it got there. Throws when it cannot be
 * moved, leaving nothing in rejected/.
 */
export async function moveToRejected(pickupDir: string, name: string, reason: string): Promise<string> {
  const rejected = path.join(pickupDir, "rejected");
  await ensureDirectory(rejected);
  const target = await freeName(rejected, name, Date.now());
  const reasonPath = reasonFile(rejected, target);
  await fs.promises.writeFile(reasonPath, reason, { flag: "wx" });
  try {
    await fs.promises.rename(path.join(pickupDir, name), path.join(rejected, target));
  } catch (error) {
    await fs.promises.rm(reasonPath, { force: true });
    throw error;
  }
  return target;
}
