// Content-addressed attachment store: blobs/<sha256>. A blob is written to a temp file,
// fsync'd, renamed into place and the directory fsync'd before any record names it.
import { createHash, type Hash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { ulid } from "ulid";
import { fsyncDir } from "./fsync.js";

export const blobTempPrefix = ".tmp-";

export class BlobStore {
  constructor(readonly dir: string) {}

  pathOf(sha256: string): string {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`not a sha256: ${sha256}`);
    return path.join(this.dir, sha256);
  }

  async read(sha256: string): Promise<Buffer> {
    return fs.promises.readFile(this.pathOf(sha256));
  }

  /** Starts a streamed blob; the caller writes chunks, then commits or discards it. */
  async create(): Promise<BlobWriter> {
    const tempPath = path.join(this.dir, `${blobTempPrefix}${ulid()}`);
    const handle = await fs.promises.open(tempPath, "wx");
    return new BlobWriter(this, tempPath, handle);
  }

  /**
   * Removes the temp files of uploads that were in flight when the last process ended (a
   * forced exit at the shutdown deadline, kill -9). Only at start, under the lock: no upload
   * can be in flight then. Returns how many were removed.
   */
  removeLeftoverTemps(): number {
    const leftovers = fs.readdirSync(this.dir).filter((name) => name.startsWith(blobTempPrefix));
    for (const name of leftovers) fs.rmSync(path.join(this.dir, name), { force: true });
    return leftovers.length;
  }

  /** Makes renames into the blob directory durable; once per request that stored blobs. */
  syncDir(): Promise<void> {
    return fsyncDir(this.dir);
  }
}

export class BlobWriter {
  private readonly hash: Hash = createHash("sha256");
  private size = 0;
  private digest: string | null = null;
  private done = false;

  constructor(
    private readonly store: BlobStore,
    private readonly tempPath: string,
    private readonly handle: fs.promises.FileHandle,
  ) {}

  /** Writes the whole chunk: a short write is continued, a write of nothing is a full disk. */
  async write(chunk: Uint8Array): Promise<void> {
    this.hash.update(chunk);
    this.size += chunk.length;
    for (let done = 0; done < chunk.length;) {
      const { bytesWritten } = await this.handle.write(chunk, done, chunk.length - done);
      if (bytesWritten === 0)
        throw Object.assign(new Error("no space left while writing a blob"), { code: "ENOSPC", syscall: "write" });
      done += bytesWritten;
    }
  }

  /** The blob's identity once every chunk is written; nothing is durable yet. */
  end(): { sha256: string; size: number } {
    this.digest ??= this.hash.digest("hex");
    return { sha256: this.digest, size: this.size };
  }

  /** fsyncs and renames the blob into place; the directory fsync is the caller's (syncDir). */
  async commit(): Promise<{ sha256: string; size: number }> {
    this.done = true;
    const { sha256 } = this.end();
    try {
      try {
        await this.handle.sync();
      } finally {
        await this.handle.close();
      }
      await fs.promises.rename(this.tempPath, this.store.pathOf(sha256));
    } catch (error) {
      // a blob that could not be made durable is not one: leave no temp file behind
      await fs.promises.rm(this.tempPath, { force: true });
      throw error;
    }
    return { sha256, size: this.size };
  }

  async discard(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.handle.close().catch(() => undefined);
    await fs.promises.rm(this.tempPath, { force: true });
  }
}
