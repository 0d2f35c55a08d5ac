// pickup/rejected/: where an unusable pickup entry goes, whatever it is (file, directory,
// FIFO, symlink — rename moves the entry itself, never what a link points to), with
// <name>.reason.txt beside it. An earlier rejection under the same name is kept: the entry
// then gets a time suffix. A name is at most 255 bytes, so an entry whose name leaves no room
// for those suffixes is stored under a shortened name (a prefix, "~" and a hash of the whole
// name); the reason file always ends with the original name. rejected/ itself must be a real
// directory (not a symlink), and the reason file is created exclusively, so nothing planted
// there is followed or overwritten. It appears whole: written under a hidden temporary name,
// then hard-linked to its own (link, unlike rename, refuses a name that exists).
import { createHash, randomUUID } from "node:crypto";
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

/** The longest file name in bytes on Linux and macOS file systems (NAME_MAX). */
export const maxNameBytes = 255;
const reasonSuffix = ".reason.txt";
const reasonFile = (dir: string, name: string) => path.join(dir, `${name}${reasonSuffix}`);

/** The longest prefix of `text` within `bytes` UTF-8 bytes, cut between characters. */
function prefixWithin(text: string, bytes: number): string {
  let prefix = "";
  let used = 0;
  for (const character of text) {
    used += Buffer.byteLength(character);
    if (used > bytes) break;
    prefix += character;
  }
  return prefix;
}

/**
 * `name` + `suffix` when the reason file's name beside it fits in maxNameBytes, else the name
 * shortened: as much of it as fits, "~", 16 hex digits of its sha256 (so two long names with
 * the same start stay apart) and its .json ending.
 */
export function rejectedName(name: string, suffix = ""): string {
  const room = maxNameBytes - Buffer.byteLength(reasonSuffix + suffix);
  if (Buffer.byteLength(name) <= room) return name + suffix;
  const tag = `~${createHash("sha256").update(name).digest("hex").slice(0, 16)}${name.endsWith(".json") ? ".json" : ""}`;
  return prefixWithin(name, room - tag.length) + tag + suffix;
}

/** A free name in rejected/ for the entry and its reason file. */
async function freeName(rejected: string, name: string, now: number): Promise<string> {
  const candidates = [rejectedName(name), rejectedName(name, `.${now}`)];
  for (const candidate of candidates) {
    const taken = (await exists(path.join(rejected, candidate))) || (await exists(reasonFile(rejected, candidate)));
    if (!taken) return candidate;
  }
  throw new Error(`rejected/${candidates[0]} and rejected/${candidates[1]} are both taken`);
}

/**
 * Creates `file` (never over an existing one) with `text`, so that a reader sees it whole or
 * not at all; on a file system without hard links, created exclusively and then written.
 */
async function writeWhole(dir: string, file: string, text: string): Promise<void> {
  const temp = path.join(dir, `.reason-${randomUUID()}.tmp`);
  try {
    await fs.promises.writeFile(temp, text, { flag: "wx" });
    await fs.promises.link(temp, file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "ENOSYS") throw error;
    await fs.promises.writeFile(file, text, { flag: "wx" });
  } finally {
    await fs.promises.rm(temp, { force: true });
  }
}

/**
 * Moves pickup/<name> into rejected/, its reason written first (so an entry gone from pickup/
 * has its reason beside it, ending with the entry's name in pickup/ as a JSON string), and
 * returns the name it got there. Throws when it cannot be moved, leaving nothing in rejected/.
 */
export async function moveToRejected(
  pickupDir: string,
  name: string,
  reason: string,
  /** The entry's name as bytes, when they are not UTF-8 (`name` is then only how it is shown). */
  rawName?: Buffer,
): Promise<string> {
  const rejected = path.join(pickupDir, "rejected");
  await ensureDirectory(rejected);
  const target = await freeName(rejected, name, Date.now());
  const reasonPath = reasonFile(rejected, target);
  await writeWhole(rejected, reasonPath, `${reason}file: ${JSON.stringify(name)}\n`);
  const source = rawName
    ? Buffer.concat([Buffer.from(`${pickupDir}${path.sep}`), rawName])
    : path.join(pickupDir, name);
  try {
    await fs.promises.rename(source, path.join(rejected, target));
  } catch (error) {
    await fs.promises.rm(reasonPath, { force: true });
    throw error;
  }
  return target;
}
