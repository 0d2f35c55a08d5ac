// One pickup entry → its bytes, or a refusal saying why. Only a regular file with a single
// link is read: the entry is lstat'ed first (a symlink, directory, FIFO, socket or device is
// refused without being opened, and a symlink is never followed), then opened with
// O_NOFOLLOW|O_NONBLOCK and checked again on the descriptor, so a swap between the lstat and
// the open cannot slip a FIFO, a device or a symlink in. The size is checked before reading,
// and no more than the limit (+1 byte, to notice growth) is ever read. A refusal never
// quotes the content of the entry or of whatever it points to.
import fs from "node:fs";
import { MailspoolError } from "../errors.js";

/**
 * A pickup file carries the JSON API's fields with attachments in base64, which grows them
 * by 4/3; 1 MiB more covers the JSON around them. So a pickup file can carry as much as a
 * multipart request of server.maxBodyBytes, whose attachments travel as raw bytes.
 */
export function pickupMaxBytes(maxBodyBytes: number): number {
  return Math.ceil(maxBodyBytes / 3) * 4 + 1024 * 1024;
}

const openFlags =
  fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK | (fs.constants.O_NOCTTY ?? 0);

const symlink = "a symbolic link (never followed)";

function kindOf(stats: fs.Stats): string {
  if (stats.isSymbolicLink()) return symlink;
  if (stats.isDirectory()) return "a directory";
  if (stats.isFIFO()) return "a FIFO (named pipe)";
  if (stats.isSocket()) return "a socket";
  if (stats.isCharacterDevice()) return "a character device";
  if (stats.isBlockDevice()) return "a block device";
  return "not a regular file";
}

const notRegular = (kind: string) =>
  new MailspoolError("invalid_param", `the entry is ${kind}; pickup takes regular files only`);

/** Why this entry cannot be a pickup file, or null when it may be read. */
export function refusalOf(stats: fs.Stats, maxBytes: number): MailspoolError | null {
  if (!stats.isFile()) return notRegular(kindOf(stats));
  if (stats.nlink > 1)
    return new MailspoolError(
      "invalid_param",
      `the file has ${stats.nlink} hard links; pickup takes a file with a single link (copy it in, do not link it)`,
    );
  if (stats.size > maxBytes)
    return new MailspoolError(
      "too_large",
      `the file is ${stats.size} bytes, over the pickup limit of ${maxBytes} bytes (4/3 of server.maxBodyBytes plus 1 MiB)`,
    );
  return null;
}

/** A pickup entry that changed while it was read: tried again at the next scan, not rejected. */
export class EntryChanged extends Error {}

/** Reads a pickup entry that lstat already found acceptable; throws the refusal otherwise. */
export async function readPickupEntry(file: string, maxBytes: number): Promise<Buffer> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(file, openFlags);
  } catch (error) {
    // O_NOFOLLOW: a symlink swapped in after the lstat
    if ((error as NodeJS.ErrnoException).code === "ELOOP") throw notRegular(symlink);
    throw error;
  }
  try {
    const stats = await handle.stat();
    const refusal = refusalOf(stats, maxBytes);
    if (refusal) throw refusal;
    const buffer = Buffer.alloc(stats.size + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length !== stats.size) throw new EntryChanged("the file changed size while it was read (still being written?)");
    return buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
}
