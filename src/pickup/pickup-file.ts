// Writing a pickup file the safe way: a dot-temp file first (ignored by the watcher),
// fsync'd, then renamed to *.json, so the server never reads a half-written file. Names
// sort in the order written (a monotonic ULID), which is the order the server takes them.
import fs from "node:fs";
import path from "node:path";
import { monotonicFactory } from "ulid";
import { fsyncDirSync } from "../spool/fsync.js";

const ulid = monotonicFactory();

export function writePickupFile(dir: string, prefix: string, content: unknown): string {
  fs.mkdirSync(dir, { recursive: true });
  const name = `${prefix}-${ulid()}.json`;
  const temp = path.join(dir, `.${name}.tmp`);
  const fd = fs.openSync(temp, "wx");
  try {
    fs.writeFileSync(fd, `${JSON.stringify(content)}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(temp, path.join(dir, name));
  fsyncDirSync(dir);
  return name;
}
