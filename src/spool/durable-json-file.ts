// A lowdb adapter whose writes survive a crash or power loss: the one durable-write helper
// (temp file, fsync, rename, directory fsync) instead of lowdb's rename without fsync.
// Reading a missing file gives null (lowdb's default data); a file that is not JSON throws.
import fs from "node:fs";
import type { Adapter } from "lowdb";
import { writeFileDurably } from "./fsync.js";

export class DurableJSONFile<T> implements Adapter<T> {
  /** Writes go one after the other (they share one temp file name). */
  private writing: Promise<unknown> = Promise.resolve();

  constructor(private readonly file: string) {}

  async read(): Promise<T | null> {
    let text: string;
    try {
      text = await fs.promises.readFile(this.file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
    return JSON.parse(text) as T;
  }

  write(data: T): Promise<void> {
    const text = `${JSON.stringify(data, null, 2)}\n`;
    const written = this.writing.then(() => writeFileDurably(this.file, text));
    this.writing = written.catch(() => undefined);
    return written;
  }
}
