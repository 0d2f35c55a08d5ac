// Promise wrappers over the callback fs calls on the durable path (the callback forms
// are the cheapest in both Node and Bun), plus directory fsync.
import fs from "node:fs";
import path from "node:path";

export function writeAt(fd: number, buffer: Buffer, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.write(fd, buffer, 0, buffer.length, position, (error, written) => (error ? reject(error) : resolve(written)));
  });
}

export function fdatasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (error) => (error ? reject(error) : resolve())));
}

export function fsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fsync(fd, (error) => (error ? reject(error) : resolve())));
}

/** Makes a rename or file creation in `dir` durable. */
export function fsyncDirSync(dir: string): void {
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export async function fsyncDir(dir: string): Promise<void> {
  const handle = await fs.promises.open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Replaces `file` durably: a temp file beside it, fsync'd, renamed over it, the directory fsync'd. */
export function writeFileDurablySync(file: string, data: string | Buffer, keepTimesOf?: fs.Stats): void {
  const temp = `${file}.tmp`;
  const fd = fs.openSync(temp, "w");
  try {
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  if (keepTimesOf) fs.utimesSync(temp, keepTimesOf.atime, keepTimesOf.mtime);
  fs.renameSync(temp, file);
  fsyncDirSync(path.dirname(file));
}

/** The same without blocking the event loop. */
export async function writeFileDurably(file: string, data: string | Buffer): Promise<void> {
  const temp = `${file}.tmp`;
  const handle = await fs.promises.open(temp, "w");
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.promises.rename(temp, file);
  await fsyncDir(path.dirname(file));
}
