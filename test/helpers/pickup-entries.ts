// Pickup entries of every kind the watcher may meet, made for real on disk: regular files
// (valid mail, malformed JSON, invalid fields, over the size limit as a sparse file), a
// directory, a FIFO, a socket, symlinks (to a file outside pickup/, to a valid mail, to
// /dev/zero, to /dev/null) and a hard link. Regular files land by rename, as an operator's
// `mv` does, so the watcher never sees half a file.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";

export const entryKinds = [
  "valid",
  "invalid-json",
  "invalid-fields",
  "oversize",
  "directory",
  "fifo",
  "socket",
  "symlink-to-outside",
  "symlink-to-valid",
  "symlink-to-dev-zero",
  "symlink-to-dev-null",
  "hard-link",
] as const;
export type EntryKind = (typeof entryKinds)[number];

/** What each refused kind's reason file must say. */
export const reasonPattern: Record<Exclude<EntryKind, "valid">, RegExp> = {
  "invalid-json": /^malformed JSON: .* at line \d+, column \d+/,
  "invalid-fields": /receiver/,
  oversize: /the file is \d+ bytes, over the pickup limit of \d+ bytes/,
  directory: /the entry is a directory; pickup takes regular files only/,
  fifo: /the entry is a FIFO \(named pipe\); pickup takes regular files only/,
  socket: /the entry is a socket; pickup takes regular files only/,
  "symlink-to-outside": /the entry is a symbolic link \(never followed\)/,
  "symlink-to-valid": /the entry is a symbolic link \(never followed\)/,
  "symlink-to-dev-zero": /the entry is a symbolic link \(never followed\)/,
  "symlink-to-dev-null": /the entry is a symbolic link \(never followed\)/,
  "hard-link": /the file has 2 hard links/,
};

export interface EntryContext {
  pickup: string;
  /** A directory outside pickup/ for link targets. */
  outside: string;
  /** The pickup limit of the relay under test, in bytes. */
  maxBytes: number;
  /** Written only into link targets outside pickup/: must show up nowhere under data/ nor in a log. */
  secret: string;
  /** Written into refused regular files: may stay in the refused file itself, never in a reason or a log. */
  own: string;
  /** Sockets to close at the end of the test. */
  servers: net.Server[];
}

export const validMail = (subject: string, receiver = "pickup@example.com") =>
  JSON.stringify({ title: subject, content: `<p>${subject}</p>`, receiver });

function landByRename(context: EntryContext, name: string, content: string): void {
  const temp = path.join(context.pickup, `.${name}.tmp`);
  fs.writeFileSync(temp, content);
  fs.renameSync(temp, path.join(context.pickup, name));
}

/** Creates pickup/<name> of the given kind; the subject is the mail's title where there is one. */
export async function makeEntry(context: EntryContext, name: string, kind: EntryKind, subject: string): Promise<void> {
  const file = path.join(context.pickup, name);
  const outsideFile = path.join(context.outside, `${name}.target`);
  switch (kind) {
    case "valid":
      return landByRename(context, name, validMail(subject));
    case "invalid-json":
      return landByRename(context, name, `{"title": "${context.own}",\n "receiver": ${context.own} }`);
    case "invalid-fields":
      return landByRename(context, name, JSON.stringify({ title: subject, content: context.own }));
    case "oversize": {
      const temp = path.join(context.pickup, `.${name}.tmp`);
      fs.writeFileSync(temp, "");
      fs.truncateSync(temp, context.maxBytes + 1);
      return fs.renameSync(temp, file);
    }
    case "directory":
      fs.mkdirSync(file);
      return fs.writeFileSync(path.join(file, "inside.json"), validMail(subject));
    case "fifo": {
      const made = spawnSync("mkfifo", [file]);
      if (made.status !== 0) throw new Error(`mkfifo failed: ${made.stderr}`);
      return;
    }
    case "socket": {
      const server = net.createServer();
      context.servers.push(server);
      await new Promise<void>((resolve) => server.listen(file, resolve));
      return;
    }
    case "symlink-to-outside":
      fs.writeFileSync(outsideFile, `${context.secret} {"title": "${context.secret}"`);
      return fs.symlinkSync(outsideFile, file);
    case "symlink-to-valid":
      fs.writeFileSync(outsideFile, validMail(subject));
      return fs.symlinkSync(outsideFile, file);
    case "symlink-to-dev-zero":
      return fs.symlinkSync("/dev/zero", file);
    case "symlink-to-dev-null":
      return fs.symlinkSync("/dev/null", file);
    case "hard-link":
      fs.writeFileSync(outsideFile, validMail(subject));
      return fs.linkSync(outsideFile, file);
  }
}

/** Every file under dir that is safe to read (regular, not huge), with its path; symlinks and FIFOs are skipped. */
export function readableFiles(dir: string, maxBytes = 1024 * 1024): { file: string; text: string }[] {
  const found: { file: string; text: string }[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...readableFiles(file, maxBytes));
    else if (entry.isFile() && fs.lstatSync(file).size <= maxBytes)
      found.push({ file, text: fs.readFileSync(file, "latin1") });
  }
  return found;
}
